import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openClient, runCli, startTestNode } from '../../helpers/node.js';
import { testTmpDir } from '../../helpers/tmp.js';

test('meshgate --help and every command --help print usage and exit 0', async (t) => {
  for (const args of [['--help'], ['start', '--help'], ['pub', '--help'], ['sub', '--help']]) {
    const cli = runCli(t, args);
    assert.equal(await cli.exited, 0, args.join(' '));
    assert.match(cli.stdout, /Usage: meshgate/);
  }
});

test('meshgate start prints its endpoints, serves /healthz, and exits 0 on SIGTERM after closing clients with 1001', async (t) => {
  const cli = runCli(t, ['start', '--port', '0', '--node-id', 'cli-node', '--region', 'eu']);
  await cli.waitForOutput(/ws:\/\/127\.0\.0\.1:\d+\/v1\/ws/);
  const port = Number(/127\.0\.0\.1:(\d+)\/v1\/ws/.exec(cli.stdout)![1]);
  const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as Record<string, string>;
  assert.deepEqual(health, { status: 'ok', node: 'cli-node', region: 'eu' });
  const client = await openClient(t, `ws://127.0.0.1:${port}/v1/ws`);
  cli.child.kill('SIGTERM');
  const closed = await client.closed;
  assert.equal(closed.code, 1001);
  assert.equal(await cli.exited, 0);
});

test('meshgate sub prints events published by meshgate pub, one JSON line each, and exits after --count', async (t) => {
  const node = await startTestNode(t);
  const sub = runCli(t, ['sub', 'cli.>', '--url', node.wsUrl, '--count', '3']);
  await sub.waitForOutput('subscribed to cli.>');
  const pub = runCli(t, ['pub', 'cli.orders', '{"order":7}', '--url', node.wsUrl, '--count', '3', '--source', 'cli-test', '--type', 'order.created']);
  assert.equal(await pub.exited, 0, pub.stderr);
  assert.equal(await sub.exited, 0, sub.stderr);
  const lines = sub.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { topic: string; event: Record<string, unknown> });
  assert.equal(lines.length, 3);
  assert.equal(new Set(lines.map((l) => l.event.id)).size, 3, 'each event gets a fresh id');
  for (const l of lines) {
    assert.equal(l.topic, 'cli.orders');
    assert.equal(l.event.source, 'cli-test');
    assert.equal(l.event.type, 'order.created');
    assert.deepEqual(l.event.data, { order: 7 });
  }
});

test('meshgate pub reads data from stdin and honours --id', async (t) => {
  const node = await startTestNode(t);
  const c = await openClient(t, node.wsUrl);
  await c.request({ op: 'sub', filter: 'stdin.t' });
  const pub = runCli(t, ['pub', 'stdin.t', '--url', node.wsUrl, '--id', 'fixed-1'], { input: 'plain text line' });
  assert.equal(await pub.exited, 0, pub.stderr);
  const event = (await c.waitFor((f) => f.op === 'event')).event as Record<string, unknown>;
  assert.equal(event.id, 'fixed-1');
  assert.equal(event.data, 'plain text line');
  assert.equal(event.datacontenttype, 'text/plain');
});

test('meshgate pub exits 1 with the server error code when a publish is refused', async (t) => {
  const node = await startTestNode(t);
  const pub = runCli(t, ['pub', 'bad..topic', 'x', '--url', node.wsUrl]);
  assert.equal(await pub.exited, 1);
  assert.match(pub.stderr, /^MG_ERR_TOPIC_INVALID: /m);
});

test('meshgate pub prints each schema violation when the node refuses the data', async (t) => {
  const node = await startTestNode(t);
  node.schemas.register(
    'orders',
    { type: 'object', required: ['id'], properties: { id: { type: 'integer' }, total: { type: 'number' } } },
    { topics: ['orders.>'] },
  );
  const pub = runCli(t, ['pub', 'orders.eu', '{"total":"many"}', '--url', node.wsUrl]);
  assert.equal(await pub.exited, 1);
  assert.match(pub.stderr, /^MG_ERR_EVENT_SCHEMA: /m);
  assert.match(pub.stderr, /^ {2}\/id: must have required property 'id'$/m);
  assert.match(pub.stderr, /^ {2}\/total: must be number$/m);
});

test('a wrong config value stops start-up with the key, the reason and the fix', async (t) => {
  const dir = testTmpDir(t, 'mg-cfg');
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'listen:\n  port: 70000\nlimits:\n  maxFrameBytez: 10\n');
  const cli = runCli(t, ['start', '--config', file]);
  assert.equal(await cli.exited, 1);
  assert.match(cli.stderr, /MG_ERR_CONFIG_INVALID/);
  assert.match(cli.stderr, /listen\.port: must be <= 65535, got 70000; fix: TCP port/);
  assert.match(cli.stderr, /limits\.maxFrameBytez: unknown key; fix: remove it or use one of: maxFrameBytes/);
  const env = runCli(t, ['start'], { env: { MESHGATE_PORT: 'eighty' } });
  assert.equal(await env.exited, 1);
  assert.match(env.stderr, /listen\.port: must be integer, got "eighty"/);
});

test('an unknown flag is a usage error with exit code 2', async (t) => {
  const cli = runCli(t, ['sub', 'a', '--bogus']);
  assert.equal(await cli.exited, 2);
  assert.match(cli.stderr, /Unknown option '--bogus'/);
});
