/**
 * meshgate scenarios: the same load harness and payloads as the nats
 * anchors, against meshgate nodes started as child processes with the
 * real CLI. Validation (CloudEvents attribute checks) and dedup are on,
 * as in production.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad } from './load/driver.js';
import { type AnchorOptions, type AnchorResult, toAnchor } from './nats-anchor.js';

const CLI = fileURLToPath(new URL('../bin/meshgate.js', import.meta.url));

/** Nodes started so far, numbering their CPU profiles in start order. */
let profiled = 0;

export interface BenchNode {
  readonly id: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly wsUrl: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  await once(s, 'close');
  return port;
}

/**
 * Starts `meshgate start` as a child process; `env` adds to this process's
 * environment (e.g. OTEL_* variables), `config` to its config file (e.g.
 * storage and streams; storage.dir defaults to the node's temp directory).
 */
export async function startBenchNode(
  id: string,
  port: number,
  peers: string[],
  env: Readonly<Record<string, string>> = {},
  config: Record<string, unknown> = {},
): Promise<BenchNode> {
  const dir = mkdtempSync(join(tmpdir(), `mg-bench-${id}-`));
  const file = join(dir, 'node.json');
  const storage = { dir: join(dir, 'data'), ...(config.storage as object | undefined) };
  writeFileSync(
    file,
    JSON.stringify({ node: { id, region: `bench-${id}` }, listen: { host: '127.0.0.1', port }, mesh: { key: 'bench-mesh-key', peers }, ...config, storage }),
  );
  // MESHGATE_BENCH_CPU_PROF=<dir>: each node writes a V8 CPU profile there on exit (open it in Chrome DevTools),
  // which is how the node's own share of a row is found; the load generators are not profiled.
  const profile = process.env.MESHGATE_BENCH_CPU_PROF;
  const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`, `--cpu-prof-name=${id}-${++profiled}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...flags, CLI, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(' ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`bench node ${id} exited ${code}: ${out}`)));
  });
  return {
    id,
    port,
    child,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls /v1/peers until every link of `node` to `peers` is up. */
async function awaitLinks(node: BenchNode, peers: string[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const body = (await (await fetch(`http://127.0.0.1:${node.port}/v1/peers`)).json()) as { peers: Array<{ node: string; state: string }> };
    if (peers.every((p) => body.peers.some((l) => l.node === p && l.state === 'up'))) return;
    if (Date.now() > deadline) throw new Error(`bench: links of ${node.id} to ${peers.join(',')} not up`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One node; publisher and subscribers on it. */
export async function meshgateLoad(opts: AnchorOptions): Promise<AnchorResult> {
  const node = await startBenchNode('solo', await freePort(), []);
  try {
    const load = await runLoad({ transport: 'meshgate-ws', publishUrl: node.wsUrl, subscribeUrls: [node.wsUrl], ...opts, serverPids: () => [node.child.pid!] });
    return toAnchor('meshgate (1 node)', opts, load);
  } finally {
    await node.stop();
  }
}

/**
 * A line of `hops + 1` nodes, each dialing the next; publisher on the
 * first, subscribers on the last. Server CPU is the sum over all nodes.
 */
export async function meshgateLineLoad(opts: AnchorOptions, hops: number): Promise<AnchorResult> {
  const ports = await Promise.all(Array.from({ length: hops + 1 }, () => freePort()));
  const nodes: BenchNode[] = [];
  try {
    for (let i = 0; i <= hops; i++) {
      const peers = i < hops ? [`ws://127.0.0.1:${ports[i + 1]}`] : [];
      nodes.push(await startBenchNode(`n${i}`, ports[i], peers));
    }
    for (let i = 0; i < hops; i++) await awaitLinks(nodes[i], [nodes[i + 1].id]);
    const load = await runLoad({
      transport: 'meshgate-ws',
      publishUrl: nodes[0].wsUrl,
      subscribeUrls: [nodes[hops].wsUrl],
      ...opts,
      // The driver's warmup waits until interest has crossed the links.
      serverPids: () => nodes.map((n) => n.child.pid!),
    });
    return toAnchor(`meshgate (${hops + 1}-node line, ${hops} hop${hops > 1 ? 's' : ''})`, opts, load);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}
