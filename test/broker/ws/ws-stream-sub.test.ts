import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { RunningNode } from '../../../broker/node/internal.js';
import { ce, type FrameClient, openClient, startTestNode } from '../../helpers/node.js';
import { pausedReader, publishBigEvents, settledValue } from '../../helpers/stream-io.js';
import { testTmpDir } from '../../helpers/tmp.js';

/** A node with stream `orders` (orders.>) on lmdb in a fresh directory. */
async function streamNode(t: TestContext, extra: Record<string, unknown> = {}): Promise<RunningNode> {
  return startTestNode(t, { storage: { dir: testTmpDir(t, 'wsstream') }, streams: [{ name: 'orders', filters: ['orders.>'], ...extra }] });
}

/** Publishes `n` events in one acked pubs batch (acked once durable, so in the stream). */
async function publish(c: FrameClient, from: number, n: number, topic = (i: number) => `orders.${i % 2 === 0 ? 'a' : 'b'}`): Promise<void> {
  const items = Array.from({ length: n }, (_, k) => ({ topic: topic(from + k), event: ce(`e${from + k}`) }));
  const reply = await c.request({ op: 'pubs', items });
  assert.equal(reply.op, 'ok', JSON.stringify(reply));
  assert.equal(reply.accepted, n);
}

async function streamEvents(c: FrameClient, n: number): Promise<Record<string, unknown>[]> {
  await c.waitFor(() => c.events().length >= n);
  return c.events();
}

test('sub with stream and from first replays every entry with its offset, then follows live ones', async (t) => {
  const node = await streamNode(t);
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, 1, 5);
  const sub = await openClient(t, node.wsUrl);
  const ok = await sub.request({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 'first' });
  assert.equal(ok.op, 'ok');
  assert.equal(ok.stream, 'orders');
  assert.equal(ok.epoch, node.streams.info('orders')!.epoch);
  assert.equal(ok.next, 1);
  await publish(pub, 6, 2);
  const got = await streamEvents(sub, 7);
  assert.deepEqual(
    got.map((e) => [e.offset, (e.event as { id: string }).id, e.stream]),
    [1, 2, 3, 4, 5, 6, 7].map((i) => [i, `e${i}`, 'orders']),
  );
  assert.match(node.node.metrics.render(), /^meshgate_stream_reads_total\{stream="orders"\} 7$/m, 'each entry read from the store counted once');
});

test('from an offset starts at that offset; the sub filter skips entries it does not match', async (t) => {
  const node = await streamNode(t);
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, 1, 8);
  const sub = await openClient(t, node.wsUrl);
  const ok = await sub.request({ op: 'sub', filter: 'orders.a', stream: 'orders', from: 3 });
  assert.equal(ok.next, 3);
  // orders.a holds the even ones: 4, 6, 8 from offset 3 on.
  const got = await streamEvents(sub, 3);
  assert.deepEqual(
    got.map((e) => e.offset),
    [4, 6, 8],
  );
});

test('from last gives the newest entry matching the filter, then live; from new only live ones', async (t) => {
  const node = await streamNode(t);
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, 1, 5); // 5 is orders.b, 4 the newest orders.a
  const last = await openClient(t, node.wsUrl);
  assert.equal((await last.request({ op: 'sub', filter: 'orders.a', stream: 'orders', from: 'last' })).next, 4);
  const fresh = await openClient(t, node.wsUrl);
  assert.equal((await fresh.request({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 'new' })).next, 6);
  await publish(pub, 6, 1);
  assert.deepEqual(
    (await streamEvents(last, 2)).map((e) => e.offset),
    [4, 6],
  );
  await last.request({ op: 'ping' });
  assert.deepEqual(
    (await streamEvents(fresh, 1)).map((e) => e.offset),
    [6],
  );
});

