/**
 * Streams end to end, through a real node (`npm run bench`'s 'stream'
 * rows): a `meshgate start` child with an lmdb stream on `bench.>`, beside
 * JetStream on a nats-server -js started here, in the same run, with the
 * same window, batch and payload.
 *
 *   acked publish   WINDOW events in flight (pubs frames of BATCH, each
 *                   answered once stored): events/s and node CPU µs/event,
 *                   for 'group' and 'sync' durability, and on a topic no
 *                   stream matches (the same node without a stream): the
 *                   difference is what the append costs the node.
 *                   Anchor: js.publish with the same window of PubAcks.
 *   replay          a fresh subscriber reads every stored event from
 *                   `first`. Anchor: an ordered consumer from the start.
 *   resume          a live subscriber is away for 2 s while events go on
 *                   at RATE/s: time from subscribing again (from its last
 *                   offset + 1) to holding everything published meanwhile.
 *                   Anchor: an ordered consumer from its last sequence + 1.
 *
 * Server CPU comes from /proc (10 ms ticks): phases last 1-5 s.
 */

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Encoder } from 'cbor-x';
import { connect, DeliverPolicy, type JetStreamClient, type NatsConnection } from 'nats';
import WebSocket from 'ws';
import { CBOR_OPTIONS } from '../broker/event/mod.js';
import { startNatsServer } from '../test/helpers/brokers.js';
import type { NamedBenchResult } from './bench-result.js';
import { cpuDelta, processCpu } from './cpu.js';
import { freePort, startBenchNode } from './meshgate-load.js';

const cbor = new Encoder({ ...CBOR_OPTIONS });
const PAYLOAD = new Uint8Array(256).fill(7);
const BATCH = 128;
/** Batches in flight: 512 events awaiting their acks. */
const WINDOW = 4;
const EVENTS = 60_000;
const SYNC_EVENTS = 1_280;
const RATE = 2_000;
const AWAY_MS = 2_000;

interface Phase {
  events: number;
  ms: number;
  serverCpuUs: number;
}

const row = (name: string, p: Phase, details: Record<string, unknown> = {}): NamedBenchResult => ({
  name,
  eventsPerSec: Math.round(p.events / (p.ms / 1000)),
  p50Ms: NaN,
  p99Ms: NaN,
  serverCpuUsPerEvent: +(p.serverCpuUs / p.events).toFixed(2),
  details: { ...p, ...details },
});

