/**
 * What the load processes agree on: the payload header, the clock and the
 * IPC messages between the driver (parent) and publisher/subscriber
 * children.
 *
 * Payload header (first 16 bytes of every message; the rest is filler up
 * to --payload bytes):
 * ```
 *  0      1        4            8                       16
 *  +------+--------+------------+-----------------------+---------- - -
 *  | kind | unused | seq u32 LE | send time f64 LE (ns) | filler…
 *  +------+--------+------------+-----------------------+---------- - -
 * ```
 * Clock: process.hrtime.bigint() reads CLOCK_MONOTONIC, which on Linux is
 * one clock for every process on the machine, so a subscriber can subtract
 * a publisher's send time. Stored as a float64 of nanoseconds: exact to
 * the nanosecond for ~104 days of uptime and within a few ns after.
 */

export const HEADER_BYTES = 16;

export const Kind = {
  /** Sent until every subscriber has seen one: proves interest has propagated. */
  Warmup: 0,
  /** Throughput phase: counted. */
  Burst: 1,
  /** Fixed-rate phase: counted and timed. */
  Paced: 2,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Monotonic nanoseconds, comparable across processes on one host. */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Scratch for reading the f64 without allocating per message. */
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

export function writeHeader(buf: Uint8Array, kind: Kind, seq: number, sendNs: number): void {
  buf[0] = kind;
  buf[4] = seq & 0xff;
  buf[5] = (seq >>> 8) & 0xff;
  buf[6] = (seq >>> 16) & 0xff;
  buf[7] = (seq >>> 24) & 0xff;
  f64[0] = sendNs;
  buf.set(f64Bytes, 8);
}

export function readKind(buf: Uint8Array): number {
  return buf[0]!;
}

export function readSendNs(buf: Uint8Array): number {
  for (let i = 0; i < 8; i++) f64Bytes[i] = buf[8 + i]!;
  return f64[0]!;
}

// ---------------------------------------------------------------- IPC
// Children are forked with serialization 'advanced' (structured clone):
// Float64Array and bigint cross as-is.

export type PublisherCommand =
  | { cmd: 'warmup'; intervalMs: number }
  | { cmd: 'stop-warmup' }
  /**
   * `window` > 0: never more than `window` messages ahead of the slowest
   * subscriber connection, as reported by `credit` (end-to-end flow
   * control: without it a server-to-server hop or a slow subscriber makes
   * the server buffer without bound and cut the subscriber off).
   */
  | { cmd: 'burst'; count: number; flushEvery: number; window: number }
  /** Messages of the current burst that every subscriber connection has received. */
  | { cmd: 'credit'; acked: number }
  | { cmd: 'paced'; count: number; rate: number }
  | { cmd: 'exit' };

export type PublisherReport =
  | { type: 'ready' }
  | { type: 'warmup-stopped'; sent: number }
  | { type: 'sent'; phase: 'burst' | 'paced'; sent: number; t0Ns: number; t1Ns: number; cpuUs: number; creditStalls: number; creditTimeouts: number }
  | { type: 'error'; message: string };

export type SubscriberCommand =
  /** `progressEvery` > 0: report `progress` each time every connection got that many more. */
  { cmd: 'arm'; phase: 'burst' | 'paced'; expect: number; progressEvery: number } | { cmd: 'collect' } | { cmd: 'exit' };

export type SubscriberReport =
  | { type: 'ready'; connections: number }
  | { type: 'warm' }
  | { type: 'armed'; phase: 'burst' | 'paced' }
  /** Minimum per-connection count of the current phase. */
  | { type: 'progress'; acked: number }
  | {
      type: 'phase-done';
      phase: 'burst' | 'paced';
      /** Messages of this phase received, per connection. */
      counts: number[];
      /** Whether every connection reached `expect`. */
      complete: boolean;
      /** Receive time of the last message of the phase (max over connections), ns. */
      lastNs: number;
      /** Latency samples in µs (paced phase only). */
      samplesUs?: Float64Array;
      cpuUs: number;
    }
  | { type: 'error'; message: string };

/** `--name value` pairs to a map (values only; flags without value get 'true'). */
export function parseArgs(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) out.set(a.slice(2), argv[++i]!);
    else out.set(a.slice(2), 'true');
  }
  return out;
}

export function requireArg(args: Map<string, string>, name: string): string {
  const v = args.get(name);
  if (v === undefined) throw new Error(`missing --${name}`);
  return v;
}
