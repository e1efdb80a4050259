/**
 * One Server-Sent Events stream (GET /v1/sse/<filter>) as a subscriber of
 * the node. Each event is one SSE message of `data:` lines holding the
 * structured JSON CloudEvent (the WebSocket binding's bytes), so a browser
 * EventSource gets it as a plain `message` event:
 *
 *   data: {"specversion":"1.0","id":"1",...,"data":{"a":1}}\n
 *   \n
 *
 * Resuming streams (sse-resume.ts): a stream-fed SSE stream's messages
 * also carry `id: <epoch>:<offset>` (sseStreamItem), written through
 * push() by a StreamReader whose sink is this session (bufferedBytes,
 * onWritableAgain); the live route never feeds such a stream.
 *
 * Backpressure: uWS's HttpResponse does not say how many bytes it holds
 * for a socket (getWriteOffset stays 0 for chunked writes), so the stream
 * keeps them itself. Items queued in a loop turn go out in one corked
 * write; when uWS reports backpressure (write() false) the stream is
 * blocked and further items wait in its own queue, counted exactly. On
 * each writable event a 3-byte comment (`:\n\n`, ignored by SSE parsers)
 * is written to make uWS drain what it holds (with an onWritable handler
 * set, uWS drains only on a write); once that write goes through, the
 * queue follows. Buffered bytes = the queue plus the one write uWS took
 * under backpressure (an upper bound: part of it may be sent). Past
 * limits.maxBufferedBytes the stream is closed and counted in
 * meshgate_slow_consumer_closes_total{limit="socket"}, and every report
 * goes to the node-wide BufferBudget the WebSocket sessions share.
 */
import type { HttpResponse } from 'uWebSockets.js';
import type { Metric } from '../base/mod.js';
import { encodeStructuredJson, type MeshEvent } from '../event/mod.js';
import type { EgressFormat, Subscriber } from '../pipeline/mod.js';
import type { BufferBudget } from '../ws/mod.js';

/** Line breaks in the JSON text (only whitespace there: JSON strings escape them), each one a new `data:` line. */
const LINE_BREAK = /\r\n|\r|\n/g;

/** SSE framing of one event: `data:` lines, then the blank line that ends the message (WHATWG HTML §9.2.6). */
export const SSE_FORMAT: EgressFormat = {
  name: 'sse',
  binary: false,
  encode: (event) => Buffer.from(`data: ${encodeStructuredJson(event).replace(LINE_BREAK, '\ndata: ')}\n\n`),
  batch: (items, from, count) => Buffer.concat(items.slice(from, from + count)),
};

/**
 * One stream entry as an SSE message: `id: <epoch>:<offset>` then the
 * data lines. The id is what EventSource sends back as Last-Event-ID.
 */
export function sseStreamItem(event: MeshEvent, epoch: string, offset: number): Uint8Array {
  return Buffer.from(`id: ${epoch}:${offset}\ndata: ${encodeStructuredJson(event).replace(LINE_BREAK, '\ndata: ')}\n\n`);
}

/** A comment line: keeps proxies from timing the stream out, and makes uWS drain. */
const DRAIN_COMMENT = ':\n\n';

export interface SseSessionOptions {
  readonly maxBufferedBytes: number;
  readonly slowConsumerCloses: Metric;
  readonly bytesOut: Metric;
  readonly budget: BufferBudget;
}

const dirty: SseSession[] = [];
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  for (let i = 0; i < dirty.length; i++) dirty[i].flush();
  dirty.length = 0;
}

export class SseSession implements Subscriber {
  readonly format = SSE_FORMAT;
  /** Per-delivery check for a partly authorized filter (SessionGuard); null: every delivery passes. */
  admits: ((topic: string) => boolean) | null = null;
  /** Filters registered with the router for this stream, to remove on close. */
  readonly routerFilters: string[] = [];
  readonly #res: HttpResponse;
  readonly #options: SseSessionOptions;
  /** Items of this loop turn, not yet written. */
  readonly #pending: Uint8Array[] = [];
  /** Written while blocked: waits for uWS to drain. */
  readonly #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  /** Bytes of the write that met backpressure: at most this much is still in uWS. */
  #inUws = 0;
  #blocked = false;
  #scheduled = false;
  #closed = false;
  readonly #onClose: () => void;
  /** Called once uWS drained what was blocked: a stream reader waiting on this session reads on. */
  onWritableAgain: (() => void) | null = null;
  /** Called with each heartbeat: a stream reader looks at its stream (a removed one wakes no reader by appends). */
  onHeartbeat: (() => void) | null = null;