test('from last-per-topic gives the newest entry of each matching topic, in offset order, then live', async (t) => {
  const node = await streamNode(t);
  const pub = await openClient(t, node.wsUrl);
  // orders.k0 .. orders.k2 three times over (offsets 1-9), then one orders.other: the newest of k0, k1, k2 are 7, 8, 9.
  await publish(pub, 1, 9, (i) => `orders.k${(i - 1) % 3}`);
  await publish(pub, 100, 1, () => 'other.x'); // outside the stream: not stored
  await publish(pub, 10, 1, () => 'orders.skip.x'); // offset 10, outside the sub filter
  const sub = await openClient(t, node.wsUrl);
  const ok = await sub.request({ op: 'sub', filter: 'orders.*', stream: 'orders', from: 'last-per-topic' });
  assert.equal(ok.op, 'ok', JSON.stringify(ok));
  assert.equal(ok.next, 7, 'next: the first per-topic entry');
  assert.equal(ok.last, 10);
  await publish(pub, 11, 2, () => 'orders.k1'); // live: 11, 12
  const got = await streamEvents(sub, 5);
  assert.deepEqual(
    got.map((e) => [e.offset, e.topic]),
    [
      [7, 'orders.k0'],
      [8, 'orders.k1'],
      [9, 'orders.k2'],
      [11, 'orders.k1'],
      [12, 'orders.k1'],
    ],
  );
  await sub.request({ op: 'ping' });
  assert.equal(sub.events().length, 5, 'no older entry of a topic, none twice');
});

test('from an RFC 3339 time starts at the first entry appended at or after it', async (t) => {
  const node = await streamNode(t);
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, 1, 3);
  const entries = node.streams.read('orders', 0, 10);
  assert.ok(entries.ok);
  const third = entries.entries[2]!;
  const sub = await openClient(t, node.wsUrl);
  const ok = await sub.request({ op: 'sub', filter: 'orders.>', stream: 'orders', from: new Date(third.time).toISOString() });
  const expected = node.streams.seekTime('orders', third.time)!;
  assert.ok(expected <= 3);
  assert.equal(ok.next, expected);
  const later = await openClient(t, node.wsUrl);
  const future = await later.request({ op: 'sub', filter: 'orders.>', stream: 'orders', from: new Date(third.time + 60_000).toISOString() });
  assert.equal(future.next, 4, 'a time after every entry starts with the next one appended');
});

test('the CBOR flavour carries stream and offset on each item', async (t) => {
  const node = await streamNode(t);
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, 1, 2);
  const sub = await openClient(t, node.wsUrl, 'cbor');
  await sub.request({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 'first' });
  const got = await streamEvents(sub, 2);
  assert.deepEqual(
    got.map((e) => [e.stream, e.offset, (e.event as { id: string }).id]),
    [
      ['orders', 1, 'e1'],
      ['orders', 2, 'e2'],
    ],
  );
});

test('events published while the replay runs arrive exactly once and in offset order', async (t) => {
  const node = await streamNode(t);
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, 1, 1500);
  const sub = await openClient(t, node.wsUrl);
  sub.send({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 'first', ref: 's' });
  // Published while the 1,500 are paged out: they land after them in the store, and the sub reads them from there.
  for (let b = 0; b < 10; b++) await publish(pub, 1501 + b * 50, 50);
  const got = await streamEvents(sub, 2000);
  await sub.request({ op: 'ping' });
  assert.equal(sub.events().length, 2000, 'no duplicate');
  assert.deepEqual(
    got.map((e) => e.offset),
    Array.from({ length: 2000 }, (_, i) => i + 1),
  );
  assert.deepEqual(
    got.map((e) => (e.event as { id: string }).id),
    Array.from({ length: 2000 }, (_, i) => `e${i + 1}`),
  );
});

