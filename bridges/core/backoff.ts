/**
 * Exponential backoff with full jitter between `minMs` and a doubling
 * ceiling capped at `maxMs`. A bridge keeps two: reconnect delays (reset
 * after a successful connect) and export resend delays (reset once a
 * failed export is settled).
 */
export class Backoff {
  readonly #minMs: number;
  readonly #maxMs: number;
  #ceiling: number;

  constructor(minMs: number, maxMs: number) {
    this.#minMs = minMs;
    this.#maxMs = Math.max(minMs, maxMs);
    this.#ceiling = minMs;
  }

  /** The next delay, ms. */
  next(): number {
    const delay = this.#minMs + Math.random() * (this.#ceiling - this.#minMs);
    this.#ceiling = Math.min(this.#ceiling * 2, this.#maxMs);
    return Math.round(delay);
  }

  reset(): void {
    this.#ceiling = this.#minMs;
  }
}
