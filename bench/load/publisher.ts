/**
 * Load publisher: one transport connection publishing fixed-size payloads.
 *
 * Driven over IPC by driver.ts (forked with serialization 'advanced'), or
 * standalone from a shell, printing one JSON line:
 *   node dist/bench/load/publisher.js --transport nats --url nats://127.0.0.1:4222 \
 *        --topic bench.load --payload 256 --count 100000 [--rate 10000]
 * (--rate 0 or absent = as fast as flow control allows).
 */
import { HEADER_BYTES, Kind, nowNs, type PublisherCommand, type PublisherReport, parseArgs, requireArg, writeHeader } from './protocol.js';
import type { Transport } from './transport.js';
import { loadTransport } from './transports.js';

const args = parseArgs(process.argv.slice(2));
const transportName = args.get('transport') ?? 'nats';
const url = requireArg(args, 'url');
const topic = args.get('topic') ?? 'bench.load';
const payloadBytes = Math.max(HEADER_BYTES, Number(args.get('payload') ?? 256));
/** Hard stop for the warmup loop, in case the driver dies silently. */
const WARMUP_MAX_MS = 60_000;

const payload = new Uint8Array(payloadBytes).fill(0x2e); // '.' filler
let seq = 0;

const send = (m: PublisherReport) => process.send?.(m);
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Credit from the driver: messages of the current burst every subscriber has. */
let acked = 0;
let creditWaiter: (() => void) | null = null;
/** Longest wait for credit before giving up on the window (a dead subscriber). */
const CREDIT_TIMEOUT_MS = 10_000;

/**
 * As fast as possible with two levels of flow control:
 * - a flush (a round trip through the server) every `flushEvery`
 *   messages, at most two outstanding: bounds the client's outbound buffer;
 * - `window` > 0: at most `window` messages ahead of the slowest subscriber
 *   (credit relayed by the driver): bounds what the server(s) buffer.
 */
async function burst(t: Transport, count: number, flushEvery: number, window: number) {
  acked = 0;
  let creditStalls = 0;
  let creditTimeouts = 0;
  const cpu0 = process.cpuUsage();
  const t0Ns = nowNs();
  let pending: Promise<void> | null = null;
  for (let i = 0; i < count; i++) {
    if (window > 0 && i - acked >= window) {
      creditStalls++;
      await t.flush(); // what we wait on must have left this process
      const deadline = Date.now() + CREDIT_TIMEOUT_MS;
      while (i - acked >= window && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - Date.now());
          creditWaiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        creditWaiter = null;
      }
      if (i - acked >= window) {
        creditTimeouts++;
        window = 0; // stop waiting: the report will show the loss
      }
    }
    writeHeader(payload, Kind.Burst, seq, 0);
    const r = t.publish(topic, payload, seq++);
    if (r) await r;
    if ((i + 1) % flushEvery === 0) {
      const f = t.flush();
      if (pending) await pending;
      pending = f;
    }
  }
  if (pending) await pending;
  await t.flush();
  const t1Ns = nowNs();
  const cpu = process.cpuUsage(cpu0);
  return { sent: count, t0Ns, t1Ns, cpuUs: cpu.user + cpu.system, creditStalls, creditTimeouts };
}

/**
 * `rate` messages per second, each stamped at its own send time. Wakes
 * every ~1 ms and sends what is due, so a 10k/s run sends ~10 per tick.
 */
async function paced(t: Transport, count: number, rate: number) {
  const cpu0 = process.cpuUsage();
  const t0Ns = nowNs();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((nowNs() - t0Ns) / 1e9) * rate) + 1);
    while (sent < due) {
      writeHeader(payload, Kind.Paced, seq, nowNs());
      const r = t.publish(topic, payload, seq++);
      if (r) await r;
      sent++;
    }
    if (sent < count) await delay(1);
  }
  await t.flush();
  const t1Ns = nowNs();
  const cpu = process.cpuUsage(cpu0);
  return { sent, t0Ns, t1Ns, cpuUs: cpu.user + cpu.system, creditStalls: 0, creditTimeouts: 0 };
}

async function main() {
  const factory = await loadTransport(transportName);
  const t = factory({ clientId: `bench-pub-${process.pid}` });
  await t.connect(url);

  if (!process.send) {
    // Standalone CLI mode.
    const count = Number(requireArg(args, 'count'));
    const rate = Number(args.get('rate') ?? 0);
    const r = rate > 0 ? await paced(t, count, rate) : await burst(t, count, Number(args.get('flush-every') ?? 1000), 0);
    const seconds = (r.t1Ns - r.t0Ns) / 1e9;
    process.stdout.write(JSON.stringify({ ...r, seconds, perSec: r.sent / seconds }) + '\n');
    await t.close();
    return;
  }

  let warmupTimer: NodeJS.Timeout | null = null;
  let warmupSent = 0;
  process.on('disconnect', () => process.exit(0)); // the driver is gone
  process.on('message', (m: PublisherCommand) => {
    if (m.cmd === 'credit') {
      // Synchronous: must not wait behind a running burst.
      if (m.acked > acked) acked = m.acked;
      creditWaiter?.();
      return;
    }
    void (async () => {
      switch (m.cmd) {
        case 'warmup': {
          const started = Date.now();
          warmupTimer = setInterval(() => {
            if (Date.now() - started > WARMUP_MAX_MS && warmupTimer) clearInterval(warmupTimer);
            writeHeader(payload, Kind.Warmup, seq, nowNs());
            void t.publish(topic, payload, seq++);
            warmupSent++;
          }, m.intervalMs);
          break;
        }
        case 'stop-warmup':
          if (warmupTimer) clearInterval(warmupTimer);
          warmupTimer = null;
          await t.flush();
          send({ type: 'warmup-stopped', sent: warmupSent });
          break;
        case 'burst':
          send({ type: 'sent', phase: 'burst', ...(await burst(t, m.count, m.flushEvery, m.window)) });
          break;
        case 'paced':
          send({ type: 'sent', phase: 'paced', ...(await paced(t, m.count, m.rate)) });
          break;
        case 'exit':
          if (warmupTimer) clearInterval(warmupTimer);
          await t.close().catch(() => undefined);
          process.exit(0);
      }
    })().catch((err: unknown) => {
      send({ type: 'error', message: `publisher: ${(err as Error)?.stack ?? String(err)}` });
      process.exit(1);
    });
  });
  send({ type: 'ready' });
}

main().catch((err: unknown) => {
  const message = `publisher: ${(err as Error)?.stack ?? String(err)}`;
  if (process.send) send({ type: 'error', message });
  else process.stderr.write(message + '\n');
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
});
