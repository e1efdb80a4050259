/**
 * Load driver: forks one publisher and the subscriber processes, runs the
 * phases and turns their reports into figures. Generic over the transport
 * and the server: give it URLs, a transport name and the pids whose CPU
 * counts as "server".
 *
 * ```
 *            IPC                     transport                IPC
 *  driver ───────▶ publisher ──────▶ server(s) ──────▶ subscriber procs ───▶ driver
 *    │                                  ▲                 (K connections each)
 *    └──── /proc/PID/stat CPU ──────────┘
 * ```
 * Phases:
 *  1. warmup   publisher sends a marked message every 5 ms until every
 *              subscriber connection has seen one (interest has reached
 *              the publisher's server, across routes or peer links too).
 *  2. burst    `events` messages as fast as flow control allows.
 *              delivered events/s = deliveries / (last delivery at the
 *              slowest subscriber - first send); server CPU µs per delivery.
 *  3. paced    `latencyEvents` at `fixedRate`/s, each stamped with its
 *              send time; receive - send gives p50/p99.
 * Every wait is bounded; children are SIGKILLed on any failure.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuDelta, procCpuResolutionUs, processesCpu } from '../cpu.js';
import { mergeSamples, summarize } from '../latency.js';
import type { PublisherCommand, PublisherReport, SubscriberCommand, SubscriberReport } from './protocol.js';

export interface LoadOptions {
  /** Registered transport name (bench/load/transports.ts). */
  transport: string;
  /** URL the publisher connects to. */
  publishUrl: string;
  /** URLs subscribers connect to; subscriber process i uses subscribeUrls[i % length]. */
  subscribeUrls: string[];
  /** @default 'bench.load' */
  topic?: string;
  payloadBytes: number;
  /** Subscriber connections (the fan-out). */
  subscribers: number;
  /** Processes hosting them. @default Math.min(subscribers, 4) */
  subscriberProcesses?: number;
  /** Burst phase messages. */
  events: number;
  /** Flush (server round trip) every N published messages. @default 1000 */
  flushEvery?: number;
  /**
   * Burst phase: max messages the publisher may be ahead of the slowest
   * subscriber connection (end-to-end credit relayed over IPC). 0 = off.
   * @default 20_000 (~6 MB of 256-byte payloads per connection, well under
   * nats-server's 64 MB max_pending)
   */
  window?: number;
  /** Paced phase rate, messages per second. */
  fixedRate: number;
  /** Paced phase messages. */
  latencyEvents: number;
  /** pids whose CPU is "server CPU" (read at phase boundaries). */
  serverPids: () => number[];
  /** Bound for each step. @default 120_000 ms */
  stepTimeoutMs?: number;
}

export interface PhaseFigures {
  events: number;
  deliveries: number;
  expectedDeliveries: number;
  lost: number;
  /** first send -> last delivery at the slowest subscriber. */
  seconds: number;
  /** deliveries / seconds. */
  deliveriesPerSec: number;
  publishSeconds: number;
  publishedPerSec: number;
  serverCpuUs: number;
  serverCpuUsPerDelivery: number;
  publisherCpuUs: number;
  subscriberCpuUs: number;
  /** Times the publisher waited for subscriber credit / gave up waiting. */
  creditStalls: number;
  creditTimeouts: number;
}

export interface LoadResult {
  throughput: PhaseFigures;
  latency: PhaseFigures & {
    rate: number;
    samples: number;
    p50Ms: number;
    p90Ms: number;
    p99Ms: number;
    p999Ms: number;
    maxMs: number;
    meanMs: number;
  };
  subscriberProcesses: number;
  cpuResolutionUs: number;
  setupSeconds: number;
}

type Report = { type: string; message?: string };

/** A forked load process and its IPC mailbox. */
class LoadChild<Cmd, Rep extends Report> {
  readonly proc: ChildProcess;
  readonly name: string;
  #inbox: Rep[] = [];
  #waiters: { type: string; resolve: (r: Rep) => void; reject: (e: Error) => void }[] = [];
  #dead: Error | null = null;
  /** Receives 'progress' reports (not queued in the inbox). */
  onProgress: ((m: Rep) => void) | null = null;

