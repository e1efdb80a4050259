import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import WebSocket from 'ws';
import type { RunningNode } from '../../broker/node/internal.js';
import { type MeshEvent, MeshgateClient, MeshgateError, type RecoveredInfo, type WebSocketConstructor } from '../../client/mod.js';
import { ce, openClient, startTestNode } from '../helpers/node.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { testTmpDir } from '../helpers/tmp.js';

const WS = WebSocket as unknown as WebSocketConstructor;

async function streamNode(t: TestContext, extra: Record<string, unknown> = {}): Promise<RunningNode> {
  return startTestNode(t, { storage: { dir: testTmpDir(t, 'resume') }, streams: [{ name: 'seq', filters: ['seq.>'], ...extra }] });
}

function client(t: TestContext, url: string): MeshgateClient {
  const c = new MeshgateClient({ url, WebSocket: WS, backoffMinMs: 20, backoffMaxMs: 100, requestTimeoutMs: 10_000 });
  t.after(() => c.close());
  return c;
}

function nextRecovered(c: MeshgateClient): Promise<RecoveredInfo> {
  return new Promise((resolve) => c.once('recovered', resolve));
}

/**
 * A stream subscriber behind a proxy that cuts it off for `awayMs` (and
 * holds its reconnects) while `total` sequence-numbered events are published
 * at about `perSecond` in batches of 50; then counts what it got.
 */
async function resumeAcrossCut(t: TestContext, o: { total: number; perSecond: number; cutAfter: number; awayMs: number }): Promise<void> {
  const node = await streamNode(t);
  const proxy = await startTcpProxy(node.port);
  t.after(() => proxy.close());
  const sub = client(t, `ws://127.0.0.1:${proxy.port}/v1/ws`);
  const seen = new Uint8Array(o.total);
  const tally = { received: 0, duplicates: 0, reordered: 0, offsetGaps: 0 };
  let lastSeq = -1;
  let lastOffset = 0;
  let all: (() => void) | null = null;
  const handle = await sub.subscribe(
    'seq.>',
    (e) => {
      const seq = e.json() as number;
      if (seen[seq]) tally.duplicates++;
      seen[seq] = 1;
      if (seq < lastSeq) tally.reordered++;
      if (e.offset !== lastOffset + 1) tally.offsetGaps++;
      lastSeq = Math.max(lastSeq, seq);
      lastOffset = e.offset ?? lastOffset;
      if (++tally.received >= o.total) all?.();
    },
    { stream: 'seq', from: 'new' },
  );
  assert.equal(handle.next, 1);
  const pub = await openClient(t, node.wsUrl);
  let recovered: Promise<RecoveredInfo> | null = null;
  let away: Promise<void> | null = null;
  const batches = o.total / 50;
  const batchMs = (50 * 1000) / o.perSecond;
  const start = Date.now();
  for (let b = 0; b < batches; b++) {
    if (b * 50 === o.cutAfter) {
      recovered = nextRecovered(sub);
      proxy.hold(); // reconnects wait...
      proxy.cut();
      away = new Promise((resolve) => setTimeout(resolve, o.awayMs)).then(() => proxy.release()); // ...awayMs
    }
    const items = Array.from({ length: 50 }, (_, k) => ({ topic: 'seq.n', event: ce(`n${b * 50 + k}`, { data: b * 50 + k }) }));
    assert.equal((await pub.request({ op: 'pubs', items })).op, 'ok');
    const due = start + (b + 1) * batchMs - Date.now();
    if (due > 0) await new Promise((r) => setTimeout(r, due)); // the load's pace, not a wait for an event
  }
  await away;
  const info = await recovered!;
  assert.deepEqual(info, { stream: 'seq', filter: 'seq.>', recovered: true });
  if (tally.received < o.total) await new Promise<void>((resolve) => (all = resolve));
  await sub.ping(); // anything sent twice would have arrived by now
  let lost = 0;
  for (const s of seen) if (!s) lost++;
  t.diagnostic(`away ${o.awayMs} ms: received ${tally.received}, lost ${lost}, dup ${tally.duplicates}, reordered ${tally.reordered}`);
  assert.deepEqual(
    { lost, duplicates: tally.duplicates, reordered: tally.reordered, offsetGaps: tally.offsetGaps },
    { lost: 0, duplicates: 0, reordered: 0, offsetGaps: 0 },
  );
  assert.equal(tally.received, o.total);
  assert.equal(lastOffset, o.total, 'offsets run 1..total');
  assert.ok(sub.stats.reconnects >= 1);
}

