/**
 * Bench scenario registry: `npm run bench` runs these in order and prints
 * one table row each. Add an entry to add a row; put an anchor before the
 * scenarios that name it.
 *
 * Budget: the whole list must finish well under 5 minutes on 2 cores
 * (bench/run.ts stops starting new scenarios after 270 s). Size phases to
 * last 1-5 s: server CPU comes from /proc in 10 ms ticks.
 */

import type { Scenario } from './bench-result.js';
import { directAmqp, directMqtt, mqttToWs, natsToAmqp } from './bridges-bench.js';
import { connectionsBench } from './connections-bench.js';
import { dedupBench } from './dedup-bench.js';
import { httpBench } from './http-bench.js';
import { meshgateLineLoad, meshgateLoad } from './meshgate-load.js';
import { type AnchorOptions, type AnchorResult, natsAnchor, natsClusterAnchor, natsLineAnchor } from './nats-anchor.js';
import { abab, type Side } from './paired-runs.js';
import { pgApplyMesh, pgApplyNative } from './pg-sink-bench.js';
import { pipelineBench } from './pipeline-bench.js';
import { streamStoreBench } from './stream-append-bench.js';
import { streamNodeBench } from './stream-node-bench.js';
import { tracingBench } from './tracing-bench.js';
import { trieBench } from './trie-bench.js';
import { validationBench } from './validation-bench.js';

const PAYLOAD = 256;

/** 1→1: ~1.5-2 s burst, 2 s at 10k/s. */
export const ONE_TO_ONE: AnchorOptions = {
  payloadBytes: PAYLOAD,
  subscribers: 1,
  events: 1_000_000,
  fixedRate: 10_000,
  latencyEvents: 20_000,
};

/**
 * 1→100: 40k events = 4M deliveries (~3-7 s); latency at 1k events/s
 * = 100k deliveries/s for 2 s. 100 subscriber connections in 2 processes
 * (more processes only add contention on 2 cores).
 */
export const ONE_TO_HUNDRED: AnchorOptions = {
  payloadBytes: PAYLOAD,
  subscribers: 100,
  subscriberProcesses: 2,
  events: 40_000,
  fixedRate: 1_000,
  latencyEvents: 2_000,
};

/** A scenario of an anchor and a meshgate row measured in turns (paired-runs.ts). */
/**
 * A quarter of a single run's events and half its latency phase per turn:
 * four turns of a pair take about the time one run of each side took
 * before, keeping the whole list inside the runner's budget.
 */
const TURN_ONE_TO_ONE: AnchorOptions = { ...ONE_TO_ONE, events: ONE_TO_ONE.events / 4, latencyEvents: ONE_TO_ONE.latencyEvents / 2 };
const TURN_ONE_TO_HUNDRED: AnchorOptions = { ...ONE_TO_HUNDRED, events: ONE_TO_HUNDRED.events / 4, latencyEvents: ONE_TO_HUNDRED.latencyEvents / 2 };

const pair = (name: string, target: string, note: string, anchor: Side, meshgate: Side): Scenario => ({
  name,
  target,
  note,
  run: () => abab(anchor, meshgate, 2),
});
const side = (name: string, run: () => Promise<AnchorResult>): Side => ({ name, run });