  constructor(name: string, script: string, args: string[]) {
    this.name = name;
    this.proc = fork(script, args, {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [], // not the parent's --inspect etc.
    });
    this.proc.on('message', (m: Rep) => this.#deliver(m));
    this.proc.once('exit', (code, signal) => this.#die(new Error(`${name} exited (code ${code}, signal ${signal})`)));
    this.proc.once('error', (err) => this.#die(new Error(`${name}: ${err.message}`, { cause: err })));
  }

  send(cmd: Cmd): void {
    if (this.proc.connected) this.proc.send(cmd as object);
  }

  #deliver(m: Rep): void {
    if (m.type === 'error') {
      this.#die(new Error(m.message ?? `${this.name} failed`));
      return;
    }
    if (m.type === 'progress') {
      this.onProgress?.(m);
      return;
    }
    const i = this.#waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(m);
    else this.#inbox.push(m);
  }

  #die(err: Error): void {
    if (this.#dead) return;
    this.#dead = err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  /** Next report of `type` (earlier unclaimed ones first), bounded. */
  waitFor<T extends Rep['type']>(type: T, timeoutMs: number): Promise<Extract<Rep, { type: T }>> {
    const i = this.#inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.#inbox.splice(i, 1)[0] as Extract<Rep, { type: T }>);
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise((resolve, reject) => {
      const w = {
        type,
        resolve: (r: Rep) => {
          clearTimeout(timer);
          resolve(r as Extract<Rep, { type: T }>);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const j = this.#waiters.indexOf(w);
        if (j >= 0) this.#waiters.splice(j, 1);
        reject(new TimeoutError(`${this.name}: no '${type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(w);
    });
  }

  async exit(graceMs = 5000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.send({ cmd: 'exit' } as Cmd);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

class TimeoutError extends Error {}

type Pub = LoadChild<PublisherCommand, PublisherReport>;
type Sub = LoadChild<SubscriberCommand, SubscriberReport>;
type PhaseDone = Extract<SubscriberReport, { type: 'phase-done' }>;

const script = (name: string) => fileURLToPath(new URL(`./${name}.js`, import.meta.url));

/** Splits `total` into `parts` near-equal positive integers. */
function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

/**
 * Runs warmup, burst and paced phases and returns the figures.
 * @example
 * const r = await runLoad({ transport: 'nats', publishUrl: s.url, subscribeUrls: [s.url],
 *   payloadBytes: 256, subscribers: 1, events: 200_000, fixedRate: 10_000,
 *   latencyEvents: 20_000, serverPids: () => [s.pid] });
 */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const stepMs = o.stepTimeoutMs ?? 120_000;
  const topic = o.topic ?? 'bench.load';
  const nProcs = Math.max(1, Math.min(o.subscribers, o.subscriberProcesses ?? 4));
  const common = ['--transport', o.transport, '--topic', topic];
  const setupStart = performance.now();
  const subs: Sub[] = [];
  let pub: Pub | null = null;

  try {
    split(o.subscribers, nProcs).forEach((connections, i) => {
      const url = o.subscribeUrls[i % o.subscribeUrls.length]!;
      subs.push(new LoadChild(`subscriber#${i}`, script('subscriber'), [...common, '--url', url, '--connections', String(connections)]));
    });
    pub = new LoadChild('publisher', script('publisher'), [...common, '--url', o.publishUrl, '--payload', String(o.payloadBytes)]);
    await Promise.all([...subs.map((s) => s.waitFor('ready', stepMs)), pub.waitFor('ready', stepMs)]);

    // 1. warmup: until every connection has seen a message.
    pub.send({ cmd: 'warmup', intervalMs: 5 });
    await Promise.all(subs.map((s) => s.waitFor('warm', 30_000)));
    pub.send({ cmd: 'stop-warmup' });
    await pub.waitFor('warmup-stopped', stepMs);
    const setupSeconds = (performance.now() - setupStart) / 1000;

    // 2. burst
    const window = o.window ?? 20_000;
    const throughput = await phase(
      pub,
      subs,
      o,
      'burst',
      o.events,
      stepMs,
      { cmd: 'burst', count: o.events, flushEvery: o.flushEvery ?? 1000, window },
      Math.max(1, Math.floor(window / 4)),
    );
    // 3. paced
    const paced = await phase(pub, subs, o, 'paced', o.latencyEvents, stepMs, { cmd: 'paced', count: o.latencyEvents, rate: o.fixedRate }, 0);
    const samples = mergeSamples(paced.reports.map((r) => r.samplesUs ?? new Float64Array(0)));
    const s = summarize(samples);

    await Promise.all([pub.exit(), ...subs.map((x) => x.exit())]);
    return {
      throughput: throughput.figures,
      latency: {
        ...paced.figures,
        rate: o.fixedRate,
        samples: s.count,
        p50Ms: s.p50 / 1000,
        p90Ms: s.p90 / 1000,
        p99Ms: s.p99 / 1000,
        p999Ms: s.p999 / 1000,
        maxMs: s.max / 1000,
        meanMs: s.mean / 1000,
      },
      subscriberProcesses: nProcs,
      cpuResolutionUs: procCpuResolutionUs(),
      setupSeconds,
    };
  } finally {
    pub?.kill();
    for (const s of subs) s.kill();
  }
}

async function phase(
  pub: Pub,
  subs: Sub[],
  o: LoadOptions,
  name: 'burst' | 'paced',
  events: number,
  stepMs: number,
  cmd: PublisherCommand,
  progressEvery: number,
): Promise<{ figures: PhaseFigures; reports: PhaseDone[] }> {
  // Credit relay: publisher may run `window` ahead of min(acked).
  const acked = subs.map(() => 0);
  let credited = 0;
  subs.forEach((s, i) => {
    s.onProgress = (m) => {
      if (m.type !== 'progress') return;
      acked[i] = m.acked;
      const min = Math.min(...acked);
      if (min > credited) {
        credited = min;
        pub.send({ cmd: 'credit', acked: min });
      }
    };
  });
  for (const s of subs) s.send({ cmd: 'arm', phase: name, expect: events, progressEvery });
  await Promise.all(subs.map((s) => s.waitFor('armed', stepMs)));

  const cpu0 = processesCpu(o.serverPids());
  pub.send(cmd);
  const done = subs.map((s) => s.waitFor('phase-done', stepMs));
  for (const p of done) p.catch(() => undefined); // handled below
  const sent = await pub.waitFor('sent', stepMs);
  const publishMs = (sent.t1Ns - sent.t0Ns) / 1e6;

  // Once the publisher is done, give stragglers a bounded grace period, then
  // ask them for what they have: loss shows up as lost, not as a hang.
  const graceMs = Math.min(stepMs, Math.max(5000, 2 * publishMs));
  const reports = await Promise.all(
    subs.map(async (s, i) => {
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
      const first = await Promise.race([done[i]!, timeout]);
      if (first !== 'timeout') return first;
      s.send({ cmd: 'collect' });
      return done[i]!.catch(async (err: unknown) => {
        if (!(err instanceof TimeoutError)) throw err;
        return s.waitFor('phase-done', 10_000);
      });
    }),
  );
  const cpu1 = processesCpu(o.serverPids());

  const deliveries = reports.reduce((n, r) => n + r.counts.reduce((a, b) => a + b, 0), 0);
  const expectedDeliveries = events * o.subscribers;
  const lastNs = Math.max(...reports.map((r) => r.lastNs));
  const seconds = deliveries > 0 ? (lastNs - sent.t0Ns) / 1e9 : NaN;
  const serverCpuUs = cpuDelta(cpu0, cpu1).totalUs;
  return {
    reports,
    figures: {
      events,
      deliveries,
      expectedDeliveries,
      lost: expectedDeliveries - deliveries,
      seconds,
      deliveriesPerSec: deliveries / seconds,
      publishSeconds: publishMs / 1000,
      publishedPerSec: sent.sent / (publishMs / 1000),
      serverCpuUs,
      serverCpuUsPerDelivery: deliveries > 0 ? serverCpuUs / deliveries : NaN,
      publisherCpuUs: sent.cpuUs,
      subscriberCpuUs: reports.reduce((n, r) => n + r.cpuUs, 0),
      creditStalls: sent.creditStalls,
      creditTimeouts: sent.creditTimeouts,
    },
  };
}
