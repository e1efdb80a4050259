/**
 * Durable consumers across restarts, with real processes: a consumer
 * process killed with SIGKILL and started again mid-stream, and a node
 * killed with kill -9 and started again (lmdb, and JetStream on a real
 * nats-server -js). 5,000 sequence-numbered events each; every test
 * counts what was lost, applied twice and applied out of order.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startNatsServer } from '../helpers/brokers.js';
import { freePort, NodeProcess } from '../helpers/mesh.js';
import { ce, type FrameClient, openClient, startTestNode } from '../helpers/node.js';
import { testTmpDir } from '../helpers/tmp.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'consumer-child.js');
const TOTAL = 5000;

interface ConsumerProcess {
  /** Resolves once an event at `offset` or later is applied. */
  applied(offset: number): Promise<void>;
  /** Resolves once the ack of `offset` is stored. */
  acked(offset: number): Promise<void>;
  kill(): Promise<void>;
}

function startConsumer(
  t: TestContext,
  o: { url: string; consumer: string; log: string; mode: 'once' | 'at-least-once'; maxInFlight: number },
): ConsumerProcess {
  const proc = spawn(process.execPath, [CHILD, o.url, 'seq', o.consumer, o.log, o.mode, String(o.maxInFlight)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(proc, 'exit');
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  });
  let appliedMax = 0;
  let ackedMax = 0;
  const waiters: Array<{ ok: () => boolean; resolve: () => void }> = [];
  readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
    const [what, a, b] = line.split(' ');
    if (what === 'applied') appliedMax = Math.max(appliedMax, Number(b));
    if (what === 'acked') ackedMax = Math.max(ackedMax, Number(a));
    for (const w of waiters.splice(0))
      if (w.ok()) w.resolve();
      else waiters.push(w);
  });
  const wait = (ok: () => boolean, what: string) =>
    ok()
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          waiters.push({ ok, resolve });
          void exited.then(() => reject(new Error(`consumer process exited before ${what}`)));
        });
  return {
    applied: (offset) => wait(() => appliedMax >= offset, `applying offset ${offset}`),
    acked: (offset) => wait(() => ackedMax >= offset, `acking offset ${offset}`),
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Publishes seq from..from+count-1 as events whose data is the seq, in `pubs` frames of 100, each acked (stored). */
async function publishSeq(client: FrameClient, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i += 100) {
    const items = [];
    for (let s = i; s < Math.min(i + 100, from + count); s++) items.push({ topic: 'seq.x', event: ce(`s${s}`, { data: s }) });
    const r = await client.request({ op: 'pubs', items });
    assert.equal(r.accepted, items.length, JSON.stringify(r));
  }
}

interface Tally {
  lost: number;
  /** Events applied more than once. */
  duplicated: number;
  /** Applies of a seq lower than one applied before. */
  reordered: number;
  /** Deliveries of an offset received before (delivery count > 1). */
  redelivered: number;
  /** Highest offset whose ack() resolved. */
  ackedMax: number;
}

function tally(log: string): Tally {
  const applied = new Uint8Array(TOTAL);
  const t: Tally = { lost: 0, duplicated: 0, reordered: 0, redelivered: 0, ackedMax: 0 };
  let maxSeq = -1;
  for (const line of existsSync(log) ? readFileSync(log, 'utf8').split('\n') : []) {
    const [what, a, b, c] = line.split(' ');
    if (what === 'D' && Number(c) > 1) t.redelivered++;
    if (what === 'K') t.ackedMax = Math.max(t.ackedMax, Number(a));
    if (what !== 'A') continue;
    const seq = Number(b);
    if (applied[seq]) t.duplicated++;
    applied[seq] = 1;
    if (seq < maxSeq) t.reordered++;
    maxSeq = Math.max(maxSeq, seq);
  }
  for (let s = 0; s < TOTAL; s++) if (!applied[s]) t.lost++;
  return t;
}

async function consumerInfo(httpUrl: string, name: string): Promise<{ ackFloor: number; inFlight: number; lag: number }> {
  const info = (await (await fetch(`${httpUrl}/v1/streams/seq`)).json()) as {
    consumers: Array<{ name: string; ackFloor: number; inFlight: number; lag: number }>;
  };
  return info.consumers.find((c) => c.name === name)!;
}

