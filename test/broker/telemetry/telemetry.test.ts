/**
 * Tracing is configured the standard way: the node reads OTEL_* variables
 * and exports over OTLP. A real `meshgate start` exports to an OTLP/HTTP
 * JSON receiver this test runs on 127.0.0.1.
 */

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { tracingRequested } from '../../../broker/telemetry/internal.js';
import { freePort } from '../../helpers/mesh.js';
import { ce, openClient, runCli } from '../../helpers/node.js';

test('tracing is on only when the environment names a trace exporter or an OTLP endpoint', () => {
  const cases: Array<[Record<string, string>, boolean]> = [
    [{}, false],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'console' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none' }, false],
    [{ OTEL_TRACES_EXPORTER: 'otlp,none' }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }, false],
    [{ OTEL_TRACES_SAMPLER: 'always_on' }, false],
  ];
  for (const [env, expected] of cases) assert.equal(tracingRequested(env), expected, JSON.stringify(env));
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
}

test('meshgate start exports spans over OTLP/HTTP as the OTEL_* variables say', { timeout: 60_000 }, async (t) => {
  const spans: OtlpSpan[] = [];
  const paths: string[] = [];
  let arrived: () => void = () => undefined;
  const receiver = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
    for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    arrived();
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  t.after(() => receiver.close());
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const port = await freePort();
  const node = runCli(t, ['start', '--port', String(port), '--node-id', 'otlp-node'], {
    env: {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_SERVICE_NAME: 'mesh-test',
    },
  });
  await node.waitForOutput(' ready\n');
  assert.match(node.stdout, new RegExp(`tracing\\s+otlp \\(http/json\\) -> ${endpoint.replace(/[.]/g, '\\.')}, sampler parentbased_always_on`));

  const client = await openClient(t, `ws://127.0.0.1:${port}/v1/ws`);
  assert.equal((await client.request({ op: 'sub', filter: 'otlp.>' })).op, 'ok');
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const wanted = new Promise<void>((resolve) => {
    arrived = () => {
      if (spans.some((s) => s.name === 'process otlp.check')) resolve();
    };
  });
  assert.equal((await client.request({ op: 'pub', topic: 'otlp.check', event: ce('otlp-1', { traceparent }) })).op, 'ok');
  await wanted;

  assert.ok(
    paths.every((p) => p === 'POST /v1/traces application/json'),
    paths.join('\n'),
  );
  const receive = spans.find((s) => s.name === 'receive otlp.check')!;
  const process = spans.find((s) => s.name === 'process otlp.check')!;
  assert.ok(receive, 'a receive span was exported');
  assert.equal(receive.traceId, '0af7651916cd43dd8448eb211c80319c', "in the producer's trace");
  assert.equal(receive.parentSpanId, 'b7ad6b7169203331', "parented on the producer's span");
  assert.equal(process.parentSpanId, receive.spanId);
  const attrs = Object.fromEntries(receive.attributes.map((a) => [a.key, Object.values(a.value)[0]]));
  assert.equal(attrs['messaging.message.id'], 'otlp-1');
  assert.equal(attrs['messaging.system'], 'meshgate');
  assert.equal(attrs['meshgate.node'], 'otlp-node');
  node.child.kill('SIGTERM');
  assert.equal(await node.exited, 0);
});

test('without OTEL_* variables the node says tracing is off', async (t) => {
  const port = await freePort();
  const env: Record<string, string | undefined> = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('OTEL_')) env[k] = undefined;
  const node = runCli(t, ['start', '--port', String(port)], { env: env as NodeJS.ProcessEnv });
  await node.waitForOutput(' ready\n');
  assert.match(node.stdout, /tracing\s+off \(set OTEL_TRACES_EXPORTER or OTEL_EXPORTER_OTLP_ENDPOINT\)/);
  node.child.kill('SIGTERM');
  assert.equal(await node.exited, 0);
});
