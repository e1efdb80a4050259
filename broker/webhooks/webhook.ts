/**
 * One webhook: the events matching a filter, POSTed one at a time, in
 * order, to a URL in the CloudEvents HTTP binding (binary or structured).
 *
 *   source   live: a subscriber of the node (a bounded queue, lost while
 *            the node is down); or a stream: a StreamReader (the one SSE
 *            and /v1/ws use) from the stored DeliveryPosition, so a
 *            restart resumes where delivery stood
 *   handshake  OPTIONS first (webhook-handshake.ts); refused: disabled
 *   outcome  2xx                          delivered, next event
 *            5xx, 408, 429, timeout,      retried, same event, same id,
 *            connection error             after retryDelay() (backoff.ts)
 *            410 Gone                     the webhook is disabled
 *            other 4xx (or maxAttempts)   dead letter (MeshNode.publishDeadLetter), next event
 *
 * At-least-once: an event leaves the head of the queue (and the position
 * moves past it) only once it is delivered or dead-lettered; a crash
 * between the 2xx and the position write redelivers it with the same
 * CloudEvents id, which the target can deduplicate on.
 */
import type { Metric } from '../base/mod.js';
import type { MeshEvent } from '../event/mod.js';
import { encodeHttpEvent } from '../http/mod.js';
import type { EgressFormat, MeshNode, Subscriber } from '../pipeline/mod.js';
import { CONSUMER_LIMITS, consumersOf, type StreamManager, type StreamReadEnd, StreamReader } from '../streams/mod.js';
import { retryDelay } from './backoff.js';
import type { DeliveryPosition } from './delivery-position.js';
import type { WebhookConfig } from './webhook-config.js';
import { describeFetchError, validateTarget } from './webhook-handshake.js';

export type WebhookState = 'validating' | 'active' | 'retrying' | 'disabled' | 'stopped';

/** Entries a webhook's durable consumer hands over ahead of delivery (one at a time goes out). */
const CONSUMER_WINDOW = 256;

/** Bytes of queued stream entries past which the reader waits (a stream webhook holds about one page). */
const STREAM_QUEUE_BYTES = 4 * 1024 * 1024;

/** The subscriber's format: the router encodes once per format; a webhook encodes per request itself. */
const EVENT_ONLY: EgressFormat = { name: 'webhook', binary: true, encode: () => EMPTY, batch: null };
const EMPTY = new Uint8Array(0);

interface Queued {
  readonly event: MeshEvent;
  /** Stream offset; -1 for a live event. */
  readonly offset: number;
  /** The stream epoch the offset belongs to. */
  readonly epoch: string;
  readonly bytes: number;
}

export interface WebhookMetrics {
  readonly delivered: Metric;
  readonly retried: Metric;
  readonly failed: Metric;
  readonly disabled: Metric;
}

export interface WebhookOptions {
  readonly config: WebhookConfig;
  readonly node: MeshNode;
  readonly streams: StreamManager;
  /** Stream webhooks only. */
  readonly position: DeliveryPosition | null;
  /** WebHook-Request-Origin and Origin. */
  readonly origin: string;
  readonly metrics: WebhookMetrics;
  readonly log: (line: string) => void;
}

export class Webhook implements Subscriber {
  readonly format = EVENT_ONLY;
  readonly config: WebhookConfig;
  readonly #o: WebhookOptions;
  readonly #queue: Queued[] = [];
  #queuedBytes = 0;
  #state: WebhookState = 'validating';
  #reason = '';
  #lastError = '';
  #ratePerMinute: number | null = null;
  #lastSentAt = 0;
  #reader: StreamReader | null = null;
  /** With `consumer`: the durable consumer's binding instead of a reader and a stored position. */
  #consumer: { ack(offset: number): void; detach(): void } | null = null;
  #epoch = '';
  /** Stream webhooks: the last offset delivered or dead-lettered. */
  #doneOffset = -1;
  #delivered = 0;
  #retried = 0;
  #failed = 0;
  readonly #stop = new AbortController();
  #wake: (() => void) | null = null;
  #running: Promise<void> | null = null;

  constructor(options: WebhookOptions) {
    this.#o = options;
    this.config = options.config;
  }

  get state(): WebhookState {
    return this.#state;
  }

