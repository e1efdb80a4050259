/**
 * Retry delays: exponential from initialDelayMs, capped at maxDelayMs, with
 * +/-20% jitter so webhooks failing together do not retry in lockstep.
 * A target's Retry-After (seconds) is honoured, within the same cap.
 */
import type { WebhookRetry } from './webhook-config.js';

export function retryDelay(retry: WebhookRetry, attempt: number, retryAfter: string | null, random: () => number = Math.random): number {
  const cap = retry.maxDelayMs;
  if (retryAfter !== null && /^\d{1,6}$/.test(retryAfter.trim())) return Math.min(cap, Number(retryAfter.trim()) * 1000);
  const base = Math.min(cap, retry.initialDelayMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.max(0, Math.min(cap, Math.round(base * (0.8 + 0.4 * random()))));
}
