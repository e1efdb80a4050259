/**
 * Bridge cost (issue 4, Bench): the same producer and consumer, once
 * talking to the broker directly and once through a meshgate node's
 * bridges, in the same run:
 *
 *   direct mqtt        MQTT 5 producer -> mosquitto -> MQTT 5 consumer (QoS 1 both ways)
 *   mqtt->mesh->ws     MQTT 5 producer -> mosquitto -> node (mqtt bridge) -> WebSocket consumer (/v1/ce)
 *   direct amqp        AMQP producer (confirms, persistent) -> RabbitMQ -> AMQP consumer (manual acks),
 *                      publishing the very message the AMQP bridge publishes (headers with provenance, message-id)
 *   nats->mesh->amqp   NATS producer -> nats-server -> node (nats + amqp bridges) -> RabbitMQ -> AMQP consumer
 *
 * The NATS -> AMQP path has no direct twin (two brokers); its yardstick is
 * the direct AMQP path, the leg a bridge can never beat. The node runs as
 * its own process (`meshgate start --config`), brokers are started once
 * for all four scenarios. Events are binary-mode CloudEvents whose data
 * is the sequence number; server CPU is every server process on the path
 * (brokers + node) per delivered event. Each scenario runs WARMUP events
 * first (not measured), then the burst (events/s, CPU) and the paced
 * phase (latency).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { connect as natsConnect, headers as natsHeaders } from 'nats';
import WebSocket from 'ws';
import { type BrokerHandle, freePort, startMosquitto, startNatsServer, startRabbitMQ } from '../test/helpers/brokers.js';
import type { BenchResult } from './bench-result.js';
import { cpuDelta, processesCpu } from './cpu.js';
import { summarize } from './latency.js';

/**
 * Warm-up events, sent and received before the burst and not measured.
 * The node under test is a fresh process per scenario while the brokers
 * and this process are not; without a warm-up the bridge rows time the
 * node's JIT compiling its hot paths as much as the path itself.
 */
const WARMUP = 5_000;
/** Burst phase events. */
const BURST = 40_000; // ~1.5 s at the bridge rate: CPU readings come in 10 ms ticks (bench/cpu.ts)
/** Paced phase: events at RATE per second. */
const PACED = 2_000;
const RATE = 1_000;
/** Most unacknowledged sends in the warm-up and burst. */
const WINDOW = 500;
/** Any phase gives up after this long. */
const PHASE_TIMEOUT_MS = 60_000;

/** The bench node's id: it appears in the provenance headers the AMQP bridge writes. */
const NODE_ID = 'bench-bridges';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'meshgate.js');

interface Brokers {
  mq: BrokerHandle;
  nats: BrokerHandle;
  rmq: BrokerHandle;
}
let brokers: Promise<Brokers> | null = null;
/** Started on first use, shared by the four scenarios; closeSharedBrokers() stops them. */
function sharedBrokers(): Promise<Brokers> {
  brokers ??= Promise.all([startMosquitto(), startNatsServer(), startRabbitMQ()]).then(([mq, nats, rmq]) => ({ mq, nats, rmq }));
  return brokers;
}

/**
 * Stops the shared brokers gracefully. The helpers' exit handler can only
 * SIGKILL the rabbitmq-server script, which leaves its Erlang VM running,
 * so the bench runner calls this before it exits.
 */
export async function closeSharedBrokers(): Promise<void> {
  if (brokers === null) return;
  const b = await brokers.catch(() => null);
  brokers = null;
  if (b !== null) await Promise.all([b.mq.stop(), b.nats.stop(), b.rmq.stop()]);
}

/** One end-to-end path: `send(i)` publishes event i; `received` is called with i on delivery. */
interface Path {
  readonly serverPids: number[];
  /** A promise where the client confirms sends, nothing where it does not. */
  // biome-ignore lint/suspicious/noConfusingVoidType: implementations return a promise or nothing at all
  send(i: number): Promise<unknown> | void;
  close(): Promise<void>;
}

function ceAttrs(i: number): Record<string, string> {
  return { specversion: '1.0', id: `bench-${i}`, source: '/bench', type: 'com.example.bench', datacontenttype: 'application/json' };
}