/** Runs `batches` calls of `send(k)` with at most WINDOW unresolved, timing them against `pid`'s CPU. */
async function windowed(pid: number, batches: number, send: (k: number) => Promise<void>): Promise<Phase> {
  const cpu0 = processCpu(pid);
  const t0 = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let k = 0; k < batches; k++) {
    const p = send(k).then(() => {
      inFlight.delete(p);
    });
    inFlight.add(p);
    if (inFlight.size >= WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return { events: batches * BATCH, ms: performance.now() - t0, serverCpuUs: cpuDelta(cpu0, processCpu(pid)).totalUs };
}

/** A CBOR /v1/ws client: acked `pubs`, stream subscriptions counting offsets. */
class StreamClient {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, (f: Record<string, unknown>) => void>();
  readonly #source = `bench-${randomUUID().slice(0, 8)}`;
  #ref = 1;
  #seq = 0;
  /** Highest stream offset received, and how many stream items. */
  lastOffset = 0;
  received = 0;
  onItem?: () => void;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (raw: Buffer) => {
      const f = cbor.decode(raw) as Record<string, unknown>;
      if (f.op === 'events') {
        for (const item of f.events as Array<{ offset?: number }>) {
          this.received++;
          if (item.offset !== undefined && item.offset > this.lastOffset) this.lastOffset = item.offset;
        }
        this.onItem?.();
        return;
      }
      const done = typeof f.ref === 'number' ? this.#pending.get(f.ref) : undefined;
      if (done === undefined) return;
      this.#pending.delete(f.ref as number);
      done(f);
    });
  }

  static async open(url: string): Promise<StreamClient> {
    const ws = new WebSocket(url, 'meshgate.v1.cbor', { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    const client = new StreamClient(ws);
    await once(ws, 'open');
    return client;
  }

  request(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    const ref = this.#ref++;
    return new Promise((resolve, reject) => {
      this.#pending.set(ref, (f) => (f.op === 'ok' ? resolve(f) : reject(new Error(`${String(f.code)}: ${String(f.message)}`))));
      this.#ws.send(cbor.encode({ ...frame, ref }));
    });
  }

  /** One acked batch of `n` events on `topic`: answered once every one is stored. */
  async publish(topic: string, n = BATCH): Promise<void> {
    const items = [];
    for (let i = 0; i < n; i++)
      items.push({ topic, event: { specversion: '1.0', id: String(++this.#seq), source: this.#source, type: 'bench', data: PAYLOAD } });
    await this.request({ op: 'pubs', items });
  }

  /** Resolves once `done()` holds, checked after each delivered frame. */
  until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      this.onItem = () => {
        if (!done()) return;
        this.onItem = undefined;
        resolve();
      };
    });
  }

  close(): void {
    this.#ws.close();
  }
}

async function meshgateRows(): Promise<NamedBenchResult[]> {
  const rows: NamedBenchResult[] = [];
  for (const durability of ['group', 'sync'] as const) {
    const node = await startBenchNode(
      `stream-${durability}`,
      await freePort(),
      [],
      {},
      {
        storage: { durability },
        streams: [{ name: 'bench', filters: ['bench.>'] }],
      },
    );
    const pid = node.child.pid!;
    try {
      const pub = await StreamClient.open(node.wsUrl);
      const n = (durability === 'sync' ? SYNC_EVENTS : EVENTS) / BATCH;
      if (durability === 'group') {
        await windowed(pid, 20, () => pub.publish('plain.warm')); // JIT and first-commit costs out of the figures
        const plain = await windowed(pid, n, () => pub.publish('plain.x'));
        rows.push(row('meshgate acked publish, no stream', plain));
      }
      const stored = await windowed(pid, n, () => pub.publish('bench.x'));
      rows.push(row(`meshgate acked publish, stored ('${durability}')`, stored));
      if (durability === 'sync') break;

      const reader = await StreamClient.open(node.wsUrl);
      const total = stored.events;
      const cpu0 = processCpu(pid);
      const t0 = performance.now();
      await reader.request({ op: 'sub', filter: 'bench.>', stream: 'bench', from: 'first' });
      await reader.until(() => reader.received >= total);
      rows.push(row('meshgate replay from first', { events: total, ms: performance.now() - t0, serverCpuUs: cpuDelta(cpu0, processCpu(pid)).totalUs }));
      reader.close();

      rows.push(await meshgateResume(node.wsUrl, pub, node.port));
      pub.close();
    } finally {
      await node.stop();
    }
  }
  return rows;
}

/** Publishes RATE/s in batches of RATE/100 every 10 ms until `stop()`. */
function paced(publish: (n: number) => Promise<void>): { stop: () => Promise<void> } {
  let running = true;
  const loop = (async () => {
    const t0 = performance.now();
    for (let k = 1; running; k++) {
      await publish(RATE / 100);
      const wait = t0 + k * 10 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

async function meshgateResume(url: string, pub: StreamClient, port: number): Promise<NamedBenchResult> {
  const lastOffset = async () => ((await (await fetch(`http://127.0.0.1:${port}/v1/streams/bench`)).json()) as { last: number }).last;
  const live = await StreamClient.open(url);
  await live.request({ op: 'sub', filter: 'bench.>', stream: 'bench', from: 'new' });
  const load = paced((n) => pub.publish('bench.live', n));
  await live.until(() => live.received >= RATE / 2);
  live.close();
  const resumeAfter = live.lastOffset;
  await new Promise((r) => setTimeout(r, AWAY_MS));
  const target = await lastOffset();
  const back = await StreamClient.open(url);
  const t0 = performance.now();
  await back.request({ op: 'sub', filter: 'bench.>', stream: 'bench', from: resumeAfter + 1 });
  await back.until(() => back.lastOffset >= target);
  const ms = performance.now() - t0;
  await load.stop();
  back.close();
  return { ...row('meshgate resume after 2 s away', { events: target - resumeAfter, ms, serverCpuUs: NaN }), p50Ms: +ms.toFixed(2) };
}

async function jetStreamRows(): Promise<NamedBenchResult[]> {
  const nats = await startNatsServer({ jetstream: true });
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: nats.url });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'bench', subjects: ['bench.>'] });
    const js = nc.jetstream();
    const publish = (n: number) => Promise.all(Array.from({ length: n }, () => js.publish('bench.x', PAYLOAD))).then(() => undefined);
    await windowed(nats.pid, 20, () => publish(BATCH));
    const stored = await windowed(nats.pid, EVENTS / BATCH, () => publish(BATCH));
    const rows = [row('jetstream acked publish (PubAck)', stored)];

    const total = (await jsm.streams.info('bench')).state.messages;
    const cpu0 = processCpu(nats.pid);
    const t0 = performance.now();
    await orderedRead(js, 1, total);
    rows.push(
      row('jetstream ordered consumer from first', { events: total, ms: performance.now() - t0, serverCpuUs: cpuDelta(cpu0, processCpu(nats.pid)).totalUs }),
    );

    // Resume: live from the end, away 2 s, then from the last sequence seen + 1.
    const startSeq = (await jsm.streams.info('bench')).state.last_seq + 1;
    const load = paced(publish);
    const seen = await orderedRead(js, startSeq, RATE / 2);
    await new Promise((r) => setTimeout(r, AWAY_MS));
    const target = (await jsm.streams.info('bench')).state.last_seq;
    const r0 = performance.now();
    await orderedRead(js, seen + 1, target - seen);
    const ms = performance.now() - r0;
    await load.stop();
    rows.push({ ...row('jetstream resume after 2 s away', { events: target - seen, ms, serverCpuUs: NaN }), p50Ms: +ms.toFixed(2) });
    return rows;
  } finally {
    await nc?.close();
    await nats.stop();
  }
}

/** Reads `count` messages with an ordered consumer from sequence `from`; returns the last sequence read. */
async function orderedRead(js: JetStreamClient, from: number, count: number): Promise<number> {
  const consumer = await js.consumers.get('bench', { opt_start_seq: from, deliver_policy: DeliverPolicy.StartSequence } as never);
  const messages = await consumer.consume({ max_messages: 1024 });
  let n = 0;
  let last = from - 1;
  for await (const m of messages) {
    last = m.seq;
    if (++n >= count) break;
  }
  await messages.close();
  return last;
}

/** The 'stream' rows: meshgate's then JetStream's, one run. */
export async function streamNodeBench(): Promise<NamedBenchResult[]> {
  return [...(await meshgateRows()), ...(await jetStreamRows())];
}
