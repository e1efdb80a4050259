/** meshgate pub --http and sub --sse: the compiled CLI against a real node's CloudEvents HTTP binding. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signHs256 } from '../../../broker/auth/mod.js';
import { openClient, runCli, startTestNode } from '../../helpers/node.js';

const SECRET = 'cli-http-test-secret-0123456789ab';
const token = (perms: { pub: string[]; sub: string[] }) => signHs256({ sub: 'cli', exp: Math.floor(Date.now() / 1000) + 600, perms }, SECRET);
const lines = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { topic: string; event: Record<string, unknown> });

test('meshgate sub --sse prints the same lines as meshgate sub for events published with meshgate pub --http, and a ws:// URL works for both', async (t) => {
  const node = await startTestNode(t);
  const base = `ws://127.0.0.1:${node.port}`;
  const ws = runCli(t, ['sub', 'cli.>', '--url', node.wsUrl, '--count', '3']);
  const sse = runCli(t, ['sub', 'cli.>', '--sse', '--url', base, '--count', '3']);
  await ws.waitForOutput('subscribed to cli.>');
  await sse.waitForOutput('subscribed to cli.>');
  const pub = runCli(t, ['pub', 'cli.orders', '{"order":"7 €"}', '--http', '--url', node.httpUrl, '--count', '3', '--id', 'o 1€', '--type', 'order.created']);
  assert.equal(await pub.exited, 0, pub.stderr);
  assert.deepEqual(pub.stdout.trim().split('\n'), ['o 1€-1', 'o 1€-2', 'o 1€-3']);
  assert.equal(await ws.exited, 0, ws.stderr);
  assert.equal(await sse.exited, 0, sse.stderr);
  const got = lines(sse.stdout);
  assert.deepEqual(got, lines(ws.stdout));
  assert.deepEqual(
    got.map((l) => [l.topic, l.event.id, l.event.type, l.event.datacontenttype, l.event.mgprotocol]),
    [1, 2, 3].map((i) => ['cli.orders', `o 1€-${i}`, 'order.created', 'application/json', 'http']),
  );
  assert.deepEqual(got[0].event.data, { order: '7 €' });
});

test('meshgate pub --http prints "ID duplicate" for an id the node already has, prints nothing with --quiet, and sends text as text/plain', async (t) => {
  const node = await startTestNode(t);
  const c = await openClient(t, node.wsUrl);
  await c.request({ op: 'sub', filter: 'txt.>' });
  const first = runCli(t, ['pub', 'txt.a', 'plain words', '--http', '--url', node.wsUrl, '--id', 'd1']);
  assert.equal(await first.exited, 0, first.stderr);
  assert.equal(first.stdout, 'd1\n');
  const again = runCli(t, ['pub', 'txt.a', 'plain words', '--http', '--url', node.wsUrl, '--id', 'd1']);
  assert.equal(await again.exited, 0, again.stderr);
  assert.equal(again.stdout, 'd1 duplicate\n');
  const quiet = runCli(t, ['pub', 'txt.a', '--http', '--url', node.httpUrl, '--id', 'd2', '--quiet'], { input: 'from stdin' });
  assert.equal(await quiet.exited, 0, quiet.stderr);
  assert.equal(quiet.stdout, '');
  const event = (await c.waitFor((f) => f.op === 'event' && (f.event as Record<string, unknown>).id === 'd2')).event as Record<string, unknown>;
  assert.equal(event.data, 'from stdin');
  assert.equal(event.datacontenttype, 'text/plain');
});

test('meshgate pub --http exits 1 with the problem code: a bad topic, and a schema failure with one line per violation', async (t) => {
  const node = await startTestNode(t);
  node.schemas.register(
    'orders',
    { type: 'object', required: ['id'], properties: { id: { type: 'integer' }, total: { type: 'number' } } },
    { topics: ['orders.>'] },
  );
  const bad = runCli(t, ['pub', 'bad..topic', 'x', '--http', '--url', node.httpUrl]);
  assert.equal(await bad.exited, 1);
  assert.match(bad.stderr, /^MG_ERR_TOPIC_INVALID: /m);
  const pub = runCli(t, ['pub', 'orders.eu', '{"total":"many"}', '--http', '--url', node.httpUrl]);
  assert.equal(await pub.exited, 1);
  assert.match(pub.stderr, /^MG_ERR_EVENT_SCHEMA: /m);
  assert.match(pub.stderr, /^ {2}\/id: must have required property 'id'$/m);
  assert.match(pub.stderr, /^ {2}\/total: must be number$/m);
});

test('meshgate pub --http and sub --sse send the token as a Bearer header (--token or MESHGATE_TOKEN) and exit 1 with the code when the node refuses', async (t) => {
  const node = await startTestNode(t, { auth: { jwt: { secret: SECRET } } });
  const tok = token({ pub: ['orders.>'], sub: ['orders.>'] });
  const none = runCli(t, ['pub', 'orders.eu', '{}', '--http', '--url', node.httpUrl], { env: { MESHGATE_TOKEN: '' } });
  assert.equal(await none.exited, 1);
  assert.match(none.stderr, /^MG_ERR_AUTH_REQUIRED: /m);
  const forbidden = runCli(t, ['pub', 'billing.eu', '{}', '--http', '--url', node.httpUrl, '--token', tok]);
  assert.equal(await forbidden.exited, 1);
  assert.match(forbidden.stderr, /^MG_ERR_AUTH_FORBIDDEN: /m);
  assert.doesNotMatch(forbidden.stderr, new RegExp(tok.slice(-20)), 'the token is never printed');
  const subNone = runCli(t, ['sub', 'orders.>', '--sse', '--url', node.httpUrl], { env: { MESHGATE_TOKEN: '' } });
  assert.equal(await subNone.exited, 1);
  assert.match(subNone.stderr, /^MG_ERR_AUTH_REQUIRED: /m);
  const subForbidden = runCli(t, ['sub', 'billing.>', '--sse', '--url', node.httpUrl, '--token', tok]);
  assert.equal(await subForbidden.exited, 1);
  assert.match(subForbidden.stderr, /^MG_ERR_AUTH_FORBIDDEN: /m);
  const sub = runCli(t, ['sub', 'orders.>', '--sse', '--url', node.httpUrl, '--count', '1'], { env: { MESHGATE_TOKEN: tok } });
  await sub.waitForOutput('subscribed to orders.>');
  const ok = runCli(t, ['pub', 'orders.eu', '{"n":1}', '--http', '--url', node.httpUrl, '--id', 'ok1'], { env: { MESHGATE_TOKEN: tok } });
  assert.equal(await ok.exited, 0, ok.stderr);
  assert.equal(await sub.exited, 0, sub.stderr);
  assert.equal(lines(sub.stdout)[0].event.id, 'ok1');
});

test('meshgate sub --sse exits 1 with MG_ERR_TOPIC_INVALID for a bad filter, and pub --http names a URL without a node as MG_ERR_CLIENT_URL', async (t) => {
  const node = await startTestNode(t);
  const sub = runCli(t, ['sub', 'a..b', '--sse', '--url', node.httpUrl]);
  assert.equal(await sub.exited, 1);
  assert.match(sub.stderr, /^MG_ERR_TOPIC_INVALID: /m);
  const pub = runCli(t, ['pub', 'a.b', 'x', '--http', '--url', `${node.httpUrl}/elsewhere`]);
  assert.equal(await pub.exited, 1);
  assert.match(pub.stderr, /^MG_ERR_CLIENT_URL: .*\/elsewhere\/v1\/events\/a\.b: HTTP 404/m);
});
