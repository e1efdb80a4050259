/**
 * A token bucket: `ratePerSec` tokens a second, holding at most `burst`.
 * One instance per thing limited; two numbers of state, no timers.
 *
 * @example
 * const b = new TokenBucket(100, 200);
 * if (!b.take()) refuse();
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  /** `now` in ms. @default performance.now */
  constructor(ratePerSec: number, burst: number, now: () => number = () => performance.now()) {
    this.#rate = ratePerSec / 1000;
    this.#burst = Math.max(1, burst);
    this.#now = now;
    this.#tokens = this.#burst;
    this.#at = now();
  }

  /** Takes one token if there is one. */
  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whether the bucket is back to full (nothing to remember about its owner). */
  get full(): boolean {
    this.#refill();
    return this.#tokens >= this.#burst;
  }

  #refill(): void {
    const now = this.#now();
    const dt = now - this.#at;
    if (dt > 0) {
      this.#tokens = Math.min(this.#burst, this.#tokens + dt * this.#rate);
      this.#at = now;
    }
  }
}
