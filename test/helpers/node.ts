import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Encoder } from 'cbor-x';
import WebSocket from 'ws';
import { type ConfigLayer, resolveConfig } from '../../broker/config/mod.js';
import { CBOR_OPTIONS } from '../../broker/event/mod.js';
import { type RunningNode, startNode } from '../../broker/node/internal.js';

/** dist/bin/meshgate.js, the compiled `meshgate` command. */
export const CLI = fileURLToPath(new URL('../../bin/meshgate.js', import.meta.url));

/** Starts a real node on 127.0.0.1:0 in this process and closes it after the test. */
export async function startTestNode(t: TestContext, layer: ConfigLayer = {}): Promise<RunningNode> {
  const config = resolveConfig({ node: { id: 'test-node', region: 'test' }, listen: { host: '127.0.0.1', port: 0 } }, layer);
  const running = await startNode(config);
  t.after(() => running.close());
  return running;
}

const cbor = new Encoder({ ...CBOR_OPTIONS });

/**
 * A raw protocol client: records every frame so a test can await the one
 * it expects instead of sleeping. An `events` batch is recorded as one
 * `{op:"event", topic, event}` entry per item, so tests speak of events.
 */
export class FrameClient {
  readonly socket: WebSocket;
  readonly frames: Record<string, unknown>[] = [];
  readonly binary: boolean;
  /** Raw batch frames received (to assert batching itself). */
  batches = 0;
  /** Set to count events without keeping them (long load tests). */
  onEvent?: (topic: string, event: Record<string, unknown>) => void;
  #waiters: Array<{ match: (f: Record<string, unknown>) => boolean; resolve: (f: Record<string, unknown>) => void; from: number }> = [];
  closed: Promise<{ code: number; reason: string }>;

  constructor(socket: WebSocket, binary: boolean) {
    this.socket = socket;
    this.binary = binary;
    socket.on('message', (raw: Buffer, isBinary: boolean) => {
      const frame = (isBinary ? cbor.decode(raw) : JSON.parse(raw.toString('utf8'))) as Record<string, unknown>;
      if (frame.op !== 'events') return this.#record(frame);
      this.batches++;
      for (const item of frame.events as Array<{ topic: string; event: Record<string, unknown>; stream?: string; offset?: number }>) {
        if (this.onEvent) this.onEvent(item.topic, item.event);
        else if (item.offset === undefined) this.#record({ op: 'event', topic: item.topic, event: item.event });
        else this.#record({ ...item, op: 'event' }); // stream items, and durable consumer items with consumer, delivery, redelivered
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
  }

  #record(frame: Record<string, unknown>): void {
    this.frames.push(frame);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(frame)) return true;
      w.resolve(frame);
      return false;
    });
  }

  send(frame: Record<string, unknown>): void {
    this.socket.send(this.binary ? cbor.encode(frame) : JSON.stringify(frame));
  }

  /** Resolves with the first frame (already received or future) matching `match`. */
  waitFor(match: (f: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve, from: this.frames.length }));
  }

  /** Sends a request with `ref` and resolves with its reply (ok, pong or err). */
  async request(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    const ref = `r${Math.random().toString(36).slice(2)}`;
    this.send({ ...frame, ref });
    return this.waitFor((f) => f.ref === ref);
  }

  events(): Record<string, unknown>[] {
    return this.frames.filter((f) => f.op === 'event');
  }

  async close(): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await this.closed;
  }
}

/** Opens a client-protocol socket and waits for the hello frame. */
export async function openClient(t: TestContext, url: string, protocol: 'json' | 'cbor' = 'json'): Promise<FrameClient> {
  const socket = new WebSocket(url, `meshgate.v1.${protocol}`);
  const client = new FrameClient(socket, protocol === 'cbor');
  t.after(() => socket.terminate());
  await client.waitFor((f) => f.op === 'hello');
  return client;
}

/** A CloudEvent with the required attributes filled in. */
export function ce(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { specversion: '1.0', id, source: 'test', type: 'test.event', ...extra };
}

export interface Cli {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves when stdout+stderr contain `text`. */
  waitForOutput(text: string | RegExp): Promise<void>;
  exited: Promise<number | null>;
}

/** Runs the compiled CLI as a child process, killed after the test. */
export function runCli(t: TestContext, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Cli {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const cli: Cli = {
    child,
    stdout: '',
    stderr: '',
    waitForOutput(text) {
      const test = () => (typeof text === 'string' ? (cli.stdout + cli.stderr).includes(text) : text.test(cli.stdout + cli.stderr));
      if (test()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (test()) {
            child.stdout!.off('data', check);
            child.stderr!.off('data', check);
            resolve();
          }
        };
        child.stdout!.on('data', check);
        child.stderr!.on('data', check);
        child.once('exit', () => (test() ? resolve() : reject(new Error(`exited before printing ${String(text)}:\n${cli.stdout}\n${cli.stderr}`))));
      });
    },
    exited: once(child, 'exit').then(([code]) => code as number | null),
  };
  child.stdout!.on('data', (d: Buffer) => (cli.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (cli.stderr += d.toString()));
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();
  return cli;
}
