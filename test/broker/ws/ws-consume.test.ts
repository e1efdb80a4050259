import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tokenFor } from '../../client/jwt.js';
import { ce, type FrameClient, openClient, startTestNode } from '../../helpers/node.js';
import { pausedReader, publishBigEvents, settledValue } from '../../helpers/stream-io.js';
import { testTmpDir } from '../../helpers/tmp.js';

type Frame = Record<string, unknown>;

async function nodeWithStream(t: import('node:test').TestContext, engine: 'lmdb' | 'memory' = 'lmdb') {
  return startTestNode(t, {
    storage: engine === 'lmdb' ? { dir: testTmpDir(t, 'consume') } : { engine: 'memory' },
    streams: [{ name: 'orders', filters: ['orders.>'] }],
  });
}

async function publish(client: FrameClient, from: number, count: number, topic = 'orders.eu.x'): Promise<void> {
  const acks = [];
  for (let i = from; i < from + count; i++) acks.push(client.request({ op: 'pub', topic, event: ce(`e${i}`) }));
  for (const a of await Promise.all(acks)) assert.equal(a.op, 'ok');
}

const deliveries = (c: FrameClient) => c.events().filter((e) => e.consumer !== undefined);
const waitDeliveries = (c: FrameClient, n: number) => c.waitFor(() => deliveries(c).length >= n);

async function metric(httpUrl: string, line: RegExp): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const m = text.split('\n').find((l) => line.test(l));
  return m === undefined ? 0 : Number(m.split(' ').at(-1));
}

test('consume creates a durable consumer and delivers with offset and delivery count; ack moves the ack floor; ok means stored', async (t) => {
  const node = await nodeWithStream(t);
  const client = await openClient(t, node.wsUrl);
  await publish(client, 0, 3);
  const ok = await client.request({ op: 'consume', stream: 'orders', consumer: 'billing', start: 'first' });
  assert.deepEqual([ok.op, ok.stream, ok.consumer, ok.ackFloor, ok.last], ['ok', 'orders', 'billing', 0, 3]);
  await waitDeliveries(client, 3);
  const got = deliveries(client);
  assert.deepEqual(
    got.map((d) => [d.offset, d.delivery, d.redelivered, (d.event as Frame).id, d.stream, d.topic]),
    [
      [1, 1, false, 'e0', 'orders', 'orders.eu.x'],
      [2, 1, false, 'e1', 'orders', 'orders.eu.x'],
      [3, 1, false, 'e2', 'orders', 'orders.eu.x'],
    ],
  );
  // Out of order: the floor waits for 1, then closes over 2 and 3.
  assert.deepEqual((await client.request({ op: 'ack', stream: 'orders', consumer: 'billing', offsets: [2, 3] })).ackFloor, 0);
  assert.deepEqual((await client.request({ op: 'ack', stream: 'orders', consumer: 'billing', offsets: [1] })).ackFloor, 3);
  const info = (await (await fetch(`${node.httpUrl}/v1/streams/orders`)).json()) as { consumers: Frame[] };
  assert.deepEqual(
    info.consumers.map((c) => [c.name, c.ackFloor, c.inFlight, c.lag]),
    [['billing', 3, 0, 0]],
  );
  // Live: a new event after the backlog comes at once, as offset 4.
  await publish(client, 3, 1);
  await waitDeliveries(client, 4);
  assert.equal(deliveries(client)[3]!.offset, 4);
  assert.equal(await metric(node.httpUrl, /^meshgate_stream_consumer_lag\{stream="orders",consumer="billing"\}/), 1);
});

