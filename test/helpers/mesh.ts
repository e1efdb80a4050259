import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { CLI } from './node.js';
import { testTmpDir } from './tmp.js';

export const TEST_MESH_KEY = 'test-mesh-key-0123';

/** A free TCP port on 127.0.0.1 (bound and released; fine for tests). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

export interface NodeSpec {
  readonly id: string;
  readonly region?: string;
  readonly port: number;
  /** URLs this node dials. */
  readonly peers?: readonly string[];
  readonly meshKey?: string;
  /** Extra config merged into the generated file. */
  readonly config?: Record<string, unknown>;
}

/** A meshgate node running as a child process of the test. */
export class NodeProcess {
  readonly spec: NodeSpec;
  readonly #t: TestContext;
  readonly #configFile: string;
  child: ChildProcess | null = null;
  output = '';

  constructor(t: TestContext, spec: NodeSpec) {
    this.#t = t;
    this.spec = spec;
    const dir = testTmpDir(t, `mg-${spec.id}`);
    this.#configFile = join(dir, 'node.json');
    const config = {
      node: { id: spec.id, region: spec.region ?? 'r1' },
      listen: { host: '127.0.0.1', port: spec.port },
      // A stream created over HTTP lands in the test's directory, not ./data of the checkout.
      storage: { dir: join(dir, 'data') },
      mesh: {
        key: spec.meshKey ?? TEST_MESH_KEY,
        peers: spec.peers ?? [],
        backoffMinMs: 20,
        backoffMaxMs: 300,
        keepaliveMs: 1000,
        ...(spec.config?.mesh as object),
      },
      ...Object.fromEntries(Object.entries(spec.config ?? {}).filter(([k]) => k !== 'mesh')),
    };
    writeFileSync(this.#configFile, JSON.stringify(config));
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.spec.port}/v1/ws`;
  }
  get peerUrl(): string {
    return `ws://127.0.0.1:${this.spec.port}`;
  }
  get httpUrl(): string {
    return `http://127.0.0.1:${this.spec.port}`;
  }

  /**
   * Starts (or restarts) the node on its fixed port. While a node is down,
   * another process on the machine (a test file running alongside) can be
   * handed that port as the source port of an outgoing connection; a node
   * binds its port exclusively, so it then refuses to start. That is the
   * harness's port choice, not the system under test: a restart retries,
   * a bounded number of times, when the only problem was the bind.
   */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#startOnce();
      } catch (err) {
        if (attempt >= 20 || !/cannot bind/.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async #startOnce(): Promise<void> {
    // Output accumulates across restarts; readiness is read from this start's part only.
    const from = this.output.length;
    const child = spawn(process.execPath, [CLI, 'start', '--config', this.#configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.#t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.output.indexOf(' ready\n', from) >= 0) {
          child.stdout!.off('data', check);
          resolve();
        }
      };
      child.stdout!.on('data', check);
      child.once('exit', (code) => reject(new Error(`node ${this.spec.id} exited ${code}:\n${this.output}`)));
    });
  }

  /** kill -9: nothing is flushed. */
  async kill9(): Promise<void> {
    const child = this.child!;
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }

  async stop(): Promise<void> {
    const child = this.child!;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  }

  async json<T = Record<string, unknown>>(path: string): Promise<T> {
    return (await (await fetch(`${this.httpUrl}${path}`)).json()) as T;
  }

  async peers(): Promise<Array<Record<string, unknown>>> {
    return (await this.json<{ peers: Array<Record<string, unknown>> }>('/v1/peers')).peers;
  }

  async routes(): Promise<{
    local: string[];
    self: { version: number; filters: string[] };
    origins: Array<{ origin: string; version: number; filters: string[]; via: string | null }>;
  }> {
    return this.json('/v1/routes');
  }

  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.httpUrl}/metrics`)).text();
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  }
}

/**
 * Polls `check` until it returns true. For state only visible through an
 * HTTP endpoint of another process, where there is no event to await.
 */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}

/**
 * Starts one node per id, with `edges` [a, b] meaning a dials b. Ports are
 * chosen first so every node can be given its peers' URLs.
 */
export async function startMesh(
  t: TestContext,
  ids: readonly string[],
  edges: ReadonlyArray<readonly [string, string]>,
  config?: Record<string, unknown>,
): Promise<Map<string, NodeProcess>> {
  const ports = new Map<string, number>();
  for (const id of ids) ports.set(id, await freePort());
  const nodes = new Map<string, NodeProcess>();
  for (const id of ids) {
    const peers = edges.filter(([a]) => a === id).map(([, b]) => `ws://127.0.0.1:${ports.get(b)}`);
    nodes.set(id, new NodeProcess(t, { id, region: `region-${id}`, port: ports.get(id)!, peers, config }));
  }
  await Promise.all([...nodes.values()].map((n) => n.start()));
  return nodes;
}

/** Waits until every node's routing table shows every other node wanting `filter`. */
export async function awaitInterest(nodes: Map<string, NodeProcess>, filter: string, owners: readonly string[]): Promise<void> {
  for (const node of nodes.values()) {
    await until(`${node.spec.id} sees ${filter} from ${owners.join(',')}`, async () => {
      const routes = await node.routes();
      return owners.every((o) => o === node.spec.id || routes.origins.some((r) => r.origin === o && r.filters.includes(filter)));
    });
  }
}

/** Waits until no node holds events for a peer (everything forwarded was acked). */
export async function awaitQuiet(nodes: Iterable<NodeProcess>): Promise<void> {
  for (const node of nodes) {
    await until(`${node.spec.id} has nothing in flight`, async () => {
      const body = await node.json<{ parked: number; peers: Array<{ buffered: number }> }>('/v1/peers');
      return body.parked === 0 && body.peers.every((p) => p.buffered === 0);
    });
  }
}

/** Shortest hop counts from `from` over undirected `edges`. */
export function distances(from: string, edges: ReadonlyArray<readonly [string, string]>): Map<string, number> {
  const dist = new Map([[from, 0]]);
  const queue = [from];
  while (queue.length > 0) {
    const at = queue.shift()!;
    for (const [a, b] of edges) {
      const next = a === at ? b : b === at ? a : null;
      if (next !== null && !dist.has(next)) {
        dist.set(next, dist.get(at)! + 1);
        queue.push(next);
      }
    }
  }
  return dist;
}

/** Waits until every edge's link is up on both of its nodes. */
export async function awaitLinks(nodes: Map<string, NodeProcess>, edges: ReadonlyArray<readonly [string, string]>): Promise<void> {
  for (const [id, node] of nodes) {
    const want = edges.filter(([a, b]) => a === id || b === id).map(([a, b]) => (a === id ? b : a));
    await until(`${id} has links up to ${want.join(',')}`, async () => {
      const up = new Set((await node.peers()).filter((p) => p.state === 'up').map((p) => p.node));
      return want.every((w) => up.has(w));
    });
  }
}
