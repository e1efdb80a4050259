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

test('a stream subscriber cut off for 2 s while 2,000 events are published at 1,000/s resumes with none lost, none repeated, in order', async (t) => {
  const node = await streamNode(t);
  const proxy = await startTcpProxy(node.port);
  t.after(() => proxy.close());
  const sub = client(t, `ws://127.0.0.1:${proxy.port}/v1/ws`);
  const got: MeshEvent[] = [];
  let all: (() => void) | null = null;
  const handle = await sub.subscribe(
    'seq.>',
    (e) => {
      got.push(e);
      if (got.length === 2000) all?.();
    },
    { stream: 'seq', from: 'new' },
  );
  assert.equal(handle.next, 1);
  const pub = await openClient(t, node.wsUrl);
  let recovered: Promise<RecoveredInfo> | null = null;
  const start = Date.now();
  // 40 batches of 50, one every 50 ms: 1,000 events/s for 2 s.
  for (let b = 0; b < 40; b++) {
    if (b === 10) {
      recovered = nextRecovered(sub);
      proxy.hold(); // reconnects wait...
      proxy.cut();
      setTimeout(() => proxy.release(), 2000).unref(); // ...2 s
    }
    const items = Array.from({ length: 50 }, (_, k) => ({ topic: 'seq.n', event: ce(`n${b * 50 + k}`, { data: b * 50 + k }) }));
    assert.equal((await pub.request({ op: 'pubs', items })).op, 'ok');
    const due = start + (b + 1) * 50 - Date.now();
    if (due > 0) await new Promise((r) => setTimeout(r, due));
  }
  const info = await recovered!;
  assert.deepEqual(info, { stream: 'seq', filter: 'seq.>', recovered: true });
  if (got.length < 2000) await new Promise<void>((resolve) => (all = resolve));
  assert.equal(got.length, 2000, 'none lost, none repeated');
  assert.deepEqual(
    got.map((e) => e.json()),
    Array.from({ length: 2000 }, (_, i) => i),
  );
  assert.deepEqual(
    got.map((e) => e.offset),
    Array.from({ length: 2000 }, (_, i) => i + 1),
  );
  assert.ok(sub.stats.reconnects >= 1);
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

test('a stream re-created under a live subscription ends it with MG_ERR_STREAM_EPOCH, reported as not recovered', async (t) => {
  const node = await streamNode(t);
  const c = client(t, node.wsUrl);
  const got: MeshEvent[] = [];
  const first = await c.subscribe('seq.>', (e) => got.push(e), { stream: 'seq', from: 'new' });
  const errors: MeshgateError[] = [];
  c.on('error', (e) => errors.push(e));
  const recovered = nextRecovered(c);
  await node.streams.remove('seq');
  await node.streams.create({ name: 'seq', filters: ['seq.>'] });
  const pub = await openClient(t, node.wsUrl);
  await pub.request({ op: 'pubs', items: [{ topic: 'seq.n', event: ce('x') }] });
  const info = await recovered;
  assert.deepEqual([info.recovered, info.reason, info.error?.code], [false, 'epoch', 'MG_ERR_STREAM_EPOCH']);
  assert.notEqual(info.error?.stream?.epoch, first.epoch);
  assert.equal(got.length, 0, 'nothing of the new history under the old epoch');
  assert.equal(errors[0]?.code, 'MG_ERR_STREAM_EPOCH');
});
