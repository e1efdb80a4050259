/**
 * Load subscriber process: `--connections K` transport connections, each
 * with one subscription on the topic (K simulated subscribers, so a 1→100
 * fan-out does not need 100 Node processes on a 2-core box; the server
 * still delivers to 100 connections).
 *
 * Driven over IPC by driver.ts, or standalone:
 *   node dist/bench/load/subscriber.js --transport nats --url nats://127.0.0.1:4222 \
 *        --topic bench.load --connections 1 --count 100000
 * prints one JSON line once every connection got --count messages
 * (warmup messages excluded; bounded by --timeout-ms, default 60000).
 */
import { SampleRecorder, summarize } from '../latency.js';
import { Kind, nowNs, parseArgs, readKind, readSendNs, requireArg, type SubscriberCommand, type SubscriberReport } from './protocol.js';
import type { Transport } from './transport.js';
import { loadTransport } from './transports.js';

const args = parseArgs(process.argv.slice(2));
const transportName = args.get('transport') ?? 'nats';
const url = requireArg(args, 'url');
const topic = args.get('topic') ?? 'bench.load';
const connections = Math.max(1, Number(args.get('connections') ?? 1));

const send = (m: SubscriberReport) => process.send?.(m);

/** phaseKind value meaning "adopt the kind of the first non-warmup message" (CLI mode). */
const AUTO_KIND = -2;

// ---- state of the current phase
let phase: 'burst' | 'paced' | null = null;
let phaseKind: number = -1;
let firstNs = 0;
let expect = 0;
const counts = new Array<number>(connections).fill(0);
let doneConnections = 0;
let lastNs = 0;
const recorder = new SampleRecorder(1 << 14, 2_000_000);
let cpuAtArm = process.cpuUsage();
let onComplete: (() => void) | null = null;
let progressEvery = 0;
let lastProgress = 0;

// ---- warmup tracking
const sawWarmup = new Array<boolean>(connections).fill(false);
let warmConnections = 0;
let warmReported = false;

function onMessage(c: number, payload: Uint8Array): void {
  const kind = readKind(payload);
  if (kind === Kind.Warmup) {
    if (!sawWarmup[c]) {
      sawWarmup[c] = true;
      if (++warmConnections === connections && !warmReported) {
        warmReported = true;
        send({ type: 'warm' });
      }
    }
    return;
  }
  if (phaseKind === AUTO_KIND) {
    phaseKind = kind;
    phase = kind === Kind.Paced ? 'paced' : 'burst';
    firstNs = nowNs();
  }
  if (kind !== phaseKind) return; // late message of an earlier phase
  const now = nowNs();
  if (kind === Kind.Paced) recorder.push((now - readSendNs(payload)) / 1000);
  if (now > lastNs) lastNs = now;
  if (++counts[c]! === expect && ++doneConnections === connections) onComplete?.();
  else if (progressEvery > 0 && counts[c]! % progressEvery === 0) {
    // Checked when a connection crosses a multiple of progressEvery: the
    // last connection to cross one sees every other past it, so the
    // reported minimum never lags more than progressEvery behind (the
    // publisher's window must be larger, or it would wait forever).
    let min = Infinity;
    for (let i = 0; i < connections; i++) if (counts[i]! < min) min = counts[i]!;
    if (min > lastProgress) {
      lastProgress = min;
      send({ type: 'progress', acked: min });
    }
  }
}

function arm(p: 'burst' | 'paced', n: number, every: number): void {
  progressEvery = every;
  lastProgress = 0;
  phase = p;
  phaseKind = p === 'burst' ? Kind.Burst : Kind.Paced;
  expect = n;
  counts.fill(0);
  doneConnections = 0;
  lastNs = 0;
  recorder.clear();
  cpuAtArm = process.cpuUsage();
}

function report(): SubscriberReport {
  const cpu = process.cpuUsage(cpuAtArm);
  const r: SubscriberReport = {
    type: 'phase-done',
    phase: phase ?? 'burst',
    counts: [...counts],
    complete: doneConnections === connections,
    lastNs,
    samplesUs: phase === 'paced' ? recorder.toArray() : undefined,
    cpuUs: cpu.user + cpu.system,
  };
  phase = null;
  phaseKind = -1;
  return r;
}

async function main() {
  const cliMode = !process.send;
  if (cliMode) {
    expect = Number(requireArg(args, 'count'));
    phaseKind = AUTO_KIND;
  }
  const factory = await loadTransport(transportName);
  const transports: Transport[] = [];
  for (let c = 0; c < connections; c++) {
    const t = factory({ clientId: `bench-sub-${process.pid}-${c}` });
    await t.connect(url);
    await t.subscribe(topic, (p) => onMessage(c, p));
    transports.push(t);
  }
  const closeAll = () => Promise.all(transports.map((t) => t.close().catch(() => undefined)));

  if (cliMode) {
    const timeoutMs = Number(args.get('timeout-ms') ?? 60_000);
    process.stderr.write(`subscriber: ${connections} connection(s) subscribed to ${topic}\n`);
    await new Promise<void>((resolve) => {
      onComplete = resolve;
      setTimeout(resolve, timeoutMs).unref();
    });
    const latencyUs = recorder.length ? summarize(recorder.toArray()) : undefined;
    const seconds = firstNs ? (lastNs - firstNs) / 1e9 : 0;
    process.stdout.write(JSON.stringify({ counts, complete: doneConnections === connections, seconds, latencyUs }) + '\n');
    await closeAll();
    return;
  }

  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: SubscriberCommand) => {
    switch (m.cmd) {
      case 'arm':
        onComplete = () => {
          onComplete = null;
          send(report());
        };
        arm(m.phase, m.expect, m.progressEvery);
        send({ type: 'armed', phase: m.phase });
        break;
      case 'collect':
        // Ignored when the phase already reported itself complete.
        if (phase !== null) {
          onComplete = null;
          send(report());
        }
        break;
      case 'exit':
        void closeAll().then(() => process.exit(0));
        break;
    }
  });
  send({ type: 'ready', connections });
}

main().catch((err: unknown) => {
  const message = `subscriber: ${(err as Error)?.stack ?? String(err)}`;
  if (process.send) send({ type: 'error', message });
  else process.stderr.write(message + '\n');
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
});