test('consume, ack and nak refusals carry stable codes, and each is counted', async (t) => {
  const node = await nodeWithStream(t);
  const client = await openClient(t, node.wsUrl);
  await publish(client, 0, 2);
  const err = async (frame: Frame, code: string) => {
    const r = await client.request(frame);
    assert.equal(r.code, code, JSON.stringify(r));
    return r;
  };
  await err({ op: 'consume', stream: 'nope', consumer: 'c' }, 'MG_ERR_STREAM_UNKNOWN');
  await err({ op: 'consume', stream: 'orders', consumer: 'bad name!' }, 'MG_ERR_CONSUMER_INVALID');
  await err({ op: 'consume', stream: 'orders', consumer: 'c', filter: 'payments.>' }, 'MG_ERR_CONSUMER_INVALID');
  await err({ op: 'consume', stream: 'orders', consumer: 'c', maxInFlight: 0 }, 'MG_ERR_CONSUMER_INVALID');
  await err({ op: 'consume', stream: 'orders', consumer: 'c', start: 99 }, 'MG_ERR_STREAM_BEYOND_END');
  await err({ op: 'consume', stream: 'orders', consumer: 'c', start: 'last' }, 'MG_ERR_FRAME_MALFORMED');
  await err({ op: 'ack', stream: 'orders', consumer: 'c', offsets: [1] }, 'MG_ERR_CONSUMER_UNKNOWN');
  await err({ op: 'ack', stream: 'orders', consumer: 'c', offsets: [] }, 'MG_ERR_FRAME_MALFORMED');
  await err({ op: 'nak', stream: 'orders', consumer: 'c', offset: 0 }, 'MG_ERR_FRAME_MALFORMED');
  assert.equal((await client.request({ op: 'consume', stream: 'orders', consumer: 'c', maxInFlight: 1, start: 'first' })).op, 'ok');
  await waitDeliveries(client, 1);
  // 2 is not delivered yet (maxInFlight 1), 9 does not exist: both refused by name, 1 is acked.
  const partial = await err({ op: 'ack', stream: 'orders', consumer: 'c', offsets: [1, 2, 9] }, 'MG_ERR_CONSUMER_NOT_IN_FLIGHT');
  assert.deepEqual(partial.offsets, [2, 9]);
  await waitDeliveries(client, 2);
  await err({ op: 'ack', stream: 'orders', consumer: 'c', offsets: [1] }, 'MG_ERR_CONSUMER_NOT_IN_FLIGHT');
  await err({ op: 'nak', stream: 'orders', consumer: 'c', offset: 1 }, 'MG_ERR_CONSUMER_NOT_IN_FLIGHT');
  // Bound again from another connection with other options: the consumer keeps its own.
  const other = await openClient(t, node.wsUrl);
  assert.equal((await other.request({ op: 'consume', stream: 'orders', consumer: 'c', maxInFlight: 7 })).code, 'MG_ERR_CONSUMER_EXISTS');
  for (const code of ['MG_ERR_CONSUMER_INVALID', 'MG_ERR_CONSUMER_UNKNOWN', 'MG_ERR_CONSUMER_NOT_IN_FLIGHT', 'MG_ERR_CONSUMER_EXISTS']) {
    assert.ok((await metric(node.httpUrl, new RegExp(`code="${code}"`))) >= 1, code);
  }
});

test('a delivery never acked is delivered again after ackWaitMs, marked redelivered, and counted', async (t) => {
  const node = await nodeWithStream(t, 'memory');
  const client = await openClient(t, node.wsUrl);
  await publish(client, 0, 1);
  await client.request({ op: 'consume', stream: 'orders', consumer: 'slow', ackWaitMs: 200, start: 'first' });
  await waitDeliveries(client, 2);
  const [first, again] = deliveries(client);
  assert.deepEqual([first!.offset, first!.delivery, first!.redelivered], [1, 1, false]);
  assert.deepEqual([again!.offset, again!.delivery, again!.redelivered], [1, 2, true]);
  assert.equal(await metric(node.httpUrl, /^meshgate_stream_consumer_redeliveries_total\{stream="orders",consumer="slow"\}/), 1);
  assert.equal((await client.request({ op: 'ack', stream: 'orders', consumer: 'slow', offsets: [1] })).op, 'ok');
});

test('maxInFlight bounds what is outstanding: deliveries stop there and one ack lets exactly one more out', async (t) => {
  const node = await nodeWithStream(t);
  const client = await openClient(t, node.wsUrl);
  await publish(client, 0, 20);
  await client.request({ op: 'consume', stream: 'orders', consumer: 'w', maxInFlight: 5, start: 'first' });
  await waitDeliveries(client, 5);
  // Whatever was going to come has come by the time a ping is answered several turns later.
  for (let i = 0; i < 5; i++) await client.request({ op: 'ping' });
  assert.equal(deliveries(client).length, 5);
  const info = (await (await fetch(`${node.httpUrl}/v1/streams/orders`)).json()) as { consumers: Frame[] };
  assert.deepEqual([info.consumers[0]!.inFlight, info.consumers[0]!.lag], [5, 20]);
  await client.request({ op: 'ack', stream: 'orders', consumer: 'w', offsets: [3] });
  await waitDeliveries(client, 6);
  for (let i = 0; i < 5; i++) await client.request({ op: 'ping' });
  assert.deepEqual(
    deliveries(client).map((d) => d.offset),
    [1, 2, 3, 4, 5, 6],
  );
});

