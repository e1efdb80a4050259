import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import WebSocket from 'ws';
import { type MeshEvent, MeshgateClient, type RecoveredInfo, type WebSocketConstructor } from '../../../client/mod.js';
import { freePort, NodeProcess, until } from '../../helpers/mesh.js';
import { ce, type FrameClient, openClient } from '../../helpers/node.js';
import { RawPeer } from '../../helpers/raw-peer.js';
import { storedIds } from '../../helpers/stream-io.js';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';

const WS = WebSocket as unknown as WebSocketConstructor;
const ORDERS = { name: 'orders', filters: ['orders.>'] };

/**
 * Node `a` holds stream `orders` (lmdb, in the test's directory); node `b`
 * dials it, through a TCP proxy when `viaProxy`, and has `bConfig`.
 */
async function holderAndReader(
  t: TestContext,
  o: { bConfig?: Record<string, unknown>; viaProxy?: boolean } = {},
): Promise<{ a: NodeProcess; b: NodeProcess; proxy: TcpProxy | null }> {
  const a = new NodeProcess(t, { id: 'a', port: await freePort(), config: { streams: [ORDERS] } });
  await a.start();
  const proxy = o.viaProxy === true ? await startTcpProxy(a.spec.port) : null;
  if (proxy !== null) t.after(() => proxy.close());
  const peer = proxy === null ? a.peerUrl : `ws://127.0.0.1:${proxy.port}`;
  const b = new NodeProcess(t, { id: 'b', port: await freePort(), peers: [peer], config: o.bConfig ?? {} });
  await b.start();
  t.after(() => b.stop());
  t.after(() => a.stop());
  await until('b has its link to a up', async () => (await b.peers()).some((p) => p.node === 'a' && p.state === 'up'));
  return { a, b, proxy };
}

function client(t: TestContext, url: string): MeshgateClient {
  const c = new MeshgateClient({ url, WebSocket: WS, backoffMinMs: 20, backoffMaxMs: 100, requestTimeoutMs: 15_000 });
  t.after(() => c.close());
  return c;
}

/** Publishes events `orders.n` with data from..to-1 in batches of 50, each batch acked (stored) before the next. */
async function publish(pub: FrameClient, from: number, to: number, between?: (batchStart: number) => Promise<void> | void): Promise<void> {
  for (let i = from; i < to; i += 50) {
    await between?.(i);
    const items = Array.from({ length: Math.min(50, to - i) }, (_, k) => ({ topic: 'orders.n', event: ce(`n${i + k}`, { data: i + k }) }));
    const reply = await pub.request({ op: 'pubs', items });
    assert.equal(reply.op, 'ok', JSON.stringify(reply));
  }
}

