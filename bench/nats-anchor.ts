/**
 * NATS anchors: what a plain nats-server does on this machine with the
 * same load harness, payload and fan-out meshgate scenarios use. Ratios
 * in the bench table are "meshgate / anchor".
 *
 * - natsAnchor: one nats-server, publisher and subscribers on it.
 * - natsClusterAnchor: a 2-node route cluster, publisher on node A,
 *   subscribers on node B: one server-to-server hop, the yardstick for
 *   meshgate peering. Server CPU is the sum of both nodes.
 */
import { execFileSync } from 'node:child_process';
import { findBinary, startNatsCluster, startNatsServer } from '../test/helpers/brokers.js';
import { type LoadResult, runLoad } from './load/driver.js';

export interface AnchorOptions {
  payloadBytes: number;
  subscribers: number;
  /** Burst phase events (each delivered to every subscriber). */
  events: number;
  /** Paced phase rate, events/s. */
  fixedRate: number;
  latencyEvents: number;
  /** Processes hosting the subscriber connections. @default Math.min(subscribers, 4) */
  subscriberProcesses?: number;
}

export interface AnchorResult {
  /** e.g. 'nats-server v2.9.10' or 'nats-server v2.9.10 (2-node cluster)'. */
  target: string;
  /** Delivered events per second in the burst phase (all subscribers). */
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU per delivered event, burst phase. */
  serverCpuUsPerEvent: number;
  /** Deliveries missing in either phase (should be 0). */
  lost: number;
  options: AnchorOptions;
  load: LoadResult;
}

let natsVersion: string | undefined;
function natsServerVersion(): string {
  if (natsVersion === undefined) {
    try {
      const out = execFileSync(findBinary('nats-server', 'nats-server'), ['--version'], { encoding: 'utf8', timeout: 5000 });
      natsVersion = /v?\d+\.\d+\.\d+\S*/.exec(out)?.[0] ?? 'unknown';
    } catch {
      natsVersion = 'unknown';
    }
  }
  return natsVersion.startsWith('v') ? natsVersion : `v${natsVersion}`;
}

/** Turns a load run into a result row; meshgate scenarios use it too. */
export function toAnchor(target: string, options: AnchorOptions, load: LoadResult): AnchorResult {
  return {
    target,
    eventsPerSec: load.throughput.deliveriesPerSec,
    p50Ms: load.latency.p50Ms,
    p99Ms: load.latency.p99Ms,
    serverCpuUsPerEvent: load.throughput.serverCpuUsPerDelivery,
    lost: load.throughput.lost + load.latency.lost,
    options,
    load,
  };
}

/**
 * @example
 * const a = await natsAnchor({ payloadBytes: 256, subscribers: 1, events: 200_000, fixedRate: 10_000, latencyEvents: 20_000 });
 */
export async function natsAnchor(opts: AnchorOptions): Promise<AnchorResult> {
  const server = await startNatsServer();
  try {
    const load = await runLoad({
      transport: 'nats',
      publishUrl: server.url,
      subscribeUrls: [server.url],
      ...opts,
      serverPids: () => [server.pid],
    });
    return toAnchor(`nats-server ${natsServerVersion()}`, opts, load);
  } finally {
    await server.stop();
  }
}

/** Publisher on node A, subscribers on node B of a 2-node route cluster. */
export async function natsClusterAnchor(opts: AnchorOptions): Promise<AnchorResult> {
  const [a, b] = await startNatsCluster(2);
  try {
    const load = await runLoad({
      transport: 'nats',
      publishUrl: a!.url,
      subscribeUrls: [b!.url],
      ...opts,
      serverPids: () => [a!.pid, b!.pid],
    });
    return toAnchor(`nats-server ${natsServerVersion()} (2-node cluster, A->B)`, opts, load);
  } finally {
    await Promise.all([a!.stop(), b!.stop()]);
  }
}
