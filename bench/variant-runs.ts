/**
 * Cost of a feature, measured the only way this shared 2-core machine
 * allows: the same traffic with and without it, in the same run. Each
 * variant gets a fresh node per round, and variants alternate (A, B, C,
 * A, B, C, ...) so drift falls on all of them alike; a row is the mean
 * over its rounds, and every row after the first names its difference
 * and ratio to the first (the baseline) in server CPU µs per event.
 */

import type { NamedBenchResult } from './bench-result.js';
import type { LoadResult } from './load/driver.js';

export interface Variant {
  readonly name: string;
  /** One round: start a node, load it, stop it. */
  run(): Promise<LoadResult>;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function row(name: string, runs: LoadResult[]): NamedBenchResult {
  return {
    name,
    eventsPerSec: mean(runs.map((r) => r.throughput.deliveriesPerSec)),
    p50Ms: mean(runs.map((r) => r.latency.p50Ms)),
    p99Ms: mean(runs.map((r) => r.latency.p99Ms)),
    serverCpuUsPerEvent: mean(runs.map((r) => r.throughput.serverCpuUsPerDelivery)),
    lost: runs.reduce((n, r) => n + r.throughput.lost + r.latency.lost, 0),
    details: runs.map((r) => ({
      cpuUsPerEvent: r.throughput.serverCpuUsPerDelivery,
      eventsPerSec: r.throughput.deliveriesPerSec,
      serverCpuUs: r.throughput.serverCpuUs,
      deliveries: r.throughput.deliveries,
    })),
  };
}

/** One row per variant, the first being the baseline the others are compared with. */
export async function compareVariants(variants: readonly Variant[], rounds: number): Promise<NamedBenchResult[]> {
  const runs = variants.map(() => [] as LoadResult[]);
  for (let i = 0; i < rounds; i++) for (let v = 0; v < variants.length; v++) runs[v].push(await variants[v].run());
  const rows = variants.map((v, i) => row(v.name, runs[i]));
  const base = rows[0].serverCpuUsPerEvent;
  for (const r of rows.slice(1)) {
    const delta = r.serverCpuUsPerEvent - base;
    const ratio = r.serverCpuUsPerEvent / base;
    r.name += ` (${delta >= 0 ? '+' : ''}${delta.toFixed(2)} µs/ev, ${ratio.toFixed(2)}x CPU)`;
    r.details = { runs: r.details, cpuUsPerEventDelta: delta, cpuRatio: ratio };
  }
  return rows;
}