/** What a stream subscriber received, counted against the holder's own offsets. */
class Tally {
  readonly seen: Uint8Array;
  received = 0;
  duplicates = 0;
  reordered = 0;
  offsetGaps = 0;
  lastOffset = 0;
  readonly got = new Map<number, string>();
  #lastSeq = -1;
  #all: (() => void) | null = null;
  constructor(readonly total: number) {
    this.seen = new Uint8Array(total);
  }
  readonly handle = (e: MeshEvent): void => {
    const seq = e.json() as number;
    if (this.seen[seq]) this.duplicates++;
    this.seen[seq] = 1;
    if (seq < this.#lastSeq) this.reordered++;
    if (e.offset !== this.lastOffset + 1) this.offsetGaps++;
    this.#lastSeq = Math.max(this.#lastSeq, seq);
    this.lastOffset = e.offset ?? this.lastOffset;
    this.got.set(e.offset!, e.id);
    if (++this.received >= this.total) this.#all?.();
  };
  all(): Promise<void> {
    return this.received >= this.total ? Promise.resolve() : new Promise((resolve) => (this.#all = resolve));
  }
  lost(): number {
    let n = 0;
    for (const s of this.seen) if (!s) n++;
    return n;
  }
  /** Entries whose offset names another event on the holder than the one delivered with it. */
  offsetMismatches(holder: Map<number, string>): number {
    let n = 0;
    for (const [offset, id] of this.got) if (holder.get(offset) !== id) n++;
    return n;
  }
}

test("a subscriber on B of a stream held on A: replay from first, then live, with A's offsets, none lost, none repeated", async (t) => {
  const { a, b } = await holderAndReader(t);
  const pub = await openClient(t, a.wsUrl);
  await publish(pub, 0, 1000);
  const tally = new Tally(2000);
  const sub = client(t, b.wsUrl);
  const handle = await sub.subscribe('orders.>', tally.handle, { stream: 'orders', from: 'first' });
  const onA = await a.json<{ epoch: string }>('/v1/streams/orders');
  assert.deepEqual([handle.next, handle.epoch], [1, onA.epoch], "B answers with A's epoch and first offset");
  await publish(pub, 1000, 2000);
  await tally.all();
  await sub.ping(); // anything sent twice would have arrived by now
  const { idAt } = await storedIds(a, 'orders');
  t.diagnostic(`received ${tally.received}, lost ${tally.lost()}, dup ${tally.duplicates}, reordered ${tally.reordered}`);
  assert.deepEqual(
    { lost: tally.lost(), duplicates: tally.duplicates, reordered: tally.reordered, offsetGaps: tally.offsetGaps, mismatched: tally.offsetMismatches(idAt) },
    { lost: 0, duplicates: 0, reordered: 0, offsetGaps: 0, mismatched: 0 },
  );
  assert.equal(tally.received, 2000);
  assert.equal(idAt.size, 2000);
  assert.ok((await b.metric('meshgate_remote_stream_entries_received_total')) >= 2000);
  assert.ok((await a.metric('meshgate_remote_stream_entries_sent_total')) >= 2000);
});

test('kill -9 of B for 5 s while A takes a publish stream: the client resumes on B from its last offset, none lost, none repeated', async (t) => {
  const { a, b } = await holderAndReader(t);
  const pub = await openClient(t, a.wsUrl);
  const total = 7000; // 7 s at 1,000/s: B is killed at 1 s and back at 6 s, while the stream goes on
  const tally = new Tally(total);
  const sub = client(t, b.wsUrl);
  const handle = await sub.subscribe('orders.>', tally.handle, { stream: 'orders', from: 'first' });
  assert.equal(handle.next, 1);
  let recovered: Promise<RecoveredInfo> | null = null;
  let restarted: Promise<void> | null = null;
  const start = Date.now();
  await publish(pub, 0, total, async (i) => {
    if (i === 1000) {
      recovered = new Promise((resolve) => sub.once('recovered', resolve));
      await b.kill9();
      restarted = new Promise((r) => setTimeout(r, 5000)).then(() => b.start()); // B stays down 5 s
    }
    const due = start + (i / 1000) * 1000 - Date.now(); // about 1,000 events/s: the load's pace, not a wait for an event
    if (due > 0) await new Promise((r) => setTimeout(r, due));
  });
  await restarted;
  assert.deepEqual(await recovered!, { stream: 'orders', filter: 'orders.>', recovered: true });
  await tally.all();
  await sub.ping();
  const { idAt } = await storedIds(a, 'orders');
  t.diagnostic(`received ${tally.received}, lost ${tally.lost()}, dup ${tally.duplicates}, reconnects ${sub.stats.reconnects}`);
  assert.deepEqual(
    { lost: tally.lost(), duplicates: tally.duplicates, reordered: tally.reordered, offsetGaps: tally.offsetGaps, mismatched: tally.offsetMismatches(idAt) },
    { lost: 0, duplicates: 0, reordered: 0, offsetGaps: 0, mismatched: 0 },
  );
  assert.equal(tally.lastOffset, total);
  assert.ok(sub.stats.reconnects >= 1);
});

test('kill -9 of the holder A mid-stream: the subscriber on B goes on from its last offset once A is back, none lost, none repeated', async (t) => {
  const { a, b } = await holderAndReader(t);
  const pub = await openClient(t, a.wsUrl);
  const tally = new Tally(2000);
  const sub = client(t, b.wsUrl);
  const errors: string[] = [];
  sub.on('error', (e) => errors.push(e.code));
  await sub.subscribe('orders.>', tally.handle, { stream: 'orders', from: 'first' });
  await publish(pub, 0, 1000);
  await a.kill9();
  await a.start();
  await publish(await openClient(t, a.wsUrl), 1000, 2000);
  await tally.all();
  await sub.ping();
  const { idAt } = await storedIds(a, 'orders');
  assert.deepEqual(
    { lost: tally.lost(), duplicates: tally.duplicates, reordered: tally.reordered, offsetGaps: tally.offsetGaps, mismatched: tally.offsetMismatches(idAt) },
    { lost: 0, duplicates: 0, reordered: 0, offsetGaps: 0, mismatched: 0 },
  );
  assert.equal(sub.stats.reconnects, 0, "the subscriber's own connection never dropped");
  assert.deepEqual(errors, []);
  assert.ok((await a.metric('meshgate_remote_stream_reads_served_total')) >= 1, 'the restarted holder served the resumed read');
});

interface StreamRow {
  first: number;
  last: number;
  epoch: string;
}

test("a mirror on B catches up after the A-B link was down, with A's offsets and epoch", async (t) => {
  const { a, b, proxy } = await holderAndReader(t, { viaProxy: true, bConfig: { streams: [{ name: 'orders-eu', mirror: { stream: 'orders' } }] } });
  const pub = await openClient(t, a.wsUrl);
  await publish(pub, 0, 500);
  const mirrorAt = async (last: number) =>
    until(`the mirror holds offsets up to ${last}`, async () => (await b.json<StreamRow>('/v1/streams/orders-eu')).last === last);
  await mirrorAt(500);
  proxy!.hold();
  assert.ok(proxy!.cut() >= 1);
  await until('b sees its link to a down', async () => (await b.peers()).some((p) => p.node === 'a' && p.state === 'down'));
  await publish(pub, 500, 1200);
  assert.equal((await b.json<StreamRow>('/v1/streams/orders-eu')).last, 500, 'nothing reaches the mirror while the link is down');
  proxy!.release();
  await mirrorAt(1200);
  const source = await storedIds(a, 'orders');
  const mirror = await storedIds(b, 'orders-eu');
  assert.deepEqual(mirror.offsets, source.offsets, 'the same offsets, each once, in order');
  assert.deepEqual([...mirror.idAt], [...source.idAt], 'the same event at each offset');
  assert.equal(mirror.offsets.length, 1200);
  assert.equal((await b.json<StreamRow>('/v1/streams/orders-eu')).epoch, (await a.json<StreamRow>('/v1/streams/orders')).epoch);

  // A client reads the mirror locally on B, from an offset read on A, in A's epoch.
  const local = client(t, b.wsUrl);
  const tally = new Tally(1200);
  const onA = await a.json<StreamRow>('/v1/streams/orders');
  let first = -1;
  await local.subscribe(
    'orders.>',
    (e) => {
      if (first < 0) first = e.offset!;
      tally.seen[e.json() as number] = 1;
      tally.received++;
    },
    { stream: 'orders-eu', from: 1101, epoch: onA.epoch },
  );
  await until('the local reader got offsets 1101..1200', () => tally.received >= 100);
  assert.equal(first, 1101);
});

test('a mirror resumes from its own last offset after B was killed and restarted', async (t) => {
  const { a, b } = await holderAndReader(t, { bConfig: { streams: [{ name: 'orders-eu', mirror: { stream: 'orders' } }] } });
  const pub = await openClient(t, a.wsUrl);
  await publish(pub, 0, 300);
  await until('the mirror holds 300', async () => (await b.json<StreamRow>('/v1/streams/orders-eu')).last === 300);
  await b.kill9();
  await publish(pub, 300, 700);
  await b.start();
  await until('the mirror holds 700', async () => (await b.json<StreamRow>('/v1/streams/orders-eu')).last === 700);
  const source = await storedIds(a, 'orders');
  const mirror = await storedIds(b, 'orders-eu');
  assert.deepEqual([...mirror.idAt], [...source.idAt]);
  assert.equal(await b.metric('meshgate_stream_mirror_resets_total'), 0, 'resumed, not started over');
});

test('a stream no node holds is refused with MG_ERR_STREAM_UNKNOWN, one whose holder is away with MG_ERR_STREAM_UNREACHABLE', async (t) => {
  const { a, b } = await holderAndReader(t, { bConfig: { mesh: { streamLookupMs: 0 } } });
  const c = await openClient(t, b.wsUrl);
  const unknown = await c.request({ op: 'sub', filter: 'x.>', stream: 'nope', from: 'first' });
  assert.deepEqual([unknown.op, unknown.code, unknown.reason, unknown.stream], ['err', 'MG_ERR_STREAM_UNKNOWN', 'unknown-stream', 'nope']);
  const ok = await c.request({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 'first' });
  assert.equal(ok.op, 'ok', JSON.stringify(ok));
  await a.stop();
  await until('b sees its link to a down', async () => (await b.peers()).some((p) => p.node === 'a' && p.state === 'down'));
  const away = await c.request({ op: 'sub', filter: 'orders.x', stream: 'orders', from: 'first' });
  assert.deepEqual([away.op, away.code, away.reason], ['err', 'MG_ERR_STREAM_UNREACHABLE', 'unreachable']);
  const metrics = await (await fetch(`${b.httpUrl}/metrics`)).text();
  assert.match(metrics, /meshgate_events_rejected_total\{[^}]*code="MG_ERR_STREAM_UNKNOWN"[^}]*\} 1\b/);
  assert.match(metrics, /meshgate_events_rejected_total\{[^}]*code="MG_ERR_STREAM_UNREACHABLE"[^}]*\} 1\b/);
});

