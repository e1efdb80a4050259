/**
 * A meshgate row and its anchor measured in turns, A B A B (issue 17,
 * item 4): on this shared machine the load drifts over a run, and a
 * row measured a minute after its anchor could gain or lose by that
 * alone. Each side is a fresh set of processes per round; a row is the
 * mean over its rounds, and the meshgate row names its ratios to the
 * anchor of the same pairs: events/s and server CPU µs per event.
 */

import type { NamedBenchResult } from './bench-result.js';
import type { AnchorResult } from './nats-anchor.js';

export interface Side {
  /** Row name, e.g. 'nats-server' or 'meshgate'. */
  readonly name: string;
  run(): Promise<AnchorResult>;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function row(name: string, runs: AnchorResult[]): NamedBenchResult {
  return {
    name,
    eventsPerSec: mean(runs.map((r) => r.eventsPerSec)),
    p50Ms: mean(runs.map((r) => r.p50Ms)),
    p99Ms: mean(runs.map((r) => r.p99Ms)),
    serverCpuUsPerEvent: mean(runs.map((r) => r.serverCpuUsPerEvent)),
    lost: runs.reduce((n, r) => n + r.lost, 0),
    clientCpuUsPerEvent: mean(runs.map((r) => (r.load.throughput.publisherCpuUs + r.load.throughput.subscriberCpuUs) / r.load.throughput.deliveries)),
    details: runs.map((r) => ({
      target: r.target,
      eventsPerSec: r.eventsPerSec,
      serverCpuUsPerEvent: r.serverCpuUsPerEvent,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      publisherCpuUs: r.load.throughput.publisherCpuUs,
      subscriberCpuUs: r.load.throughput.subscriberCpuUs,
    })),
  };
}

/** Two rows, anchor first; `rounds` turns each, alternating. */
export async function abab(anchor: Side, target: Side, rounds = 2): Promise<NamedBenchResult[]> {
  const a: AnchorResult[] = [];
  const b: AnchorResult[] = [];
  for (let i = 0; i < rounds; i++) {
    a.push(await anchor.run());
    b.push(await target.run());
  }
  const anchorRow = row(anchor.name, a);
  const targetRow = row(target.name, b);
  targetRow.vsAnchor = {
    name: anchor.name,
    eventsRatio: targetRow.eventsPerSec / anchorRow.eventsPerSec,
    cpuRatio: targetRow.serverCpuUsPerEvent / anchorRow.serverCpuUsPerEvent,
  };
  return [anchorRow, targetRow];
}