test('positions the stream cannot serve answer MG_ERR_STREAM_* with the stream first, last and epoch', async (t) => {
  const node = await streamNode(t, { maxEvents: 3 });
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, 1, 10);
  const info = node.streams.info('orders')!;
  assert.equal(info.first, 8);
  const c = await openClient(t, node.wsUrl);
  const pruned = await c.request({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 2 });
  assert.deepEqual(
    [pruned.op, pruned.code, pruned.reason, pruned.first, pruned.last, pruned.epoch, pruned.stream],
    ['err', 'MG_ERR_STREAM_PRUNED', 'pruned', 8, 10, info.epoch, 'orders'],
  );
  const beyond = await c.request({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 12 });
  assert.deepEqual([beyond.code, beyond.last], ['MG_ERR_STREAM_BEYOND_END', 10]);
  const atEnd = await c.request({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 11 });
  assert.equal(atEnd.op, 'ok', 'last + 1 is where a resumed subscriber continues');
  const epoch = await c.request({ op: 'sub', filter: 'orders.a', stream: 'orders', from: 9, epoch: 'not-the-epoch' });
  assert.deepEqual([epoch.code, epoch.epoch], ['MG_ERR_STREAM_EPOCH', info.epoch]);
  const unknown = await c.request({ op: 'sub', filter: 'orders.>', stream: 'nope', from: 'first' });
  assert.deepEqual([unknown.code, unknown.first, unknown.last, unknown.epoch], ['MG_ERR_STREAM_UNKNOWN', 0, 0, '']);
  const bad = await c.request({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 'yesterday' });
  assert.equal(bad.code, 'MG_ERR_FRAME_MALFORMED');
  const noStream = await c.request({ op: 'sub', filter: 'orders.>', from: 'first' });
  assert.equal(noStream.code, 'MG_ERR_FRAME_MALFORMED');
});

test('unsub with stream stops the stream subscription', async (t) => {
  const node = await streamNode(t);
  const pub = await openClient(t, node.wsUrl);
  const sub = await openClient(t, node.wsUrl);
  await sub.request({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 'new' });
  assert.equal((await sub.request({ op: 'unsub', filter: 'orders.>' })).code, 'MG_ERR_SUB_UNKNOWN', 'a plain unsub names plain subs only');
  assert.equal((await sub.request({ op: 'unsub', filter: 'orders.>', stream: 'orders' })).op, 'ok');
  await publish(pub, 1, 3);
  await sub.request({ op: 'ping' });
  await new Promise((r) => setImmediate(r));
  await sub.request({ op: 'ping' });
  assert.equal(sub.events().length, 0);
});

test('a replay far behind a subscriber that does not read waits for it instead of buffering the backlog, then delivers everything', async (t) => {
  const LIMIT = 256 * 1024;
  const node = await startTestNode(t, {
    storage: { dir: testTmpDir(t, 'wsstream') },
    streams: [{ name: 'orders', filters: ['orders.>'] }],
    limits: { maxBufferedBytes: LIMIT },
  });
  const metrics = () => node.node.metrics.snapshot();
  const pub = await openClient(t, node.wsUrl);
  const TOTAL = 6000;
  // 24 MB in the stream: more than loopback buffers absorb, 90 times the socket limit.
  await publishBigEvents(pub, TOTAL);
  const sub = await openClient(t, node.wsUrl);
  const reader = pausedReader(sub, TOTAL);
  sub.send({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 'first', ref: 's' });
  // Until uWS holds bytes for it, then until that amount stays put: the replay waits for a drain (bounded polling).
  const before = await settledValue(() => metrics().meshgate_buffered_bytes as number);
  assert.ok(before !== null, 'the replay did not settle');
  assert.ok(before <= LIMIT, `buffered ${before} bytes, over the socket limit`);
  assert.equal((metrics().meshgate_slow_consumer_closes_total as Record<string, number>)['limit=socket'], 0, 'not closed as slow');
  await reader.finish();
});

test('removing the stream ends its subscriptions at once with MG_ERR_STREAM_UNKNOWN', async (t) => {
  const node = await streamNode(t);
  const sub = await openClient(t, node.wsUrl);
  assert.equal((await sub.request({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 'new' })).op, 'ok');
  const ended = sub.waitFor((f) => f.op === 'err' && f.code === 'MG_ERR_STREAM_UNKNOWN');
  const res = await fetch(`${node.httpUrl}/v1/streams/orders`, { method: 'DELETE' });
  assert.equal(res.status, 204);
  const frame = await ended;
  assert.equal(frame.stream, 'orders');
  assert.equal(frame.reason, 'unknown-stream');
  assert.equal(frame.ref, undefined, 'an end, not an answer');
});