test('a remote subscriber that stops reading holds the holder back by credit, is not closed as slow, and then gets every entry', async (t) => {
  // Window: a quarter of B's 1 MiB per-socket limit; without credit, 30 MB of entries would pile up on B and close the subscriber (1008).
  const { a, b } = await holderAndReader(t, { bConfig: { limits: { maxBufferedBytes: 1_048_576 } } });
  const total = 150;
  const sub = await openClient(t, b.wsUrl, 'cbor');
  const ok = await sub.request({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 'first' });
  assert.equal(ok.op, 'ok', JSON.stringify(ok));
  sub.socket.pause(); // reads nothing until resume()
  const pub = await openClient(t, a.wsUrl);
  const big = 'x'.repeat(200 * 1024);
  for (let i = 0; i < total; i++) assert.equal((await pub.request({ op: 'pub', topic: 'orders.n', event: ce(`big${i}`, { data: { i, big } }) })).op, 'ok');
  const sent = () => a.metric('meshgate_remote_stream_entries_sent_total');
  const received = () => b.metric('meshgate_remote_stream_entries_received_total');
  await until('B has taken what its credit allowed', async () => {
    const s = await sent();
    return s > 0 && s === (await received());
  });
  const held = await sent();
  t.diagnostic(`sent while the subscriber did not read: ${held} of ${total}`);
  assert.ok(held < total, `the holder stopped at the reader's credit (${held} of ${total} sent)`);
  sub.socket.resume();
  await until(`the subscriber got all ${total}`, () => sub.events().length >= total, 60_000);
  assert.deepEqual(
    sub.events().map((e) => e.offset),
    Array.from({ length: total }, (_, i) => i + 1),
  );
  assert.equal(sub.socket.readyState, WebSocket.OPEN, 'not closed as a slow consumer');
});