  constructor(res: HttpResponse, options: SseSessionOptions, onClose: () => void) {
    this.#res = res;
    this.#options = options;
    this.#onClose = onClose;
    res.onWritable(() => this.#drain());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes held for this stream: its queue plus at most one write inside uWS. */
  get buffered(): number {
    return this.#queuedBytes + this.#inUws;
  }

  /** `buffered`, as a stream reader's TransportState names it. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The transport's per-stream limit (limits.maxBufferedBytes), for a stream reader's paging. */
  get maxBufferedBytes(): number {
    return this.#options.maxBufferedBytes;
  }

  deliver(item: Uint8Array, event: MeshEvent): void {
    if (this.#closed || (this.admits !== null && !this.admits(event.topic))) return;
    this.push(item);
  }

  /** Queues bytes of this loop turn's write, in order with deliveries (a reset notice, a position-only `id:` message). */
  push(item: Uint8Array): void {
    if (this.#closed) return;
    this.#pending.push(item);
    if (!this.#scheduled) {
      this.#scheduled = true;
      dirty.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAll);
      }
    }
  }

  /** Writes a comment line (heartbeat); skipped while blocked, where the drain comments already flow. */
  comment(text: string): void {
    if (this.#closed || this.#blocked) return;
    this.#write(Buffer.from(`: ${text}\n\n`));
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#closed || this.#pending.length === 0) return;
    const chunk = this.#pending.length === 1 ? this.#pending[0] : SSE_FORMAT.batch!(this.#pending, 0, this.#pending.length);
    this.#pending.length = 0;
    if (this.#blocked) {
      this.#queue.push(chunk);
      this.#queuedBytes += chunk.byteLength;
    } else this.#write(chunk);
    this.#check();
  }

  #write(chunk: Uint8Array): void {
    let ok = false;
    this.#res.cork(() => {
      ok = this.#res.write(chunk);
    });
    this.#options.bytesOut.inc(chunk.byteLength);
    if (!ok) {
      this.#blocked = true;
      this.#inUws = chunk.byteLength;
    }
  }

  /** uWS says the socket takes bytes again. Always true: nothing is left half-written on our side. */
  #drain(): boolean {
    if (this.#closed || !this.#blocked) return true;
    let ok = false;
    this.#res.cork(() => {
      ok = this.#res.write(DRAIN_COMMENT);
    });
    if (!ok) return true; // still draining; the next writable event tries again
    this.#blocked = false;
    this.#inUws = 0;
    if (this.#queue.length > 0) {
      const chunk = Buffer.concat(this.#queue, this.#queuedBytes);
      this.#queue.length = 0;
      this.#queuedBytes = 0;
      this.#write(chunk);
    }
    this.#check();
    if (!this.#blocked) this.onWritableAgain?.();
    return true;
  }

  #check(): void {
    if (this.#closed) return;
    const buffered = this.buffered;
    if (buffered > this.#options.maxBufferedBytes) {
      this.#options.slowConsumerCloses.inc();
      this.end();
    } else this.#options.budget.report(this, buffered);
  }

  /** For the BufferBudget: this stream's bytes as they stand. */
  reportBuffered(): void {
    if (!this.#closed) this.#options.budget.report(this, this.buffered);
  }

  /**
   * Closes the stream. A blocked consumer has unread bytes in front of
   * anything we could still say, so the socket is closed at once (the
   * SSE client sees the stream end, and EventSource reconnects).
   */
  end(_code?: number, _reason?: string): void {
    if (this.#closed) return;
    this.markClosed();
    this.#res.close();
  }

  /** The socket went away (uWS onAborted, or end()): drop everything and leave the router. Idempotent. */
  markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending.length = 0;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#inUws = 0;
    this.#options.budget.report(this, 0);
    this.#onClose();
  }
}
