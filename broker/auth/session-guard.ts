import type { ErrorCode } from '../base/mod.js';
import type { Principal } from './authenticator.js';
import { narrowFilter } from './narrow-filter.js';
import { TokenBucket } from './token-bucket.js';

/** Per-connection publish rate; rate 0 turns it off. */
export interface PublishLimit {
  /** Events a second. */
  readonly rate: number;
  /** Events at once before the rate applies. */
  readonly burst: number;
}

export interface GuardRefusal {
  readonly code: ErrorCode;
  readonly message: string;
}

/** Longest single timer (setTimeout takes a signed 32-bit ms delay). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The rights of one connection, checked on every publish, subscribe and
 * (only when needed) delivery. A connection without a principal (auth off)
 * may do everything and never pays for a check.
 *
 * Per-delivery filtering: a subscription that overlaps topics the
 * principal may not read (`>` with only `orders.>` allowed, or any
 * wildcard touching reserved `_mg.` topics) is accepted as partial, and
 * from then on every delivery to this connection is checked with
 * `admits(topic)` (verdicts cached per topic). Connections whose
 * subscriptions are all fully allowed skip the check. The router gets
 * only the readable part of a partial subscription (`routerFilters`), so
 * the node advertises no interest in what it would withhold anyway.
 */
export class SessionGuard {
  readonly principal: Principal | null;
  readonly #bucket: TokenBucket | null;
  readonly #partial = new Set<string>();
  #timer: NodeJS.Timeout | null = null;

  constructor(principal: Principal | null, publishLimit: PublishLimit | null) {
    this.principal = principal;
    this.#bucket =
      publishLimit !== null && publishLimit.rate > 0
        ? new TokenBucket(publishLimit.rate, publishLimit.burst > 0 ? publishLimit.burst : publishLimit.rate)
        : null;
  }

  /** Whether deliveries to this connection must be checked one by one. */
  get filtering(): boolean {
    return this.#partial.size > 0;
  }

  /** Checks one publish: rights first, then the rate (a forbidden publish takes no token). */
  checkPublish(topic: string): GuardRefusal | null {
    const p = this.principal;
    if (p !== null && !p.permissions.canPublish(topic)) return { code: 'MG_ERR_AUTH_FORBIDDEN', message: `'${p.name}' may not publish to '${topic}'` };
    if (this.#bucket !== null && !this.#bucket.take()) return { code: 'MG_ERR_PUB_RATE', message: 'publishing faster than limits.publishRate; event dropped' };
    return null;
  }

  /** Checks a subscribe; on success the filter is remembered as full or partial. Call `unsubscribed` when it goes. */
  checkSubscribe(filter: string): GuardRefusal | null {
    const p = this.principal;
    if (p === null) return null;
    const right = p.permissions.canSubscribe(filter);
    if (right === 'none') return { code: 'MG_ERR_AUTH_FORBIDDEN', message: `'${p.name}' may not subscribe to '${filter}'` };
    if (right === 'partial') this.#partial.add(filter);
    return null;
  }

  /**
   * What to register with the router for `filter`, which passed
   * `checkSubscribe`: the filter itself when fully allowed, else its
   * readable part (narrow-filter.ts), possibly several filters or none.
   * `fits` is the node's filter check: a narrowed piece can be deeper or
   * hold more wildcards than the node allows (permission filters have
   * wider limits), and then the client's own filter, which fits, is
   * registered instead; `admits` keeps deliveries exact either way.
   */
  routerFilters(filter: string, fits: (routerFilter: string) => boolean): readonly string[] {
    const p = this.principal;
    if (p === null || !this.#partial.has(filter)) return [filter];
    const narrowed = narrowFilter(filter, p.permissions.describe().sub);
    return narrowed.every(fits) ? narrowed : [filter];
  }

  unsubscribed(filter: string): void {
    this.#partial.delete(filter);
  }

  /** Whether an event on `topic` may be delivered here. Only called when `filtering`. */
  admits(topic: string): boolean {
    return this.principal === null || this.principal.permissions.canRead(topic);
  }

  /** Calls `onExpire` when the credential expires (if it does). Replaces an earlier call's timer. */
  watchExpiry(onExpire: () => void, now: () => number = Date.now): void {
    this.stop();
    const at = this.principal?.expiresAt ?? null;
    if (at === null) return;
    const arm = () => {
      const left = at - now();
      if (left <= 0) return onExpire();
      this.#timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      this.#timer.unref();
    };
    arm();
  }

  /** Cancels the expiry timer (connection closed). */
  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
