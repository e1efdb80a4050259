import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clockTicksPerSecond, cpuDelta, processCpu, selfCpu } from '../../bench/cpu.js';
import { histogram, mergeSamples, percentileSorted, SampleRecorder, summarize } from '../../bench/latency.js';
import { HEADER_BYTES, Kind, readKind, readSendNs, writeHeader } from '../../bench/load/protocol.js';
import { natsAnchor, natsClusterAnchor, natsLineAnchor } from '../../bench/nats-anchor.js';
import { abab } from '../../bench/paired-runs.js';

test('percentileSorted() uses nearest rank: p50 of 1..10 is 5, p99 is 10', () => {
  const sorted = Float64Array.from({ length: 10 }, (_, i) => i + 1);
  assert.equal(percentileSorted(sorted, 50), 5);
  assert.equal(percentileSorted(sorted, 99), 10);
  assert.equal(percentileSorted(sorted, 0), 1);
  assert.ok(Number.isNaN(percentileSorted(new Float64Array(0), 50)));
});

test('summarize() sorts a copy and leaves the samples alone', () => {
  const samples = Float64Array.from([5, 1, 4, 2, 3]);
  const s = summarize(samples);
  assert.deepEqual([s.min, s.p50, s.max, s.mean, s.count], [1, 3, 5, 3, 5]);
  assert.deepEqual([...samples], [5, 1, 4, 2, 3]);
});

test('SampleRecorder grows, caps at its limit and counts what it drops', () => {
  const r = new SampleRecorder(2, 5);
  for (let i = 0; i < 8; i++) r.push(i);
  assert.equal(r.length, 5);
  assert.equal(r.dropped, 3);
  assert.deepEqual([...r.toArray()], [0, 1, 2, 3, 4]);
  assert.deepEqual([...mergeSamples([r.toArray(), Float64Array.from([9])])], [0, 1, 2, 3, 4, 9]);
  assert.deepEqual(histogram(Float64Array.from([1, 2, 3, 10]), [2, 5]), [2, 1, 1]);
});

test('payload header round-trips kind, and the send time to the nanosecond', () => {
  const buf = new Uint8Array(256);
  const ns = Number(process.hrtime.bigint());
  writeHeader(buf, Kind.Paced, 0xfffffffe, ns);
  assert.equal(readKind(buf), Kind.Paced);
  assert.equal(readSendNs(buf), ns);
  assert.ok(HEADER_BYTES <= 256);
});

test('processCpu() reads this process from /proc in CLK_TCK units', () => {
  assert.ok(clockTicksPerSecond() > 0);
  const a = processCpu(process.pid);
  const selfA = selfCpu();
  // Burn 100 ms of CPU, measured as CPU: on a shared machine wall time says
  // nothing about how much of it this process got. Bounded by a deadline.
  const deadline = Date.now() + 5000;
  while (cpuDelta(selfA, selfCpu()).totalUs < 100_000 && Date.now() < deadline) {
    /* burn */
  }
  const used = cpuDelta(a, processCpu(process.pid)).totalUs;
  const selfUsed = cpuDelta(selfA, selfCpu()).totalUs;
  assert.ok(selfUsed >= 100_000, `self ${selfUsed} µs: the burn did not get its CPU within 5 s`);
  // /proc counts in clock ticks (10 ms at CLK_TCK 100): it agrees within two ticks.
  assert.ok(Math.abs(used - selfUsed) <= 20_000 + 1_000_000 / clockTicksPerSecond(), `proc ${used} µs, self ${selfUsed} µs`);
  assert.throws(() => processCpu(2 ** 22 + 12345));
});

// Small runs of the real harness: proves the processes, phases and
// accounting work end to end (the figures themselves are not asserted).
const SMALL = { payloadBytes: 256, events: 5_000, fixedRate: 2_000, latencyEvents: 400 };

test('natsAnchor() 1→3 delivers every event and reports rate, latency and server CPU', { timeout: 60_000 }, async () => {
  const r = await natsAnchor({ ...SMALL, subscribers: 3, subscriberProcesses: 2 });
  assert.equal(r.lost, 0);
  assert.equal(r.load.throughput.deliveries, 15_000);
  assert.equal(r.load.latency.samples, 1_200);
  assert.ok(r.eventsPerSec > 0 && Number.isFinite(r.eventsPerSec));
  assert.ok(r.p50Ms > 0 && r.p99Ms >= r.p50Ms);
  assert.ok(r.serverCpuUsPerEvent >= 0);
  assert.match(r.target, /^nats-server v\d/);
});

test('natsClusterAnchor() carries every event across the route without credit timeouts', { timeout: 60_000 }, async () => {
  const r = await natsClusterAnchor({ ...SMALL, subscribers: 1 });
  assert.equal(r.lost, 0);
  assert.equal(r.load.throughput.creditTimeouts, 0);
  assert.ok(Number.isFinite(r.p99Ms));
});

test('natsLineAnchor() carries every event along a 3-server leafnode line and sums the CPU of all three', { timeout: 60_000 }, async () => {
  const r = await natsLineAnchor({ ...SMALL, subscribers: 1 }, 2);
  assert.equal(r.lost, 0);
  assert.equal(r.load.throughput.deliveries, 5_000);
  assert.equal(r.load.throughput.creditTimeouts, 0);
  assert.match(r.target, /3-server leafnode line/);
});

test('abab() runs anchor and target in turns and names the ratios of the target row to the anchor', { timeout: 30_000 }, async () => {
  const order: string[] = [];
  const fake = (name: string, eventsPerSec: number, cpu: number) => ({
    name,
    run: async () => {
      order.push(name);
      return {
        target: name,
        eventsPerSec,
        p50Ms: 1,
        p99Ms: 2,
        serverCpuUsPerEvent: cpu,
        lost: 0,
        options: { ...SMALL, subscribers: 1 },
        load: { throughput: { publisherCpuUs: 100, subscriberCpuUs: 300, deliveries: 100 } } as never,
      };
    },
  });
  const [a, b] = await abab(fake('nats', 400, 1), fake('meshgate', 100, 4), 2);
  assert.deepEqual(order, ['nats', 'meshgate', 'nats', 'meshgate']);
  assert.equal(a.vsAnchor, undefined);
  assert.deepEqual(b.vsAnchor, { name: 'nats', eventsRatio: 0.25, cpuRatio: 4 });
  assert.equal(b.clientCpuUsPerEvent, 4);
});
