/**
 * One `webhooks:` entry of the node configuration (schemas/config.schema.json
 * `webhooks`), with its defaults filled in.
 */

export interface WebhookRetry {
  /** First retry delay, ms; each further one doubles, up to maxDelayMs, with up to +/-20% jitter. @default 500 */
  readonly initialDelayMs: number;
  /** Longest retry delay, ms. @default 30_000 */
  readonly maxDelayMs: number;
  /** Tries per event before it goes to the dead letters; 0: retry until it is delivered (at-least-once). @default 0 */
  readonly maxAttempts: number;
}

export interface WebhookConfig {
  /** Names the webhook in /v1/webhooks, metrics and its stored position (storage.dir/webhooks/<name>.json). */
  readonly name: string;
  /** http:// or https:// URL each event is POSTed to. */
  readonly url: string;
  /** Topic filter of the events delivered. */
  readonly filter: string;
  /** The CloudEvents HTTP binding mode. @default 'binary' */
  readonly mode: 'binary' | 'structured';
  /** Deliver from this stream, resuming from the stored position after a restart; none: live events only, lost while the node is down. */
  readonly stream?: string;
  /**
   * With `stream`: keep the position as this durable consumer of the stream
   * (listed with its lag in /v1/streams/<stream>, kept by the stream's
   * engine) instead of a file under storage.dir/webhooks/.
   */
  readonly consumer?: string;
  /** One request's time limit, ms; past it the request is abandoned and retried. @default 10_000 */
  readonly timeoutMs: number;
  readonly retry: WebhookRetry;
  /** WebHook-Request-Origin of the validation handshake and Origin of every delivery. @default the node id */
  readonly origin?: string;
  /** Run the CloudEvents Web Hook validation handshake (OPTIONS) before the first delivery. @default true */
  readonly handshake: boolean;
  /** Extra request headers on the handshake and every delivery, e.g. {Authorization: 'Bearer <token>'} for a target with auth. @default {} */
  readonly headers: Readonly<Record<string, string>>;
  /** Live events waiting for delivery (no stream) before further ones are counted failed and dropped. @default 10_000 */
  readonly maxQueue: number;
}

export const WEBHOOK_DEFAULTS = Object.freeze({
  mode: 'binary' as const,
  timeoutMs: 10_000,
  retry: Object.freeze({ initialDelayMs: 500, maxDelayMs: 30_000, maxAttempts: 0 }),
  handshake: true,
  maxQueue: 10_000,
  headers: Object.freeze({}),
});

/** A schema-checked entry with its defaults; `index` names it when it has no name. */
export function webhookConfigFromEntry(entry: Record<string, unknown>, index: number): WebhookConfig {
  const retry = (entry.retry ?? {}) as Partial<WebhookRetry>;
  return {
    ...WEBHOOK_DEFAULTS,
    ...(entry as Partial<WebhookConfig>),
    name: (entry.name as string | undefined) ?? `webhook-${index}`,
    retry: { ...WEBHOOK_DEFAULTS.retry, ...retry },
  } as WebhookConfig;
}
