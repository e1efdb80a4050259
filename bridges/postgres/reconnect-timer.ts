/**
 * When a lost PostgreSQL session (a source's replication stream, a sink's
 * target session) is opened again: after the bridges' shared backoff
 * (bridges/core Backoff: jittered, doubling to backoffMaxMs), reset once a
 * session is up again. One timer pending at a time; cancel() at close.
 */
import { Backoff } from '../core/mod.js';

export class ReconnectTimer {
  readonly #backoff: Backoff;
  #timer: NodeJS.Timeout | null = null;

  constructor(minMs: number, maxMs: number) {
    this.#backoff = new Backoff(minMs, maxMs);
  }

  /** Runs `again` after the next delay; returns the delay, ms (for the log line). */
  schedule(again: () => void): number {
    this.cancel();
    const delay = this.#backoff.next();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      again();
    }, delay);
    return delay;
  }

  /** A session is up: the next loss waits the shortest delay again. */
  reset(): void {
    this.#backoff.reset();
  }

  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