  /** Starts the source and the delivery loop. A missing stream disables the webhook with the reason. */
  async start(): Promise<void> {
    const c = this.config;
    if (c.consumer !== undefined) {
      if (this.#o.streams.info(c.stream!) === undefined) return this.#disable(`no stream '${c.stream}'`);
      try {
        await this.#bindConsumer(c.stream!, c.consumer);
      } catch (err) {
        return this.#disable(`consumer '${c.consumer}' on stream '${c.stream}': ${(err as Error).message}`);
      }
    } else if (c.stream === undefined) {
      const refused = this.#o.node.subscribe(c.filter, this);
      if (refused !== null) return this.#disable(`filter '${c.filter}': ${refused.message}`);
    } else {
      const stored = (await this.#o.position?.load()) ?? null;
      const info = this.#o.streams.info(c.stream);
      if (info === undefined) return this.#disable(`no stream '${c.stream}'`);
      let after = info.last;
      if (stored !== null && stored.epoch === info.epoch) {
        after = Math.min(Math.max(stored.offset, info.first - 1), info.last);
        if (stored.offset < info.first - 1)
          this.#o.log(`webhook ${c.name}: offsets ${stored.offset + 1}..${info.first - 1} were trimmed by retention before delivery`);
      } else if (stored !== null) {
        after = info.first - 1;
        this.#o.log(`webhook ${c.name}: stream '${c.stream}' has a new epoch; delivering it from its first entry`);
      }
      this.#startReader(info.epoch, after);
    }
    this.#running = this.#run();
  }

  #startReader(epoch: string, after: number): void {
    this.#epoch = epoch;
    this.#doneOffset = after;
    const self = this;
    this.#reader = new StreamReader({
      streams: this.#o.streams,
      stream: this.config.stream!,
      filter: this.config.filter,
      epoch,
      after,
      sink: {
        get closed() {
          return self.#state === 'disabled' || self.#state === 'stopped';
        },
        get bufferedBytes() {
          return self.#queuedBytes;
        },
        maxBufferedBytes: STREAM_QUEUE_BYTES,
        deliverEntry: (event, offset) => this.#enqueue(event, offset, 256 + (event.data?.byteLength ?? 0)),
      },
      onEnd: (end) => this.#readEnded(end),
    });
  }

  /**
   * The durable consumer feeds the queue in offset order, a window at a
   * time; an entry is acked once delivered or dead-lettered (#done). Its
   * ack wait is the longest allowed: this webhook retries by itself, so a
   * redelivery comes only after a restart (what was in flight goes out again).
   */
  async #bindConsumer(stream: string, name: string): Promise<void> {
    const consumer = await consumersOf(this.#o.streams).bind(stream, name, {
      filter: this.config.filter,
      start: 'new',
      ackWaitMs: CONSUMER_LIMITS.maxAckWaitMs,
      maxInFlight: CONSUMER_WINDOW,
    });
    this.#epoch = this.#o.streams.info(stream)!.epoch;
    this.#doneOffset = consumer.ackFloor;
    const self = this;
    const binding = consumer.attach({
      get closed() {
        return self.#state === 'disabled' || self.#state === 'stopped';
      },
      get bufferedBytes() {
        return self.#queuedBytes;
      },
      maxBufferedBytes: STREAM_QUEUE_BYTES,
      deliver: (d) => this.#enqueue(d.event, d.offset, 256 + (d.event.data?.byteLength ?? 0)),
    });
    this.#consumer = { ack: (offset) => consumer.ack([offset]), detach: () => binding.detach() };
  }

  /** Retention overtook the reader, or the stream was re-created or removed. */
  #readEnded(end: StreamReadEnd): void {
    const info = this.#o.streams.info(this.config.stream!);
    if (info === undefined) return this.#disable(`stream '${this.config.stream}' was removed`);
    this.#o.log(`webhook ${this.config.name}: read at offset ${end.position} refused (${end.reason}); going on from offset ${info.first}`);
    this.#startReader(info.epoch, info.first - 1);
  }

  /** Live events from the router. */
  deliver(_item: Uint8Array, event: MeshEvent): void {
    if (this.#state === 'disabled' || this.#state === 'stopped') return;
    if (this.#queue.length >= this.config.maxQueue) {
      this.#failed++;
      this.#o.metrics.failed.inc();
      return;
    }
    this.#enqueue(event, -1, 0);
  }

  #enqueue(event: MeshEvent, offset: number, bytes: number): number {
    this.#queue.push({ event, offset, bytes, epoch: this.#epoch });
    this.#queuedBytes += bytes;
    this.#wake?.();
    return bytes;
  }

  async #run(): Promise<void> {
    const c = this.config;
    let attempt = 0;
    if (c.handshake) {
      for (;;) {
        if (this.#stopped()) return;
        const r = await validateTarget(c.url, this.#o.origin, c.timeoutMs, this.#stop.signal, c.headers);
        if (r.ok) {
          this.#ratePerMinute = r.ratePerMinute;
          break;
        }
        if (r.refused) return this.#disable(r.reason);
        this.#lastError = r.reason;
        await this.#sleep(retryDelay(c.retry, ++attempt, r.retryAfter));
      }
    }
    if (this.#stopped()) return;
    this.#state = 'active';
    attempt = 0;
    while (!this.#stopped()) {
      const head = this.#queue[0];
      if (head === undefined) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = null;
        continue;
      }
      await this.#pace();
      const outcome = await this.#post(head.event);
      if (this.#stopped()) return;
      if (outcome.kind === 'delivered') {
        this.#delivered++;
        this.#o.metrics.delivered.inc();
        this.#done(head);
        attempt = 0;
        this.#state = 'active';
      } else if (outcome.kind === 'gone') {
        return this.#disable(`${c.url} answered 410 Gone`);
      } else if (outcome.kind === 'refused' || (c.retry.maxAttempts > 0 && attempt + 1 >= c.retry.maxAttempts)) {
        const why = outcome.kind === 'refused' ? outcome.reason : `${outcome.reason}; gave up after ${attempt + 1} attempts (retry.maxAttempts)`;
        this.#failed++;
        this.#o.metrics.failed.inc();
        this.#o.node.reject('MG_ERR_WEBHOOK_DELIVERY', `webhook ${c.name}: event ${head.event.id}: ${why}`);
        this.#o.node.publishDeadLetter(head.event, [{ path: '', message: `webhook ${c.name} (${c.url}): ${why}` }]);
        this.#done(head);
        attempt = 0;
      } else {
        attempt++;
        this.#retried++;
        this.#o.metrics.retried.inc();
        this.#lastError = outcome.reason;
        this.#state = 'retrying';
        await this.#sleep(retryDelay(c.retry, attempt, outcome.retryAfter));
      }
    }
  }

  #done(head: Queued): void {
    this.#queue.shift();
    this.#queuedBytes -= head.bytes;
    // An entry read before the stream was re-created is delivered, but its offset is no position in the new epoch.
    if (head.offset >= 0 && this.#consumer !== null) {
      this.#doneOffset = head.offset;
      this.#consumer.ack(head.offset);
    } else if (head.offset >= 0 && head.epoch === this.#epoch) {
      this.#doneOffset = head.offset;
      this.#o.position?.advance({ epoch: this.#epoch, offset: head.offset });
      if (this.#queuedBytes < STREAM_QUEUE_BYTES / 4) this.#reader?.wake();
    }
  }

  async #post(
    event: MeshEvent,
  ): Promise<{ kind: 'delivered' } | { kind: 'gone' } | { kind: 'refused'; reason: string } | { kind: 'retry'; reason: string; retryAfter: string | null }> {
    const { headers, body } = encodeHttpEvent(event, this.config.mode);
    let res: Response;
    try {
      res = await fetch(this.config.url, {
        method: 'POST',
        headers: { ...this.config.headers, ...headers, origin: this.#o.origin },
        body: body as unknown as BodyInit,
        signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.config.timeoutMs)]),
      });
      await res.body?.cancel();
    } catch (err) {
      return { kind: 'retry', reason: describeFetchError(err), retryAfter: null };
    }
    const s = res.status;
    if (s >= 200 && s < 300) return { kind: 'delivered' };
    if (s === 410) return { kind: 'gone' };
    if (s >= 500 || s === 408 || s === 429) return { kind: 'retry', reason: `answered ${s}`, retryAfter: res.headers.get('retry-after') };
    return { kind: 'refused', reason: `answered ${s}` };
  }

  /** WebHook-Allowed-Rate: at most that many requests a minute. */
  async #pace(): Promise<void> {
    if (this.#ratePerMinute !== null) {
      const wait = this.#lastSentAt + 60_000 / this.#ratePerMinute - Date.now();
      if (wait > 0) await this.#sleep(wait);
    }
    this.#lastSentAt = Date.now();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#stop.signal.addEventListener('abort', done, { once: true });
    });
  }

  #stopped(): boolean {
    return this.#state === 'disabled' || this.#state === 'stopped';
  }

  #disable(reason: string): void {
    if (this.#stopped()) return;
    this.#state = 'disabled';
    this.#reason = reason;
    this.#o.metrics.disabled.inc();
    this.#o.node.reject('MG_ERR_WEBHOOK_REFUSED', `webhook ${this.config.name}: ${reason}`);
    this.#o.log(`webhook ${this.config.name}: disabled: ${reason}`);
    this.#release();
  }

  #release(): void {
    this.#reader?.stop();
    this.#consumer?.detach();
    if (this.config.stream === undefined) this.#o.node.unsubscribe(this.config.filter, this);
    this.#stop.abort();
    this.#wake?.();
  }

  /** Stops delivering (an in-flight request is abandoned: it is redelivered next time) and stores the position. */
  async close(): Promise<void> {
    if (!this.#stopped()) {
      this.#state = 'stopped';
      this.#release();
    }
    await this.#running;
    await this.#o.position?.flush();
  }

  /** The /v1/webhooks row. */
  status(): Record<string, unknown> {
    const c = this.config;
    return {
      name: c.name,
      url: withoutPassword(c.url),
      filter: c.filter,
      mode: c.mode,
      stream: c.stream ?? null,
      consumer: c.consumer ?? null,
      state: this.#state,
      reason: this.#reason === '' ? null : this.#reason,
      lastError: this.#lastError === '' ? null : this.#lastError,
      delivered: this.#delivered,
      retried: this.#retried,
      failed: this.#failed,
      queued: this.#queue.length,
      position: this.#reader === null && this.#consumer === null ? null : { epoch: this.#epoch, offset: this.#doneOffset },
      allowedRatePerMinute: this.#ratePerMinute,
    };
  }
}

/** The URL as /v1/webhooks shows it: a password in it replaced. */
function withoutPassword(url: string): string {
  return url.replace(/(\/\/[^/:@\s]*):[^@/\s]*@/, '$1:***@');
}
