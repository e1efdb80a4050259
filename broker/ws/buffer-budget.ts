import { codedReason, type Metric } from '../base/mod.js';
import { CLOSE } from './close-codes.js';

/** What the budget needs of a session. */
interface Buffering {
  reportBuffered(): void;
  end(code: number, reason: string): void;
}

/**
 * The node-wide bound on bytes buffered in uWS for subscribers
 * (limits.maxNodeBufferedBytes). Each session reports what uWS holds for
 * it after every flush and drain; the sum is kept here without a scan.
 * When it passes the limit, the sessions that buffer are re-read (reports
 * only ever overstate: buffers shrink on their own as they drain) and the
 * largest are closed as slow consumers, 1008, until the sum is back
 * within the limit. A slow consumer is the one holding memory, so the one
 * with most is closed first; consumers that keep up hold nothing and are
 * never chosen.
 *
 * Bytes of a closed socket leave the sum at once; uWS frees them when the
 * close completes (the peer reads up to the close frame, or the socket
 * times out).
 */
export class BufferBudget {
  /** @default 268_435_456 (256 MiB) */
  readonly limit: number;
  /** Sessions reported non-zero, with what they reported. */
  readonly #held = new Map<Buffering, number>();
  readonly #closes: Metric;
  #total = 0;
  /** Set while shedding: the closes it makes report back here and must not start another round. */
  #shedding = false;

  constructor(limit: number, closes: Metric) {
    this.limit = limit;
    this.#closes = closes;
  }

  /** Bytes buffered across the node's subscriber sockets, as last reported. */
  get total(): number {
    return this.#total;
  }

  /** `session` now has `bytes` buffered in uWS; may close the largest sessions when the node is over its limit. */
  report(session: Buffering, bytes: number): void {
    const before = this.#held.get(session) ?? 0;
    if (bytes === before) return;
    this.#total += bytes - before;
    if (bytes === 0) this.#held.delete(session);
    else this.#held.set(session, bytes);
    if (this.#total > this.limit && !this.#shedding) this.#shed();
  }

  #shed(): void {
    this.#shedding = true;
    try {
      // Fresh numbers first: a drain may have gone unreported.
      for (const session of [...this.#held.keys()]) session.reportBuffered();
      if (this.#total <= this.limit) return;
      const largest = [...this.#held].sort((a, b) => b[1] - a[1]);
      for (const [session] of largest) {
        if (this.#total <= this.limit) return;
        this.#closes.inc();
        session.end(CLOSE.POLICY, codedReason('MG_ERR_SLOW_CONSUMER', 'limits.maxNodeBufferedBytes'));
      }
    } finally {
      this.#shedding = false;
    }
  }
}