test("two hops away: a subscriber on B reads A's stream through C (A - C - B), and a cut of the A-C link mid-stream loses and repeats nothing", async (t) => {
  const a = new NodeProcess(t, { id: 'a', port: await freePort(), config: { streams: [ORDERS] } });
  await a.start();
  const proxy = await startTcpProxy(a.spec.port);
  t.after(() => proxy.close());
  const c = new NodeProcess(t, { id: 'c', port: await freePort(), peers: [`ws://127.0.0.1:${proxy.port}`] });
  await c.start();
  const b = new NodeProcess(t, { id: 'b', port: await freePort(), peers: [c.peerUrl] });
  await b.start();
  t.after(() => b.stop());
  t.after(() => c.stop());
  t.after(() => a.stop());
  await until('b has its link to c up', async () => (await b.peers()).some((p) => p.node === 'c' && p.state === 'up'));
  const pub = await openClient(t, a.wsUrl);
  await publish(pub, 0, 1000);
  const tally = new Tally(2000);
  const sub = client(t, b.wsUrl);
  const handle = await sub.subscribe('orders.>', tally.handle, { stream: 'orders', from: 'first' });
  assert.equal(handle.epoch, (await a.json<{ epoch: string }>('/v1/streams/orders')).epoch);
  assert.ok(proxy.cut() >= 1);
  await publish(pub, 1000, 2000);
  await tally.all();
  await sub.ping();
  const { idAt } = await storedIds(a, 'orders');
  t.diagnostic(`received ${tally.received}, lost ${tally.lost()}, dup ${tally.duplicates}`);
  assert.deepEqual(
    { lost: tally.lost(), duplicates: tally.duplicates, reordered: tally.reordered, offsetGaps: tally.offsetGaps, mismatched: tally.offsetMismatches(idAt) },
    { lost: 0, duplicates: 0, reordered: 0, offsetGaps: 0, mismatched: 0 },
  );
  assert.ok((await c.metric('meshgate_remote_stream_entries_sent_total')) >= 2000, 'c relayed the entries');
  assert.equal(sub.stats.reconnects, 0);
});

