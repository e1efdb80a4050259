import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { openClient, runCli, startTestNode } from '../../helpers/node.js';
import { testTmpDir } from '../../helpers/tmp.js';

/** A port on 127.0.0.1 that nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

test('meshgate sub and pub with --url ws://H:P (no path) reach the node started with --host/--port, as the docs write it', async (t) => {
  const port = await closedPort();
  const node = runCli(t, ['start', '--host', '127.0.0.1', '--port', String(port), '--node-id', 'hook-smoke']);
  await node.waitForOutput(/ready/);
  const url = `ws://127.0.0.1:${port}`;
  const sub = runCli(t, ['sub', 'hook.>', '--url', url, '--count', '1']);
  await sub.waitForOutput('subscribed to hook.>');
  const pub = runCli(t, ['pub', 'hook.x', '{"n":1}', '--url', url]);
  assert.equal(await pub.exited, 0, pub.stderr);
  assert.equal(await sub.exited, 0, sub.stderr);
  const line = JSON.parse(sub.stdout) as { topic: string; event: Record<string, unknown> };
  assert.equal(line.topic, 'hook.x');
  assert.deepEqual(line.event.data, { n: 1 });
  // A trailing slash means the same endpoint.
  const slash = runCli(t, ['pub', 'hook.y', '{}', '--url', `${url}/`]);
  assert.equal(await slash.exited, 0, slash.stderr);
  node.child.kill('SIGTERM');
  assert.equal(await node.exited, 0);
});

test('a --url whose path the node does not serve, or that is not a ws:// URL, is MG_ERR_CLIENT_URL with the fix, never MG_ERR_INTERNAL', async (t) => {
  const node = await startTestNode(t);
  const base = node.wsUrl.replace(/\/v1\/ws$/, '');
  for (const args of [
    ['pub', 'a.b', '{}', '--url', `${base}/v1/wx`],
    ['sub', 'a.>', '--url', `${base}/nope`],
    ['pub', 'a.b', '{}', '--url', 'localhost:8080'],
  ]) {
    const cli = runCli(t, args);
    assert.equal(await cli.exited, 1, args.join(' '));
    assert.match(cli.stderr, /^MG_ERR_CLIENT_URL: .*fix: .*ws:\/\/HOST:PORT/m, args.join(' '));
    assert.doesNotMatch(cli.stderr, /MG_ERR_INTERNAL/);
  }
});

test('meshgate sub exits 1 with the code when the node refuses its filter, instead of hanging', async (t) => {
  const node = await startTestNode(t);
  for (const filter of ['a.>.b', '']) {
    const sub = runCli(t, ['sub', filter, '--url', node.wsUrl]);
    const code = await Promise.race([sub.exited, new Promise((r) => setTimeout(r, 10_000, 'still running'))]);
    assert.equal(code, 1, `sub '${filter}': ${sub.stderr}`);
    assert.match(sub.stderr, /^MG_ERR_TOPIC_INVALID: /m);
    assert.doesNotMatch(sub.stderr, /subscribed to/);
  }
});

test('meshgate pub prints each event id, marks a duplicate, and prints nothing with --quiet', async (t) => {
  const node = await startTestNode(t);
  const first = runCli(t, ['pub', 'ids.t', '{"n":1}', '--url', node.wsUrl, '--id', 'dup-1']);
  assert.equal(await first.exited, 0, first.stderr);
  assert.equal(first.stdout, 'dup-1\n');
  const again = runCli(t, ['pub', 'ids.t', '{"n":1}', '--url', node.wsUrl, '--id', 'dup-1']);
  assert.equal(await again.exited, 0, again.stderr);
  assert.equal(again.stdout, 'dup-1 duplicate\n');
  const many = runCli(t, ['pub', 'ids.t', '{}', '--url', node.wsUrl, '--count', '3']);
  assert.equal(await many.exited, 0, many.stderr);
  const ids = many.stdout.trim().split('\n');
  assert.equal(ids.length, 3);
  for (const id of ids) assert.match(id, /^[0-9a-f-]{36}$/);
  const quiet = runCli(t, ['pub', 'ids.t', '{}', '--url', node.wsUrl, '--quiet']);
  assert.equal(await quiet.exited, 0, quiet.stderr);
  assert.equal(quiet.stdout, '');
});

test('meshgate pub --count -2 names the flag, the value and the fix', async (t) => {
  const cli = runCli(t, ['pub', 'a.b', '{}', '--count', '-2']);
  assert.equal(await cli.exited, 2);
  assert.match(cli.stderr, /--count expects a whole number >= 1, got '-2'; fix: --count N with N at least 1/);
  assert.doesNotMatch(cli.stderr, /ambiguous/);
});

test('meshgate pub refuses data that starts like JSON but does not parse, unless --content-type names a text type', async (t) => {
  const node = await startTestNode(t);
  const c = await openClient(t, node.wsUrl);
  await c.request({ op: 'sub', filter: 'ct.>' });
  const bad = runCli(t, ['pub', 'ct.bad', '{"order_id":42,', '--url', node.wsUrl]);
  assert.equal(await bad.exited, 1);
  assert.match(bad.stderr, /^MG_ERR_EVENT_INVALID: data: not valid JSON .*fix: .*--content-type text\/plain/m);
  assert.equal(bad.stdout, '');

  const text = runCli(t, ['pub', 'ct.text', '{"order_id":42,', '--url', node.wsUrl, '--content-type', 'text/plain']);
  assert.equal(await text.exited, 0, text.stderr);
  const asText = (await c.waitFor((f) => f.op === 'event' && f.topic === 'ct.text')).event as Record<string, unknown>;
  assert.equal(asText.datacontenttype, 'text/plain');
  assert.equal(asText.data, '{"order_id":42,');
  assert.equal(
    c.events().some((e) => e.topic === 'ct.bad'),
    false,
    'the refused event was never sent',
  );
});

test('events meshgate pub sends carry datacontenttype: application/json for JSON data, or the --content-type given', async (t) => {
  const node = await startTestNode(t);
  const c = await openClient(t, node.wsUrl);
  await c.request({ op: 'sub', filter: 'ct.>' });
  const json = runCli(t, ['pub', 'ct.json', '{"order_id":42}', '--url', node.wsUrl]);
  assert.equal(await json.exited, 0, json.stderr);
  const asJson = (await c.waitFor((f) => f.op === 'event' && f.topic === 'ct.json')).event as Record<string, unknown>;
  assert.equal(asJson.datacontenttype, 'application/json');
  assert.deepEqual(asJson.data, { order_id: 42 });
  const cloud = runCli(t, ['pub', 'ct.cloud', '{"a":1}', '--url', node.wsUrl, '--content-type', 'application/vnd.shop+json']);
  assert.equal(await cloud.exited, 0, cloud.stderr);
  const asCloud = (await c.waitFor((f) => f.op === 'event' && f.topic === 'ct.cloud')).event as Record<string, unknown>;
  assert.equal(asCloud.datacontenttype, 'application/vnd.shop+json');
  assert.deepEqual(asCloud.data, { a: 1 });
});

test('meshgate peers and schema list with the node down name the URL and the cause', async (t) => {
  const port = await closedPort();
  for (const args of [
    ['peers', '--url', `ws://127.0.0.1:${port}`],
    ['schema', 'list', '--url', `http://127.0.0.1:${port}`],
  ]) {
    const cli = runCli(t, args);
    assert.equal(await cli.exited, 1, args.join(' '));
    assert.match(cli.stderr, new RegExp(`cannot reach the node at http://127\\.0\\.0\\.1:${port}/v1/\\S+: .*ECONNREFUSED`), args.join(' '));
  }
});

test('meshgate start lists the console, mesh view, bridges and schema registry endpoints', async (t) => {
  const cli = runCli(t, ['start', '--port', '0', '--node-id', 'banner']);
  await cli.waitForOutput(/tracing/);
  const http = /health\s+(http:\/\/127\.0\.0\.1:\d+)\/healthz/.exec(cli.stdout)![1];
  for (const [label, path] of [
    ['console', '/console'],
    ['mesh view', '/v1/mesh'],
    ['bridges', '/v1/bridges'],
    ['schema registry', '/v1/schemas/subjects'],
  ]) {
    assert.match(cli.stdout, new RegExp(`^  ${label}\\s+${http.replace(/\./g, '\\.')}${path}$`, 'm'), label);
    const res = await fetch(`${http}${path}`);
    assert.equal(res.status, 200, path);
    await res.arrayBuffer();
  }
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
});

test('a config error never prints a secret: JWT secret, static token, mesh key, TLS passphrase, URL password', async (t) => {
  const dir = testTmpDir(t, 'mg-cfg-secret');
  const file = join(dir, 'bad.yaml');
  writeFileSync(
    file,
    [
      'auth:',
      '  jwt: { secret: "jwtsecretXYZ" }',
      '  tokens:',
      '    - { name: ops, token: "tokensecretXYZ" }',
      'mesh: { key: "meshXYZ" }',
      'tls: { certFile: c.pem, keyFile: k.pem, passphrase: 12345 }',
      'bridges:',
      '  - { type: amqp, url: "amqx://guest:brokerpassXYZ@127.0.0.1:5672" }',
      '',
    ].join('\n'),
  );
  const cli = runCli(t, ['start', '--config', file]);
  assert.equal(await cli.exited, 1);
  assert.match(cli.stderr, /MG_ERR_CONFIG_INVALID/);
  for (const secret of ['jwtsecretXYZ', 'tokensecretXYZ', 'meshXYZ', '12345', 'brokerpassXYZ'])
    assert.equal(cli.stderr.includes(secret), false, `${secret} printed:\n${cli.stderr}`);
  // The keys, reasons and fixes are still there.
  assert.match(cli.stderr, /auth\.jwt\.secret: must NOT have fewer than 16 characters, got a string of 12 characters \(secret, not shown\); fix: /);
  assert.match(cli.stderr, /mesh\.key: must NOT have fewer than 8 characters, got a string of 7 characters \(secret, not shown\)/);
  assert.match(cli.stderr, /auth\.tokens\[0\]\.token: must NOT have fewer than 16 characters/);
  assert.match(cli.stderr, /tls\.passphrase: must be string, got a number \(secret, not shown\)/);
  assert.match(cli.stderr, /bridges\[0\]\.url: must match pattern .*, got "amqx:\/\/guest:\*\*\*@127\.0\.0\.1:5672"/);

  const env = runCli(t, ['start', '--port', '0'], { env: { MESHGATE_JWT_SECRET: 'envsecretXYZ', MESHGATE_MESH_KEY: 'mkXYZ' } });
  assert.equal(await env.exited, 1);
  assert.equal(env.stderr.includes('envsecretXYZ') || env.stderr.includes('mkXYZ'), false, env.stderr);
});