/** The consumer process killed twice mid-stream (once while the producer is still publishing), then left to finish. */
async function consumerKilledTwice(t: TestContext, mode: 'once' | 'at-least-once', maxInFlight: number): Promise<Tally> {
  const node = await startTestNode(t, { storage: { dir: testTmpDir(t, 'consumer') }, streams: [{ name: 'seq', filters: ['seq.>'] }] });
  const log = path.join(testTmpDir(t, 'consumer-log'), 'log');
  const pub = await openClient(t, node.wsUrl);
  const o = { url: node.wsUrl, consumer: 'c', log, mode, maxInFlight };
  await publishSeq(pub, 0, 2000);
  let c = startConsumer(t, o);
  await c.applied(500);
  await c.kill();
  const more = publishSeq(pub, 2000, 1500); // published while the consumer is down and after it is back
  c = startConsumer(t, o);
  await c.applied(2500);
  await c.kill();
  await more;
  await publishSeq(pub, 3500, 1500);
  c = startConsumer(t, o);
  await c.acked(TOTAL);
  const info = await consumerInfo(node.httpUrl, 'c');
  assert.deepEqual([info.ackFloor, info.inFlight, info.lag], [TOTAL, 0, 0]);
  return tally(log);
}

test('a consumer process applying then acking each event before the next, SIGKILLed twice mid-stream of 5,000: 0 lost, 0 applied twice, 0 out of order', async (t) => {
  const r = await consumerKilledTwice(t, 'once', 1);
  assert.equal(r.lost, 0);
  assert.equal(r.duplicated, 0);
  assert.equal(r.reordered, 0);
  // One delivery at most was in flight at each kill: the node sent at most that one again.
  assert.ok(r.redelivered <= 2, `redelivered ${r.redelivered}`);
});

test('an at-least-once consumer process (100 in flight, acks not awaited), SIGKILLed twice: 0 lost; what is applied twice is at most what was in flight at the kills', async (t) => {
  const r = await consumerKilledTwice(t, 'at-least-once', 100);
  assert.equal(r.lost, 0);
  assert.ok(r.duplicated <= 2 * 100, `duplicated ${r.duplicated}`);
  assert.ok(r.reordered <= r.duplicated, `reordered ${r.reordered} > duplicated ${r.duplicated}: only a redelivery comes out of order`);
  assert.ok(r.redelivered >= r.duplicated, 'every event applied twice came as a marked redelivery');
});

for (const engine of ['lmdb', 'jetstream'] as const) {
  test(`kill -9 of the node (${engine}) while a consumer is mid-stream of 5,000: the stored ack floor is kept, 0 lost, 0 applied twice`, async (t) => {
    let storage: Record<string, unknown> = {};
    if (engine === 'jetstream') {
      const nats = await startNatsServer({ jetstream: true });
      t.after(() => nats.stop());
      storage = { storage: { engine: 'jetstream', jetstream: { servers: [nats.url] } } };
    }
    const node = new NodeProcess(t, { id: 'n1', port: await freePort(), config: { ...storage, streams: [{ name: 'seq', filters: ['seq.>'] }] } });
    await node.start();
    const pub = await openClient(t, node.wsUrl);
    await publishSeq(pub, 0, TOTAL);
    await pub.close();
    const log = path.join(testTmpDir(t, 'consumer-log'), 'log');
    const c = startConsumer(t, { url: node.wsUrl, consumer: 'c', log, mode: 'once', maxInFlight: 1 });
    await c.acked(2000);
    await node.kill9();
    const storedBeforeKill = tally(log).ackedMax;
    await node.start();
    // The consumer process reconnects by itself; the node kept what it had stored.
    const after = await consumerInfo(node.httpUrl, 'c');
    assert.ok(after.ackFloor >= storedBeforeKill, `ack floor ${after.ackFloor} after restart < ${storedBeforeKill} stored before the kill`);
    await c.acked(TOTAL);
    const info = await consumerInfo(node.httpUrl, 'c');
    assert.deepEqual([info.ackFloor, info.inFlight, info.lag], [TOTAL, 0, 0]);
    const r = tally(log);
    assert.deepEqual([r.lost, r.duplicated, r.reordered], [0, 0, 0]);
    // What the node redelivered is what it had not stored: acks after the last stored one, and the one in flight.
    assert.ok(r.redelivered <= 3, `redelivered ${r.redelivered}`);
    assert.ok((await node.metric('meshgate_stream_consumer_redeliveries_total{stream="seq",consumer="c"}')) === r.redelivered);
  });
}