/** Runs a burst then a paced phase over `open(received)` and returns one bench row. */
async function measure(open: (received: (i: number) => void) => Promise<Path>): Promise<BenchResult> {
  // Event numbers: [0, WARMUP) warm-up, then BURST burst events, then PACED paced ones.
  const burstEnd = WARMUP + BURST;
  const total = burstEnd + PACED;
  let got = 0;
  let doneAt = 0;
  let target = WARMUP;
  let onTarget: (() => void) | null = null;
  const sentAt = new Float64Array(total);
  const latency = new Float64Array(PACED);
  let latencyCount = 0;
  const seen = new Uint8Array(total);
  const p = await open((i) => {
    if (i < 0 || i >= seen.length || seen[i] === 1) return;
    seen[i] = 1;
    got++;
    if (i >= burstEnd) latency[latencyCount++] = (performance.now() - sentAt[i]!) * 1000;
    if (got === target) {
      doneAt = performance.now();
      onTarget?.();
    }
  });
  const reached = () =>
    new Promise<void>((resolve, reject) => {
      if (got >= target) return resolve();
      const timer = setTimeout(() => reject(new Error(`got ${got} of ${target} after ${PHASE_TIMEOUT_MS} ms`)), PHASE_TIMEOUT_MS);
      onTarget = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  /** Sends events [from, to) as fast as the producer's window allows; resolves when the producer has them all acknowledged. */
  const sendWindowed = async (from: number, to: number) => {
    const inflight = new Set<Promise<unknown>>();
    for (let i = from; i < to; i++) {
      const r = p.send(i);
      if (r instanceof Promise) {
        inflight.add(r);
        void r.finally(() => inflight.delete(r));
        if (inflight.size >= WINDOW) await Promise.race(inflight);
      } else if (i % WINDOW === WINDOW - 1) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(inflight);
  };
  try {
    await sendWindowed(0, WARMUP);
    await reached();
    // Burst: as fast as the producer's window allows.
    target = burstEnd;
    const cpu0 = processesCpu(p.serverPids);
    const t0 = performance.now();
    await sendWindowed(WARMUP, burstEnd);
    await reached();
    const cpu = cpuDelta(cpu0, processesCpu(p.serverPids));
    const seconds = (doneAt - t0) / 1000;
    // Paced: RATE events/s in 10 ms slices.
    target = total;
    const perSlice = RATE / 100;
    const pacedAcks: Promise<unknown>[] = [];
    const start = performance.now();
    for (let i = burstEnd; i < total; ) {
      for (let k = 0; k < perSlice && i < total; k++, i++) {
        sentAt[i] = performance.now();
        const r = p.send(i);
        if (r instanceof Promise) pacedAcks.push(r.catch(() => undefined));
      }
      const next = start + ((i - burstEnd) / RATE) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
    await reached();
    await Promise.all(pacedAcks);
    const s = summarize(latency.subarray(0, latencyCount));
    return {
      eventsPerSec: BURST / seconds,
      p50Ms: s.p50 / 1000,
      p99Ms: s.p99 / 1000,
      serverCpuUsPerEvent: cpu.totalUs / BURST,
      lost: total - got,
      details: { burstSeconds: seconds, latency: s },
    };
  } finally {
    await p.close();
  }
}

/** `meshgate start --config` with the given bridges; resolves once every bridge is up. */
async function startNode(bridges: unknown[]): Promise<{ child: ChildProcess; port: number; stop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mg-bench-bridges-'));
  const port = await freePort();
  const file = path.join(dir, 'node.json');
  fs.writeFileSync(file, JSON.stringify({ node: { id: NODE_ID, region: 'bench' }, listen: { host: '127.0.0.1', port }, bridges }));
  const child = spawn(process.execPath, [CLI, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`meshgate exited: ${out}`);
    if (out.includes(' ready\n')) {
      try {
        const body = (await (await fetch(`http://127.0.0.1:${port}/v1/bridges`)).json()) as { bridges: Array<{ state: string }> };
        if (body.bridges.every((b) => b.state === 'up')) break;
      } catch {
        /* not listening yet */
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`meshgate bridges not up after 30 s: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port, stop };
}

/** Waits until the node's bridges hold at least one upstream subscription each that imports. */
async function importsSubscribed(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const body = (await (await fetch(`http://127.0.0.1:${port}/v1/bridges`)).json()) as { bridges: Array<{ subscriptions: string[]; name: string }> };
    if (body.bridges.some((b) => b.subscriptions.length > 0)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('bridge never subscribed upstream');
}

async function mqttProducer(url: string): Promise<{ send(i: number): Promise<unknown>; close(): Promise<void> }> {
  const c = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0 });
  return {
    send: (i) => {
      const { datacontenttype, ...rest } = ceAttrs(i);
      return c.publishAsync('bench/x', String(i), { qos: 1, properties: { contentType: datacontenttype, userProperties: rest } });
    },
    close: () => c.endAsync(true),
  };
}

export async function directMqtt(): Promise<BenchResult> {
  const { mq } = await sharedBrokers();
  return measure(async (received) => {
    const consumer = await mqtt.connectAsync(mq.url, { protocolVersion: 5, reconnectPeriod: 0 });
    consumer.on('message', (_t, payload) => received(Number(payload.toString())));
    await consumer.subscribeAsync('bench/#', { qos: 1 });
    const producer = await mqttProducer(mq.url);
    return {
      serverPids: [mq.pid],
      send: producer.send,
      close: async () => {
        await producer.close();
        await consumer.endAsync(true);
      },
    };
  });
}

export async function mqttToWs(): Promise<BenchResult> {
  const { mq } = await sharedBrokers();
  const node = await startNode([{ type: 'mqtt', url: mq.url, import: [{ broker: 'bench/#', mesh: 'bench.>' }], export: [] }]);
  try {
    return await measure(async (received) => {
      const ws = new WebSocket(`ws://127.0.0.1:${node.port}/v1/ce/bench.%3E`, 'cloudevents.json');
      ws.on('message', (raw: Buffer) => received(Number((JSON.parse(raw.toString('utf8')) as { data: number }).data)));
      await once(ws, 'open');
      await importsSubscribed(node.port);
      const producer = await mqttProducer(mq.url);
      return {
        serverPids: [mq.pid, node.child.pid!],
        send: producer.send,
        close: async () => {
          await producer.close();
          ws.terminate();
        },
      };
    });
  } finally {
    await node.stop();
  }
}

async function amqpConsumer(url: string, received: (i: number) => void): Promise<() => Promise<void>> {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  await ch.prefetch(1000);
  const q = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(q.queue, 'amq.topic', 'bench.#');
  await ch.consume(q.queue, (msg) => {
    if (msg === null) return;
    received(Number(msg.content.toString()));
    ch.ack(msg);
  });
  return () => conn.close().catch(() => undefined);
}

/**
 * The message the AMQP bridge publishes for event i in natsToAmqp (binary
 * mode): the same 8 headers, provenance included, with values of the same
 * length, message-id and persistence, so RabbitMQ and the consumer do the
 * same work per message on both rows.
 */
function bridgeLikeAmqpMessage(i: number, natsUrl: string): { body: Buffer; options: amqp.Options.Publish } {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(ceAttrs(i))) if (k !== 'datacontenttype') headers[`cloudEvents_${k}`] = v;
  headers.cloudEvents_mgorigin = NODE_ID;
  headers.cloudEvents_mgprotocol = 'nats';
  headers.cloudEvents_mgtopic = `${natsUrl}/bench.x`;
  headers.cloudEvents_mghops = `${NODE_ID}@bench@${Date.now()}`;
  return { body: Buffer.from(String(i)), options: { headers, contentType: 'application/json', messageId: `bench-${i}`, deliveryMode: 2 } };
}

export async function directAmqp(): Promise<BenchResult> {
  const { rmq, nats } = await sharedBrokers();
  return measure(async (received) => {
    const closeConsumer = await amqpConsumer(rmq.url, received);
    const conn = await amqp.connect(rmq.url);
    const ch = await conn.createConfirmChannel();
    return {
      serverPids: [rmq.pid],
      send: (i) =>
        new Promise<void>((resolve, reject) => {
          const { body, options } = bridgeLikeAmqpMessage(i, nats.url);
          ch.publish('amq.topic', 'bench.x', body, options, (err) => (err ? reject(err) : resolve()));
        }),
      close: async () => {
        await conn.close().catch(() => undefined);
        await closeConsumer();
      },
    };
  });
}

export async function natsToAmqp(): Promise<BenchResult> {
  const { nats, rmq } = await sharedBrokers();
  const node = await startNode([
    { type: 'nats', url: nats.url, import: [{ broker: 'bench.>', mesh: 'bench.>' }], export: [] },
    { type: 'amqp', url: rmq.url, queue: 'bench-bridges', import: [], export: [{ mesh: 'bench.>', broker: 'bench' }] },
  ]);
  try {
    return await measure(async (received) => {
      const closeConsumer = await amqpConsumer(rmq.url, received);
      await importsSubscribed(node.port);
      const nc = await natsConnect({ servers: nats.url });
      return {
        serverPids: [nats.pid, rmq.pid, node.child.pid!],
        send: (i) => {
          const h = natsHeaders();
          for (const [k, v] of Object.entries(ceAttrs(i))) h.set(`ce-${k}`, v);
          nc.publish('bench.x', Buffer.from(String(i)), { headers: h });
        },
        close: async () => {
          await nc.close();
          await closeConsumer();
        },
      };
    });
  } finally {
    await node.stop();
  }
}
