import { TokenBucket } from './token-bucket.js';

export interface IpLimits {
  /** Open connections one client address may hold; 0: no limit. @default 0 */
  readonly maxConnectionsPerIp: number;
  /** New connections a second one client address may open; 0: no limit. @default 0 */
  readonly connectionRatePerIp: number;
  /** Connections an address may open at once before the rate applies. @default 2x connectionRatePerIp, at least 1 */
  readonly connectionBurstPerIp: number;
}

export type IpVerdict = 'ok' | 'MG_ERR_CONN_LIMIT' | 'MG_ERR_CONN_RATE';

interface Entry {
  open: number;
  bucket: TokenBucket | null;
}

/** Most addresses tracked; past it idle entries are swept, and if none is idle new addresses are refused. */
const MAX_TRACKED = 100_000;

/**
 * Connection count and rate per client address. Memory is bounded: an
 * address with no open connection and a full bucket is forgotten on the
 * next sweep, and at most MAX_TRACKED addresses are held.
 */
export class IpLimiter {
  readonly #limits: IpLimits;
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(limits: IpLimits, now: () => number = () => performance.now()) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Whether any limit is set (otherwise nothing is tracked). */
  get active(): boolean {
    return this.#limits.maxConnectionsPerIp > 0 || this.#limits.connectionRatePerIp > 0;
  }

  /** Addresses tracked, for /v1/stats and tests. */
  get size(): number {
    return this.#entries.size;
  }

  /** Admits a new connection from `ip` (counting it) or says which limit it breaks. */
  acquire(ip: string): IpVerdict {
    if (!this.active) return 'ok';
    let entry = this.#entries.get(ip);
    if (entry === undefined) {
      if (this.#entries.size >= MAX_TRACKED) {
        this.#sweep(); // make room from addresses that have gone quiet before refusing
        if (this.#entries.size >= MAX_TRACKED) return 'MG_ERR_CONN_RATE';
      }
      const { connectionRatePerIp: rate, connectionBurstPerIp: burst } = this.#limits;
      entry = { open: 0, bucket: rate > 0 ? new TokenBucket(rate, burst > 0 ? burst : Math.max(1, rate * 2), this.#now) : null };
      this.#entries.set(ip, entry);
    }
    const max = this.#limits.maxConnectionsPerIp;
    if (max > 0 && entry.open >= max) return 'MG_ERR_CONN_LIMIT';
    if (entry.bucket !== null && !entry.bucket.take()) return 'MG_ERR_CONN_RATE';
    entry.open++;
    return 'ok';
  }

  /** A connection acquired for `ip` closed. */
  release(ip: string): void {
    const entry = this.#entries.get(ip);
    if (entry === undefined) return;
    entry.open = Math.max(0, entry.open - 1);
    if (entry.open === 0 && (entry.bucket === null || entry.bucket.full)) this.#entries.delete(ip);
  }

  #sweep(): void {
    for (const [ip, e] of this.#entries) if (e.open === 0 && (e.bucket === null || e.bucket.full)) this.#entries.delete(ip);
  }
}
