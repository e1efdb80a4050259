/**
 * NATS anchors: what a plain nats-server does on this machine with the
 * same load harness, payload and fan-out meshgate scenarios use. Ratios
 * in the bench table are "meshgate / anchor".
 *
 * - natsAnchor: one nats-server, publisher and subscribers on it.
 * - natsClusterAnchor: a 2-node route cluster, publisher on node A,
 *   subscribers on node B: one server-to-server hop, the yardstick for
 *   meshgate peering. Server CPU is the sum of both nodes.
 * - natsLineAnchor: `hops + 1` nats-servers in a line of leafnode links
 *   (each the leaf of the next), publisher on the first, subscribers on
 *   the last: every hop a server-to-server forward, as in a meshgate line.
 *   A route cluster cannot be a line (routes do not forward what came over
 *   a route), so leafnodes are the nats form of a multi-hop path.
 */
import { execFileSync } from 'node:child_process';
import { findBinary, freePort, natsMonitor, startNatsCluster, startNatsServer } from '../test/helpers/brokers.js';
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

/** Publisher on the first, subscribers on the last of `hops + 1` nats-servers linked as leafnodes in a line. */
export async function natsLineAnchor(opts: AnchorOptions, hops: number): Promise<AnchorResult> {
  const leafPorts = await Promise.all(Array.from({ length: hops + 1 }, () => freePort()));
  const servers: Awaited<ReturnType<typeof startNatsServer>>[] = [];
  try {
    // From the far end back, so each remote is listening before its leaf dials it.
    for (let i = hops; i >= 0; i--) {
      const config = [
        `leafnodes { listen: "127.0.0.1:${leafPorts[i]}"${i < hops ? `, remotes: [{ url: "nats-leaf://127.0.0.1:${leafPorts[i + 1]}" }]` : ''} }`,
      ];
      servers.unshift(await startNatsServer({ config }));
    }
    const deadline = Date.now() + 15_000;
    for (let i = 0; i <= hops; i++) {
      const want = (i > 0 ? 1 : 0) + (i < hops ? 1 : 0);
      while ((await natsMonitor<{ leafnodes: number }>(servers[i]!, 'leafz')).leafnodes < want) {
        if (Date.now() > deadline) throw new Error(`nats line: server ${i} has not its ${want} leafnode links`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const load = await runLoad({
      transport: 'nats',
      publishUrl: servers[0]!.url,
      subscribeUrls: [servers[hops]!.url],
      ...opts,
      serverPids: () => servers.map((s) => s.pid),
    });
    return toAnchor(`nats-server ${natsServerVersion()} (${hops + 1}-server leafnode line)`, opts, load);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}
