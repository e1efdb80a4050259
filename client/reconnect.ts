/**
 * Reconnecting: whether a closed connection is tried again, and when.
 *
 *   state:  idle -> connecting -> open -> reconnecting -> connecting -> open ...
 *                       \________________ close() / fatal error ___________> closed
 *
 * A close whose code says the credential cannot work (errors.ts,
 * isFatalCode) ends the client; any other close is retried after a
 * backoff delay (backoff.ts) that grows with each attempt in a row and
 * starts over once a connection is open again.
 */
import { type BackoffOptions, nextDelay } from './backoff.js';
import { isFatalCode, type MeshgateError } from './errors.js';

/** Connection states, announced by the `state` event. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * What follows a close that carried `err` (null: no code): `fatal` ends the
 * client with `err`, `off` ends it because reconnecting is switched off,
 * `retry` connects again. An expired token is retried when a token function
 * can supply a fresh one.
 */
export function afterClose(err: MeshgateError | null, options: { readonly reconnect: boolean; readonly tokenRefreshable: boolean }): 'fatal' | 'off' | 'retry' {
  const refreshable = err?.code === 'MG_ERR_AUTH_EXPIRED' && options.tokenRefreshable;
  if (err !== null && isFatalCode(err.code) && !refreshable) return 'fatal';
  return options.reconnect ? 'retry' : 'off';
}

/** The retry timer and the attempt count that sets each delay. */
export class Reconnect {
  readonly #backoff: BackoffOptions;
  readonly #random: () => number;
  readonly #reopen: () => void;
  /** Attempts since the last open connection: the backoff exponent. */
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  /** `reopen` runs when a scheduled delay has passed. */
  constructor(backoff: BackoffOptions, random: () => number, reopen: () => void) {
    this.#backoff = backoff;
    this.#random = random;
    this.#reopen = reopen;
  }

  /** The delay before the next attempt, ms; each call counts one attempt more. */
  nextDelay(): number {
    return nextDelay(this.#attempt++, this.#backoff, this.#random);
  }

  /** Starts the timer for the next attempt, `delay` ms from now. */
  retryAfter(delay: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#reopen();
    }, delay);
  }

  /** A connection is open: the next close starts from the shortest delay again. */
  opened(): void {
    this.#attempt = 0;
  }

  /** Attempts were made since the last open connection (a scheduled one counts). */
  get retrying(): boolean {
    return this.#attempt > 0;
  }

  /** No further attempt (the client is closing). */
  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
