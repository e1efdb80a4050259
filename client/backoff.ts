/** Reconnect delays: exponential growth with jitter, so many clients of a restarted node do not return at once. */
export interface BackoffOptions {
  /** First delay's upper bound, ms. @default 100 */
  readonly minMs: number;
  /** Largest delay, ms. @default 5000 */
  readonly maxMs: number;
}

/**
 * Delay before reconnect attempt `attempt` (0-based): "equal jitter",
 * half the exponential step fixed and half random, so a delay is never 0
 * (no tight loop against a node that refuses at once) yet spreads clients.
 *
 * @example nextDelay(3, { minMs: 100, maxMs: 5000 }, Math.random) // 400..800
 */
export function nextDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const step = Math.min(options.maxMs, options.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + random() * (step / 2));
}