test('nak redelivers at once (or after its delay); a closed connection leaves its deliveries to the next one, marked redelivered', async (t) => {
  const node = await nodeWithStream(t);
  const a = await openClient(t, node.wsUrl);
  await publish(a, 0, 3);
  await a.request({ op: 'consume', stream: 'orders', consumer: 'n', start: 'first' });
  await waitDeliveries(a, 3);
  assert.equal((await a.request({ op: 'nak', stream: 'orders', consumer: 'n', offset: 2 })).op, 'ok');
  await waitDeliveries(a, 4);
  assert.deepEqual([deliveries(a)[3]!.offset, deliveries(a)[3]!.delivery], [2, 2]);
  await a.request({ op: 'ack', stream: 'orders', consumer: 'n', offsets: [1] });
  await a.close();
  const b = await openClient(t, node.wsUrl);
  assert.equal((await b.request({ op: 'consume', stream: 'orders', consumer: 'n' })).ackFloor, 1);
  await waitDeliveries(b, 2);
  assert.deepEqual(
    deliveries(b).map((d) => [d.offset, d.delivery, d.redelivered]),
    [
      [2, 3, true],
      [3, 2, true],
    ],
  );
});

test('a consumer with a filter gets only its part of the stream; the rest counts as acked, so its floor passes it', async (t) => {
  const node = await nodeWithStream(t);
  const client = await openClient(t, node.wsUrl);
  await publish(client, 0, 2, 'orders.us.x');
  await publish(client, 2, 2, 'orders.eu.x');
  await client.request({ op: 'consume', stream: 'orders', consumer: 'eu', filter: 'orders.eu.>', start: 'first' });
  await waitDeliveries(client, 2);
  assert.deepEqual(
    deliveries(client).map((d) => d.offset),
    [3, 4],
  );
  assert.equal((await client.request({ op: 'ack', stream: 'orders', consumer: 'eu', offsets: [3, 4] })).ackFloor, 4);
});

test('consume needs full read rights on what the consumer delivers: none or partial is MG_ERR_AUTH_FORBIDDEN and creates nothing', async (t) => {
  const secret = 'consume-auth-secret-0123456789';
  const node = await startTestNode(t, {
    auth: { jwt: { secret, clockSkewSec: 0 } },
    storage: { dir: testTmpDir(t, 'consume-auth') },
    streams: [{ name: 'orders', filters: ['orders.>'] }],
  });
  const as = (sub: string[]) => openClient(t, `${node.wsUrl}?token=${tokenFor(secret, { pub: ['orders.>'], sub })}`);
  const none = await as(['payments.>']);
  assert.equal((await none.request({ op: 'consume', stream: 'orders', consumer: 'a' })).code, 'MG_ERR_AUTH_FORBIDDEN');
  const partial = await as(['orders.eu.>']);
  assert.equal((await partial.request({ op: 'consume', stream: 'orders', consumer: 'a' })).code, 'MG_ERR_AUTH_FORBIDDEN');
  // Its own part of the stream is fine, as a filtered consumer.
  assert.equal((await partial.request({ op: 'consume', stream: 'orders', consumer: 'eu', filter: 'orders.eu.>' })).op, 'ok');
  const info = (await (await fetch(`${node.httpUrl}/v1/streams/orders`)).json()) as { consumers: Frame[] };
  assert.deepEqual(
    info.consumers.map((c) => [c.name, c.filter]),
    [['eu', 'orders.eu.>']],
  );
  // Bound by name without a filter, an existing filtered consumer is checked against its own filter.
  const full = await as(['orders.>']);
  assert.equal((await full.request({ op: 'consume', stream: 'orders', consumer: 'eu' })).op, 'ok');
  const other = await as(['orders.us.>']);
  assert.equal((await other.request({ op: 'consume', stream: 'orders', consumer: 'eu' })).code, 'MG_ERR_AUTH_FORBIDDEN');
});