test('a holder refuses a bad stream read with its code and keeps the link: malformed, unknown stream, stale epoch, beyond the end', async (t) => {
  const a = new NodeProcess(t, { id: 'a', port: await freePort(), config: { streams: [ORDERS] } });
  await a.start();
  t.after(() => a.stop());
  const raw = await RawPeer.connect(t, a, 'raw');
  const list = (await raw.waitFor((f) => f.t === 'streams')) as { o: string; s: Array<{ n: string; e: string }> };
  assert.deepEqual([list.o, list.s.map((x) => x.n)], ['a', ['orders']]);
  const epoch = list.s[0]!.e;
  const serr = async (id: number) => (await raw.waitFor((f) => f.t === 'serr' && (f as { id: number }).id === id)) as Record<string, unknown>;
  raw.send({ t: 'sread', id: 1, f: 'orders.>', from: 'first', c: 10, b: 1000 }); // no stream name
  raw.send({ t: 'sread', id: 2, n: 'nope', f: '>', o: 'a', from: 'first', c: 10, b: 1000 });
  raw.send({ t: 'sread', id: 3, n: 'orders', f: '>', o: 'a', from: 'first', e: 'not-the-epoch', c: 10, b: 1000 });
  raw.send({ t: 'sread', id: 4, n: 'orders', f: '>', o: 'a', from: { offset: 99 }, e: epoch, c: 10, b: 1000 });
  raw.send({ t: 'sread', id: 5, n: 'orders', f: '>', o: 'elsewhere', from: 'first', c: 10, b: 1000 });
  assert.deepEqual(await Promise.all([1, 2, 3, 4, 5].map(async (id) => [(await serr(id)).code, (await serr(id)).reason])), [
    ['MG_ERR_PEER_MALFORMED', 'malformed'],
    ['MG_ERR_STREAM_UNKNOWN', 'unknown-stream'],
    ['MG_ERR_STREAM_EPOCH', 'epoch'],
    ['MG_ERR_STREAM_BEYOND_END', 'beyond-end'],
    ['MG_ERR_STREAM_UNREACHABLE', 'unreachable'],
  ]);
  // The link is still up: a good read after them is served.
  raw.send({ t: 'sread', id: 6, n: 'orders', f: '>', o: 'a', from: 'first', e: epoch, c: 10, b: 1000 });
  const ok = (await raw.waitFor((f) => f.t === 'sok' && (f as { id: number }).id === 6)) as Record<string, unknown>;
  assert.deepEqual([ok.e, ok.next], [epoch, 1]);
  const metrics = await (await fetch(`${a.httpUrl}/metrics`)).text();
  for (const code of ['MG_ERR_PEER_MALFORMED', 'MG_ERR_STREAM_UNKNOWN', 'MG_ERR_STREAM_EPOCH', 'MG_ERR_STREAM_BEYOND_END', 'MG_ERR_STREAM_UNREACHABLE'])
    assert.match(metrics, new RegExp(`meshgate_remote_stream_refused_total\\{[^}]*code="${code}"[^}]*\\} 1\\b`), code);
});

test("a mirror follows its source's epoch: when the source is re-created, the mirror starts over in the new epoch", async (t) => {
  const { a, b } = await holderAndReader(t, { bConfig: { streams: [{ name: 'orders-eu', mirror: { stream: 'orders' } }] } });
  const pub = await openClient(t, a.wsUrl);
  await publish(pub, 0, 200);
  await until('the mirror holds 200', async () => (await b.json<StreamRow>('/v1/streams/orders-eu')).last === 200);
  const before = await b.json<StreamRow>('/v1/streams/orders-eu');
  assert.equal((await fetch(`${a.httpUrl}/v1/streams/orders`, { method: 'DELETE' })).status, 204);
  const created = await fetch(`${a.httpUrl}/v1/streams`, { method: 'POST', body: JSON.stringify(ORDERS) });
  assert.equal(created.status, 201);
  await publish(pub, 1000, 1050);
  const source = await a.json<StreamRow>('/v1/streams/orders');
  assert.notEqual(source.epoch, before.epoch);
  await until('the mirror is in the new epoch with its 50 entries', async () => {
    const m = await b.json<StreamRow>('/v1/streams/orders-eu');
    return m.epoch === source.epoch && m.last === 50;
  });
  const mirror = await storedIds(b, 'orders-eu');
  assert.deepEqual([...mirror.idAt], [...(await storedIds(a, 'orders')).idAt], 'only the new history, at its offsets');
  assert.equal(await b.metric('meshgate_stream_mirror_resets_total'), 1);
});