test('a stream subscriber cut off for 2 s during 20,000 events at 4,000/s resumes with none lost, none repeated, in order', async (t) => {
  await resumeAcrossCut(t, { total: 20_000, perSecond: 4000, cutAfter: 4000, awayMs: 2000 });
});

test('a stream subscriber cut off for 20 s during 20,000 events at 800/s resumes with none lost, none repeated, in order', async (t) => {
  await resumeAcrossCut(t, { total: 20_000, perSecond: 800, cutAfter: 2000, awayMs: 20_000 });
});

test('a resume the stream cannot serve reports recovered false with the reason, and the subscription is dropped', async (t) => {
  const node = await streamNode(t, { maxEvents: 5 });
  const proxy = await startTcpProxy(node.port);
  t.after(() => proxy.close());
  const sub = client(t, `ws://127.0.0.1:${proxy.port}/v1/ws`);
  const got: MeshEvent[] = [];
  await sub.subscribe('seq.>', (e) => got.push(e), { stream: 'seq', from: 'first' });
  const pub = await openClient(t, node.wsUrl);
  await pub.request({ op: 'pubs', items: [{ topic: 'seq.n', event: ce('a') }] });
  while (got.length < 1) await sub.ping();
  const recovered = nextRecovered(sub);
  proxy.hold();
  proxy.cut();
  // While it is away, retention (5 events) drops what it had not read.
  await pub.request({ op: 'pubs', items: Array.from({ length: 20 }, (_, i) => ({ topic: 'seq.n', event: ce(`b${i}`) })) });
  proxy.release();
  const info = await recovered;
  assert.equal(info.recovered, false);
  assert.equal(info.reason, 'pruned');
  assert.ok(info.error instanceof MeshgateError);
  assert.equal(info.error.code, 'MG_ERR_STREAM_PRUNED');
  assert.deepEqual([info.error.stream?.first, info.error.stream?.last], [17, 21]);
});

test('subscribe with a stale epoch rejects with MG_ERR_STREAM_EPOCH and the current epoch', async (t) => {
  const node = await streamNode(t);
  const c = client(t, node.wsUrl);
  await assert.rejects(
    c.subscribe('seq.>', () => undefined, { stream: 'seq', from: 1, epoch: 'old' }),
    (err: MeshgateError) => err.code === 'MG_ERR_STREAM_EPOCH' && err.stream?.epoch === node.streams.info('seq')!.epoch,
  );
});

test('a stream removed under a live subscription ends it at once with MG_ERR_STREAM_UNKNOWN, reported as not recovered; its re-created history never reaches it', async (t) => {
  const node = await streamNode(t);
  const c = client(t, node.wsUrl);
  const got: MeshEvent[] = [];
  await c.subscribe('seq.>', (e) => got.push(e), { stream: 'seq', from: 'new' });
  const errors: MeshgateError[] = [];
  c.on('error', (e) => errors.push(e));
  const recovered = nextRecovered(c);
  await node.streams.remove('seq');
  const info = await recovered;
  assert.deepEqual([info.recovered, info.reason, info.error?.code], [false, 'unknown-stream', 'MG_ERR_STREAM_UNKNOWN']);
  assert.equal(errors[0]?.code, 'MG_ERR_STREAM_UNKNOWN');
  await node.streams.create({ name: 'seq', filters: ['seq.>'] });
  const pub = await openClient(t, node.wsUrl);
  await pub.request({ op: 'pubs', items: [{ topic: 'seq.n', event: ce('x') }] });
  await pub.request({ op: 'ping' });
  assert.equal(got.length, 0, 'nothing of the new history under the old subscription');
});