test('a consumer far behind a client that does not read stops at the session buffer limit, not at maxInFlight, and is not closed as slow', async (t) => {
  const LIMIT = 256 * 1024;
  const node = await startTestNode(t, {
    storage: { dir: testTmpDir(t, 'consume-bp') },
    streams: [{ name: 'orders', filters: ['orders.>'] }],
    limits: { maxBufferedBytes: LIMIT },
  });
  const pub = await openClient(t, node.wsUrl);
  const TOTAL = 4000; // 16 MB: far more than the socket limit and loopback buffers
  await publishBigEvents(pub, TOTAL);
  const sub = await openClient(t, node.wsUrl);
  const reader = pausedReader(sub, TOTAL);
  sub.send({ op: 'consume', stream: 'orders', consumer: 'bp', start: 'first', maxInFlight: 100_000 });
  const inFlight = async () => ((await (await fetch(`${node.httpUrl}/v1/streams/orders`)).json()) as { consumers: Frame[] }).consumers[0]?.inFlight as number;
  // Until the consumer stops handing out (bounded polling: its state is only visible over HTTP).
  const before = await settledValue(async () => (await inFlight()) ?? 0);
  assert.ok(before !== null, 'the consumer did not settle');
  assert.ok(before < TOTAL, `in flight ${before}: the buffer limit, not maxInFlight, must stop it`);
  const snap = node.node.metrics.snapshot();
  assert.ok((snap.meshgate_buffered_bytes as number) <= LIMIT, `buffered ${String(snap.meshgate_buffered_bytes)} bytes, over the socket limit`);
  assert.equal((snap.meshgate_slow_consumer_closes_total as Record<string, number>)['limit=socket'], 0, 'not closed as slow');
  await reader.finish();
});

test('meshgate.v1.cbor carries the same consumer items: offset, consumer, delivery and redelivered beside topic, stream and event', async (t) => {
  const node = await nodeWithStream(t, 'memory');
  const client = await openClient(t, node.wsUrl, 'cbor');
  await publish(client, 0, 1);
  await client.request({ op: 'consume', stream: 'orders', consumer: 'bin', start: 'first', ackWaitMs: 100 });
  await waitDeliveries(client, 2);
  const [a, b] = deliveries(client);
  assert.deepEqual(
    [a, b].map((d) => [d!.topic, d!.stream, d!.consumer, d!.offset, d!.delivery, d!.redelivered, (d!.event as Frame).id]),
    [
      ['orders.eu.x', 'orders', 'bin', 1, 1, false, 'e0'],
      ['orders.eu.x', 'orders', 'bin', 1, 2, true, 'e0'],
    ],
  );
  assert.equal((await client.request({ op: 'ack', stream: 'orders', consumer: 'bin', offset: 1 })).ackFloor, 1);
});

test('unconsume ends a binding: nothing more comes on it, acks are refused, and its unacked deliveries go to the next binding', async (t) => {
  const node = await nodeWithStream(t, 'memory');
  const a = await openClient(t, node.wsUrl);
  await publish(a, 0, 2);
  await a.request({ op: 'consume', stream: 'orders', consumer: 'u', start: 'first' });
  await waitDeliveries(a, 2);
  await a.request({ op: 'ack', stream: 'orders', consumer: 'u', offsets: [1] });
  assert.equal((await a.request({ op: 'unconsume', stream: 'orders', consumer: 'u' })).op, 'ok');
  assert.equal((await a.request({ op: 'ack', stream: 'orders', consumer: 'u', offsets: [2] })).code, 'MG_ERR_CONSUMER_UNKNOWN');
  assert.equal((await a.request({ op: 'unconsume', stream: 'orders', consumer: 'u' })).code, 'MG_ERR_CONSUMER_UNKNOWN');
  await publish(a, 2, 1);
  const b = await openClient(t, node.wsUrl);
  await b.request({ op: 'consume', stream: 'orders', consumer: 'u' });
  await waitDeliveries(b, 2);
  await a.request({ op: 'ping' });
  assert.equal(deliveries(a).length, 2, 'nothing more on the ended binding');
  assert.deepEqual(
    deliveries(b).map((d) => [d.offset, d.redelivered]),
    [
      [2, true],
      [3, false],
    ],
  );
});