export const scenarios: Scenario[] = [
  // ---- meshgate beside nats-server: each pair A B A B (bench/paired-runs.ts; `--only pair`), the same harness, payload and
  // fan-out; CBOR client protocol, pubs frames built from a template as a NATS client builds PUB lines.
  pair(
    'pair 1→1',
    'nats-server / meshgate',
    'lat @10k ev/s; A B A B, mean of 2',
    side('nats', () => natsAnchor(TURN_ONE_TO_ONE)),
    side('meshgate', () => meshgateLoad(TURN_ONE_TO_ONE)),
  ),
  pair(
    'pair 1→100',
    'nats-server / meshgate',
    'lat @1k ev/s = 100k deliveries/s; A B A B',
    side('nats', () => natsAnchor(TURN_ONE_TO_HUNDRED)),
    side('meshgate', () => meshgateLoad(TURN_ONE_TO_HUNDRED)),
  ),
  pair(
    'pair 1 hop 1→1',
    'nats x2 routes / meshgate x2 peers',
    'pub on A, sub on B; CPU = A+B; A B A B',
    side('nats-cluster', () => natsClusterAnchor(TURN_ONE_TO_ONE)),
    side('meshgate', () => meshgateLineLoad(TURN_ONE_TO_ONE, 1)),
  ),
  pair(
    'pair 1 hop 1→100',
    'nats x2 routes / meshgate x2 peers',
    'pub on A, 100 subs on B; CPU = A+B; A B A B',
    side('nats-cluster', () => natsClusterAnchor(TURN_ONE_TO_HUNDRED)),
    side('meshgate', () => meshgateLineLoad(TURN_ONE_TO_HUNDRED, 1)),
  ),
  pair(
    'pair 2 hops 1→1',
    'nats x3 leafnode line / meshgate x3 line',
    'A-B-C, pub on A, sub on C; CPU = A+B+C; A B A B',
    side('nats-line', () => natsLineAnchor(TURN_ONE_TO_ONE, 2)),
    side('meshgate', () => meshgateLineLoad(TURN_ONE_TO_ONE, 2)),
  ),

  // ---- many connections (bench/connections-bench.ts): 10k idle, then subscribed to distinct topics, RSS per
  // connection and the CPU of one publish reaching one of them, nats-server then meshgate.
  {
    name: 'connections',
    target: 'nats-server / meshgate',
    note: 'RSS per conn in the name; events/s and CPU: each event to one of the conns',
    run: () => connectionsBench(),
  },

  // ---- schema validation at ingress (bench/validation-bench.ts): the same valid change events, no schema vs one bound.
  {
    name: 'validation 1→1',
    target: 'meshgate',
    note: 'db-change-event bodies; CPU/ev = mean of 2 runs per variant',
    run: () => validationBench({ ...ONE_TO_ONE, events: 300_000 }),
  },

  // ---- OpenTelemetry (bench/tracing-bench.ts): the same traffic with tracing off, sampled 1%, always on.
  {
    name: 'tracing 1→1',
    target: 'meshgate',
    note: 'OTLP/HTTP to a local sink; CPU/ev = mean of 2 runs per variant',
    run: () => tracingBench({ ...ONE_TO_ONE, events: 200_000 }),
  },

  // ---- bridges (bench/bridges-bench.ts): the same producer and consumer, direct vs through a node's bridges.
  {
    name: 'bridge direct mqtt',
    target: 'mosquitto',
    note: 'MQTT 5 QoS 1 -> MQTT 5 consumer; lat @1k ev/s',
    run: directMqtt,
  },
  {
    name: 'bridge mqtt->mesh->ws',
    target: 'mosquitto + meshgate',
    anchor: 'bridge direct mqtt',
    note: 'MQTT 5 QoS 1 -> bridge -> /v1/ce WebSocket; lat @1k ev/s',
    run: mqttToWs,
  },
  {
    name: 'bridge direct amqp',
    target: 'rabbitmq',
    note: 'confirms + persistent -> consumer with acks; lat @1k ev/s',
    run: directAmqp,
  },
  {
    name: 'bridge nats->mesh->amqp',
    target: 'nats + meshgate + rabbitmq',
    anchor: 'bridge direct amqp',
    note: 'NATS -> bridge -> bridge (confirms) -> AMQP consumer; lat @1k ev/s',
    run: natsToAmqp,
  },

  // ---- the HTTP binding beside WebSocket (bench/http-bench.ts): one node process, SSE and /v1/ws subscribers on
  // the same burst, a stream-fed SSE replay, and POST single / batched beside WebSocket pub with acks.
  {
    name: 'http',
    target: 'meshgate',
    note: '256 B data; deliveries/s or accepted events/s',
    run: httpBench,
  },

  // ---- the node's own per-event cost, no network (bench/pipeline-bench.ts): CPU µs/event in its column.
  {
    name: 'pipeline',
    target: 'broker/mesh-node',
    note: 'in-process, one core, no network or clients',
    run: async () =>
      (await pipelineBench()).map((r) => ({
        name: r.name,
        eventsPerSec: r.eventsPerSec,
        p50Ms: NaN,
        p99Ms: NaN,
        serverCpuUsPerEvent: r.cpuUsPerEvent,
        details: r,
      })),
  },

  // ---- dedup window: checks/s in the events/s column, heap bytes per entry in the notes.
  {
    name: 'dedup',
    target: 'broker/dedup',
    note: 'in-process, checks/s',
    run: async () =>
      (await dedupBench()).map((r) => ({
        name: `${r.name} (${Math.round(r.bytesPerEntry)} B/entry)`,
        eventsPerSec: r.checksPerSec,
        p50Ms: NaN,
        p99Ms: NaN,
        serverCpuUsPerEvent: NaN,
        details: r,
      })),
  },

  // ---- stream stores (bench/stream-append-bench.ts): appends/s and CPU µs per append, replay rate in the notes;
  // JetStream's own acked publisher on the same nats-server -js in the same run is the anchor row.
  {
    name: 'streams',
    target: 'broker/streams',
    note: 'in-process store, 256 B, commits per 500',
    run: async () =>
      streamStoreBench().map((r) => ({
        name: `${r.engine}${r.replayPerSec === undefined ? '' : ` (replay ${r.replayPerSec.toLocaleString('en-US')}/s)`}`,
        eventsPerSec: Math.round(r.events / (r.appendWallMs / 1000)),
        p50Ms: NaN,
        p99Ms: NaN,
        serverCpuUsPerEvent: r.appendCpuUsPerEvent,
        details: r,
      })),
  },

  // ---- streams through a node (bench/stream-node-bench.ts): acked publish stored or not, replay, resume after 2 s away,
  // each beside JetStream on a nats-server -js in the same run; resume rows give the catch-up time in the p50 column.
  {
    name: 'stream',
    target: 'meshgate + lmdb, nats-server -js',
    note: '256 B, 512 acks in flight; CPU = node / nats-server',
    run: streamNodeBench,
  },

  // ---- PostgreSQL to PostgreSQL (bench/pg-sink-bench.ts): one run of the same inserts into two
  // targets, PostgreSQL's own CREATE SUBSCRIPTION (the anchor) and meshgate's source -> peer -> sink.
  // events/s = rows/s of a 10k-row burst, first insert to last apply; p50/p99 = commit-to-apply at 250 rows/s.
  {
    name: 'pg-apply-native',
    target: 'postgresql logical replication',
    note: 'two clusters, burst 10k rows (tx of 100), latency at 250 tx/s',
    run: pgApplyNative,
  },
  {
    name: 'pg-apply-mesh',
    target: 'meshgate postgres-source + postgres-sink',
    anchor: 'pg-apply-native',
    note: 'same run, same inserts; two nodes peered',
    run: pgApplyMesh,
  },

  // ---- routing micro-bench (bench/trie-bench.ts): matches/s in the events/s column.
  {
    name: 'trie',
    target: 'routing/topic-trie',
    note: 'in-process, matches/s',
    run: async () =>
      (await trieBench()).map((r) => ({
        name: r.name,
        eventsPerSec: r.matchesPerSec,
        p50Ms: NaN,
        p99Ms: NaN,
        serverCpuUsPerEvent: NaN,
        details: r,
      })),
  },
];
