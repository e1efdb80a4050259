import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import WebSocket from 'ws';
import { type ConsumerMessage, MeshgateClient, MeshgateError, type WebSocketConstructor } from '../../client/mod.js';
import { ce, openClient, startTestNode } from '../helpers/node.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { testTmpDir } from '../helpers/tmp.js';

const WS = WebSocket as unknown as WebSocketConstructor;

function client(t: TestContext, url: string): MeshgateClient {
  const c = new MeshgateClient({ url, WebSocket: WS, backoffMinMs: 20, backoffMaxMs: 100, requestTimeoutMs: 10_000 });
  c.on('error', () => undefined);
  t.after(() => c.close());
  return c;
}

/** Messages as they come; `next(n)` resolves once n have. */
function inbox() {
  const got: ConsumerMessage[] = [];
  let waiter: { n: number; resolve: () => void } | null = null;
  return {
    got,
    handler: (m: ConsumerMessage) => {
      got.push(m);
      if (waiter !== null && got.length >= waiter.n) {
        waiter.resolve();
        waiter = null;
      }
    },
    next: (n: number) => (got.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve }))),
  };
}

test('client.consume: messages carry offset and delivery; ack() resolves once stored, nak() brings one back; refusals keep the node code', async (t) => {
  const node = await startTestNode(t, { storage: { dir: testTmpDir(t, 'cconsume') }, streams: [{ name: 'orders', filters: ['orders.>'] }] });
  const pub = await openClient(t, node.wsUrl);
  for (let i = 0; i < 3; i++) await pub.request({ op: 'pub', topic: 'orders.x', event: ce(`e${i}`, { data: i }) });
  const c = client(t, node.wsUrl);
  const box = inbox();
  const handle = await c.consume('orders', 'billing', { start: 'first', ackWaitMs: 60_000 }, box.handler);
  assert.deepEqual([handle.ackFloor, handle.epoch.length], [0, 16]);
  await box.next(3);
  assert.deepEqual(
    box.got.map((m) => [m.offset, m.event.json(), m.delivery, m.redelivered, m.event.offset, m.stream, m.consumer]),
    [0, 1, 2].map((i) => [i + 1, i, 1, false, i + 1, 'orders', 'billing']),
  );
  await box.got[0]!.ack();
  await box.got[1]!.ack();
  await box.got[2]!.nak();
  await box.next(4);
  assert.deepEqual([box.got[3]!.offset, box.got[3]!.delivery, box.got[3]!.redelivered], [3, 2, true]);
  await box.got[3]!.ack();
  await assert.rejects(box.got[0]!.ack(), (e: unknown) => e instanceof MeshgateError && e.code === 'MG_ERR_CONSUMER_NOT_IN_FLIGHT');
  await assert.rejects(
    c.consume('nope', 'x', {}, () => undefined),
    (e: unknown) => e instanceof MeshgateError && e.code === 'MG_ERR_STREAM_UNKNOWN',
  );
  const info = (await (await fetch(`${node.httpUrl}/v1/streams/orders`)).json()) as { consumers: Array<{ ackFloor: number; inFlight: number }> };
  assert.deepEqual([info.consumers[0]!.ackFloor, info.consumers[0]!.inFlight], [3, 0]);
});

test('client.consume binds again after its connection is cut: what was in flight comes again marked redelivered; an ack from the old connection is not sent', async (t) => {
  const node = await startTestNode(t, { storage: { dir: testTmpDir(t, 'cconsume') }, streams: [{ name: 'orders', filters: ['orders.>'] }] });
  const proxy = await startTcpProxy(node.port);
  t.after(() => proxy.close());
  const pub = await openClient(t, node.wsUrl);
  for (let i = 0; i < 2; i++) await pub.request({ op: 'pub', topic: 'orders.x', event: ce(`e${i}`, { data: i }) });
  const c = client(t, `ws://127.0.0.1:${proxy.port}/v1/ws`);
  const box = inbox();
  await c.consume('orders', 'cut', { start: 'first' }, box.handler);
  await box.next(2);
  await box.got[0]!.ack();
  const reopened = new Promise((resolve) => c.once('restored', resolve));
  proxy.cut();
  await reopened;
  await box.next(3);
  assert.deepEqual([box.got[2]!.offset, box.got[2]!.delivery, box.got[2]!.redelivered], [2, 2, true]);
  await assert.rejects(box.got[1]!.ack(), (e: unknown) => e instanceof MeshgateError && e.code === 'MG_ERR_CLIENT_DISCONNECTED');
  await box.got[2]!.ack();
  // Published after the reconnect: comes on the new binding as a first delivery.
  await pub.request({ op: 'pub', topic: 'orders.x', event: ce('e2', { data: 2 }) });
  await box.next(4);
  assert.deepEqual([box.got[3]!.offset, box.got[3]!.delivery], [3, 1]);
  await box.got[3]!.ack();
  const info = (await (await fetch(`${node.httpUrl}/v1/streams/orders`)).json()) as { consumers: Array<{ ackFloor: number; bound: number }> };
  assert.deepEqual([info.consumers[0]!.ackFloor, info.consumers[0]!.bound], [3, 1]);
});

test('ConsumerHandle.stop() unbinds at the node: another client gets what was left unacked', async (t) => {
  const node = await startTestNode(t, { storage: { engine: 'memory' }, streams: [{ name: 'orders', filters: ['orders.>'] }] });
  const pub = await openClient(t, node.wsUrl);
  await pub.request({ op: 'pub', topic: 'orders.x', event: ce('e0', { data: 0 }) });
  const first = inbox();
  const handle = await client(t, node.wsUrl).consume('orders', 'handover', { start: 'first' }, first.handler);
  await first.next(1);
  await handle.stop();
  const second = inbox();
  await client(t, node.wsUrl).consume('orders', 'handover', {}, second.handler);
  await second.next(1);
  assert.deepEqual([second.got[0]!.offset, second.got[0]!.redelivered], [1, true]);
  await second.got[0]!.ack();
});
