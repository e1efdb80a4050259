import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import {
  type ClientEvents,
  filterMatches,
  type MeshEvent,
  MeshgateClient,
  type MeshgateClientOptions,
  MeshgateError,
  nextDelay,
  type WebSocketConstructor,
} from '../../client/mod.js';
import { freePort, NodeProcess } from '../helpers/mesh.js';
import { startTestNode } from '../helpers/node.js';

const WS = WebSocket as unknown as WebSocketConstructor;

function client(t: TestContext, options: MeshgateClientOptions): MeshgateClient {
  const c = new MeshgateClient({ WebSocket: WS, ...options });
  t.after(() => c.close());
  return c;
}

/** Resolves with the arguments of the next `type` event. */
function next<K extends keyof ClientEvents>(c: MeshgateClient, type: K): Promise<Parameters<ClientEvents[K]>> {
  return new Promise((resolve) => c.once(type, ((...args: Parameters<ClientEvents[K]>) => resolve(args)) as ClientEvents[K]));
}

/** Collects events; `waitFor(n)` resolves once n have arrived. */
function collector(): { events: MeshEvent[]; handler: (e: MeshEvent) => void; waitFor: (n: number) => Promise<MeshEvent[]> } {
  const events: MeshEvent[] = [];
  let waiters: Array<{ n: number; resolve: (e: MeshEvent[]) => void }> = [];
  return {
    events,
    handler: (e) => {
      events.push(e);
      waiters = waiters.filter((w) => {
        if (events.length < w.n) return true;
        w.resolve(events);
        return false;
      });
    },
    waitFor: (n) => (events.length >= n ? Promise.resolve(events) : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}

test('MeshgateClient subscribes, publishes with an ack and receives typed events: attributes, provenance, data as bytes and JSON', async (t) => {
  const node = await startTestNode(t);
  const sub = client(t, { url: node.wsUrl });
  const hello = await sub.connect();
  assert.equal(hello.node, 'test-node');
  assert.equal(sub.state, 'open');
  const got = collector();
  await sub.subscribe('db.orders.>', got.handler);

  // No WebSocket given: Node 20 has no global one, so the client loads `ws` itself.
  const pub = new MeshgateClient({ url: `ws://127.0.0.1:${node.port}`, source: 'orders-db' });
  t.after(() => pub.close());
  const ack = await pub.publish('db.orders.insert', { type: 'io.debezium.orders.c', subject: '42', data: { id: 42, total: 9.5 } });
  assert.equal(ack.duplicate, false);
  assert.match(ack.id, /^[0-9a-f-]{36}$/);
  const again = await pub.publish('db.orders.insert', { id: ack.id, type: 'io.debezium.orders.c', data: { id: 42, total: 9.5 } });
  assert.equal(again.duplicate, true, 'same (source, id): acked as a duplicate');
  await pub.publish('db.orders.blob', { type: 'blob', data: new Uint8Array([0, 1, 2, 255]) });

  const [json, blob] = await got.waitFor(2);
  assert.equal(json.topic, 'db.orders.insert');
  assert.equal(json.id, ack.id);
  assert.equal(json.source, 'orders-db');
  assert.equal(json.type, 'io.debezium.orders.c');
  assert.equal(json.subject, '42');
  assert.equal(json.specversion, '1.0');
  assert.deepEqual(json.json(), { id: 42, total: 9.5 });
  assert.equal(new TextDecoder().decode(json.data), '{"id":42,"total":9.5}');
  assert.equal(json.origin, 'test-node');
  assert.equal(json.protocol, 'ws');
  assert.equal(json.hops.length, 1);
  assert.equal(json.hops[0].node, 'test-node');
  assert.ok(json.hops[0].time > 0);
  assert.deepEqual([...blob.data], [0, 1, 2, 255]);
  assert.equal(blob.datacontenttype, 'application/octet-stream');
  await pub.ping();
  assert.equal(got.events.length, 2, 'the duplicate was delivered once');
});

test("MeshgateClient rejects refused requests with the node's code and keeps the connection open", async (t) => {
  const node = await startTestNode(t);
  const c = client(t, { url: node.wsUrl });
  await c.connect();
  const bad = await c.subscribe('db..orders', () => undefined).catch((e: unknown) => e);
  assert.ok(bad instanceof MeshgateError);
  assert.equal(bad.code, 'MG_ERR_TOPIC_INVALID');
  assert.deepEqual(c.filters, [], 'a refused filter is not kept (nor restored later)');
  await assert.rejects(c.publish('db.*', { type: 't' }), (e: unknown) => e instanceof MeshgateError && e.code === 'MG_ERR_TOPIC_INVALID');
  await assert.rejects(c.publish('db.x', { type: 't', specversion: '0.3' }), (e: unknown) => e instanceof MeshgateError && e.code === 'MG_ERR_EVENT_INVALID');
  // A schema refusal carries every violation, pointer by pointer.
  node.schemas.register('orders', { type: 'object', required: ['id'], properties: { id: { type: 'integer' } } }, { topics: ['orders.>'] });
  const refused = await c.publish('orders.eu', { type: 't', data: { id: 'seven' } }).catch((e: unknown) => e);
  assert.ok(refused instanceof MeshgateError);
  assert.equal(refused.code, 'MG_ERR_EVENT_SCHEMA');
  assert.deepEqual(refused.reasons, [{ path: '/id', message: 'must be integer' }]);
  // Unsubscribing what is not held is not an error for the caller.
  await c.unsubscribe('never.subscribed');
  assert.equal(c.state, 'open');
  await c.ping();
});

test('MeshgateClient reports a refused fire-and-forget publish as an error event with its code', async (t) => {
  const node = await startTestNode(t);
  const c = client(t, { url: node.wsUrl });
  await c.connect();
  const error = next(c, 'error');
  assert.equal(c.publishNoAck('bad topic', { type: 't' }), true);
  const [err] = await error;
  assert.ok(err instanceof MeshgateError);
  assert.equal(err.code, 'MG_ERR_TOPIC_INVALID');
  assert.equal(c.state, 'open');
});

test('MeshgateClient.publishBatch sends one pubs frame and lists refused items by index', async (t) => {
  const node = await startTestNode(t);
  const c = client(t, { url: node.wsUrl });
  const got = collector();
  await c.subscribe('batch.>', got.handler);
  const result = await c.publishBatch([
    { topic: 'batch.a', event: { type: 't', data: 1 } },
    { topic: 'batch..bad', event: { type: 't', data: 2 } },
    { topic: 'batch.c', event: { type: 't', data: 3 } },
  ]);
  assert.equal(result.accepted, 2);
  assert.equal(result.errors.length, 1);
  assert.equal(result.errors[0].index, 1);
  assert.equal(result.errors[0].code, 'MG_ERR_TOPIC_INVALID');
  const events = await got.waitFor(2);
  assert.deepEqual(
    events.map((e) => e.json()),
    [1, 3],
  );
});

test('MeshgateClient hands an event to each matching handler once, and unsubscribe stops delivery', async (t) => {
  const node = await startTestNode(t);
  const c = client(t, { url: node.wsUrl });
  const wide = collector();
  const narrow = collector();
  const both = collector();
  await c.subscribe('a.>', wide.handler);
  await c.subscribe('a.*', narrow.handler);
  await c.subscribe('a.>', both.handler);
  await c.subscribe('a.*', both.handler);
  await c.publish('a.b', { type: 't', data: 'one' });
  await c.publish('a.b.c', { type: 't', data: 'two' });
  await wide.waitFor(2);
  await c.ping();
  assert.deepEqual(
    narrow.events.map((e) => e.topic),
    ['a.b'],
  );
  assert.deepEqual(
    both.events.map((e) => e.topic),
    ['a.b', 'a.b.c'],
    'one call per handler, not per matching filter',
  );
  await c.unsubscribe('a.>', wide.handler);
  assert.deepEqual(c.filters.sort(), ['a.*', 'a.>'], 'a.> still has a handler');
  await c.unsubscribe('a.>');
  await c.unsubscribe('a.*');
  assert.deepEqual(c.filters, []);
  assert.deepEqual(node.node.localFilters(), [], 'the node dropped both filters');
  await c.publish('a.b', { type: 't', data: 'three' });
  await c.ping();
  assert.equal(wide.events.length, 2);
});

test('MeshgateClient reconnects with backoff after its node restarts, restores subscriptions and re-sends an unacked publish', async (t) => {
  const port = await freePort();
  const node = new NodeProcess(t, { id: 'restart', port });
  await node.start();
  const c = client(t, { url: node.wsUrl, backoffMinMs: 20, backoffMaxMs: 200 });
  const states: string[] = [];
  c.on('state', (s) => states.push(s));
  const errors: MeshgateError[] = [];
  c.on('error', (e) => errors.push(e));
  const got = collector();
  await c.subscribe('live.>', got.handler);
  await c.publish('live.before', { type: 't', data: 'before' });
  await got.waitFor(1);

  const closed = next(c, 'close');
  await node.stop();
  const [info] = await closed;
  assert.equal(info.code, 1001, 'the node said it was going away');
  assert.ok(info.retryInMs !== null && info.retryInMs >= 10 && info.retryInMs <= 20, `first delay ${info.retryInMs} within [min/2, min]`);
  // Published while the node is down: held, sent after the reconnect.
  const held = c.publish('live.during', { type: 't', data: 'during' });

  const restored = next(c, 'restored');
  await node.start();
  const [filters] = await restored;
  assert.deepEqual(filters, ['live.>']);
  assert.equal((await held).duplicate, false);
  const other = client(t, { url: node.wsUrl });
  await other.publish('live.after', { type: 't', data: 'after' });
  const events = await got.waitFor(3);
  assert.deepEqual(
    events.map((e) => e.json()),
    ['before', 'during', 'after'],
  );
  assert.ok(states.includes('reconnecting'));
  assert.equal(c.state, 'open');
  assert.ok(c.stats.reconnects >= 1);
  assert.deepEqual(errors, [], 'no error: a node going away is not one');
});

/** A stand-in node on 127.0.0.1:0 for behaviour the real one only shows with auth on (docs/protocol.md, Authentication). */
async function listen(t: TestContext, server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/ws`;
}

test('MeshgateClient: an upgrade refused with 401 and a code in the body rejects connect() with that code, without retrying', async (t) => {
  const server = createServer();
  const seen: string[] = [];
  server.on('upgrade', (req, socket) => {
    seen.push(new URL(req.url!, 'http://x').searchParams.get('token') ?? '');
    socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nMG_ERR_AUTH_INVALID: bad signature\n');
  });
  const url = await listen(t, server);
  const c = client(t, { url, token: 'not-a-jwt', backoffMinMs: 10 });
  const err = await c.connect().catch((e: unknown) => e);
  assert.ok(err instanceof MeshgateError);
  assert.equal(err.code, 'MG_ERR_AUTH_INVALID');
  assert.match(err.message, /bad signature/);
  assert.equal(c.state, 'closed');
  await assert.rejects(c.publish('a.b'), (e: unknown) => e instanceof MeshgateError && e.code === 'MG_ERR_AUTH_INVALID', 'later requests carry the same error');
  assert.deepEqual(seen, ['not-a-jwt'], 'the token went in ?token=, once: no retry loop');
});

test('MeshgateClient: a session closed with 4401 MG_ERR_AUTH_EXPIRED ends the client, or reconnects with a fresh token from a token function', async (t) => {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  // Registered first so it runs before listen's server.close(), which waits for these sockets.
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  });
  const url = await listen(t, server);
  const tokens: string[] = [];
  wss.on('connection', (ws, req) => {
    const token = new URL(req.url!, 'http://x').searchParams.get('token') ?? '';
    tokens.push(token);
    ws.send(JSON.stringify({ op: 'hello', node: 'fake', region: 'r', version: '0' }));
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString()) as { ref: number };
      ws.send(JSON.stringify({ op: 'ok', ref: f.ref }));
      if (token.startsWith('short')) ws.close(4401, 'MG_ERR_AUTH_EXPIRED: the token expired');
    });
  });

  const fixed = client(t, { url, token: 'short-1', backoffMinMs: 10 });
  const closed = new Promise<MeshgateError>((resolve) => fixed.on('error', resolve));
  await fixed.subscribe('a.>', () => undefined);
  const err = await closed;
  assert.equal(err.code, 'MG_ERR_AUTH_EXPIRED');
  if (fixed.state !== 'closed') await next(fixed, 'state');
  assert.equal(fixed.state, 'closed');

  let issued = 0;
  const refreshing = client(t, { url, backoffMinMs: 10, token: async () => (issued++ === 0 ? 'short-2' : 'long-3') });
  await refreshing.subscribe('b.>', () => undefined);
  const [filters] = await next(refreshing, 'restored');
  assert.deepEqual(filters, ['b.>']);
  assert.equal(refreshing.state, 'open');
  assert.deepEqual(tokens, ['short-1', 'short-2', 'long-3']);
});

test('MeshgateClient checks its options at construction', () => {
  assert.throws(
    () => new MeshgateClient({ url: 'http://127.0.0.1:8080' }),
    (e: unknown) => e instanceof MeshgateError && e.code === 'MG_ERR_CLIENT_OPTIONS' && /url/.test(e.message),
  );
  assert.throws(
    () => new MeshgateClient({ url: 'ws://127.0.0.1:1', backoffMinMs: -1 }),
    (e: unknown) => e instanceof MeshgateError && /backoffMinMs/.test(e.message),
  );
  assert.equal(new MeshgateClient({ url: 'ws://127.0.0.1:8080' }).options.url, 'ws://127.0.0.1:8080/v1/ws');
});

test('nextDelay grows exponentially, stays within [step/2, step] and caps at maxMs', () => {
  const o = { minMs: 100, maxMs: 5000 };
  assert.equal(
    nextDelay(0, o, () => 0),
    50,
  );
  assert.equal(
    nextDelay(0, o, () => 1),
    100,
  );
  assert.equal(
    nextDelay(3, o, () => 0),
    400,
  );
  assert.equal(
    nextDelay(3, o, () => 1),
    800,
  );
  assert.equal(
    nextDelay(50, o, () => 1),
    5000,
  );
  assert.equal(
    nextDelay(50, o, () => 0),
    2500,
  );
});

test('filterMatches: * matches one token, > one or more trailing tokens', () => {
  assert.ok(filterMatches('a.*', 'a.b'));
  assert.ok(!filterMatches('a.*', 'a.b.c'));
  assert.ok(!filterMatches('a.*', 'a'));
  assert.ok(filterMatches('a.>', 'a.b.c'));
  assert.ok(!filterMatches('a.>', 'a'));
  assert.ok(filterMatches('>', 'x'));
  assert.ok(filterMatches('*.b.>', 'a.b.c'));
  assert.ok(!filterMatches('a.b', 'a.c'));
});
