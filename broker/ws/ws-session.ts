import type { WebSocket } from 'uWebSockets.js';
import type { Metric } from '../base/mod.js';
import type { MeshEvent } from '../event/mod.js';
import type { EgressFormat, Subscriber } from '../pipeline/mod.js';
import type { BufferBudget } from './buffer-budget.js';
import { CLOSE } from './close-codes.js';
import { SessionSubscriptions } from './session-subscriptions.js';

/** Most events in one batch frame: bounds frame size for clients with small message limits. */
const BATCH_ITEMS = 256;

/** Flushes every session with queued frames once per event-loop turn. */
const dirty: WsSession[] = [];
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  // A flush may close a session, which never re-enters this list.
  for (let i = 0; i < dirty.length; i++) dirty[i].flush();
  dirty.length = 0;
}

export interface SessionOptions {
  /** Bytes buffered in uWS for this socket before it is closed as slow. */
  readonly maxBufferedBytes: number;
  /** Per-socket limit closes: meshgate_slow_consumer_closes_total{limit="socket"}. */
  readonly slowConsumerCloses: Metric;
  readonly bytesOut: Metric;
  /** The node-wide limit, shared by every session of the node. */
  readonly budget: BufferBudget;
}

/**
 * One WebSocket connection as a subscriber. Deliveries are queued and
 * written once per loop turn inside one cork(), the events of a turn as
 * one batch frame where the format has one (one syscall, one frame, one
 * client callback for many events); a consumer whose unsent bytes pass `maxBufferedBytes` is closed
 * with 1008 and counted, so it never holds memory or slows others; and
 * so is the largest one when the node's sum passes its BufferBudget.
 */
export class WsSession<U = unknown> implements Subscriber {
  readonly format: EgressFormat;
  /** Filters this connection holds, as subscribed and as registered with the router: to enforce the limit and to clean up on close. */
  readonly subscriptions = new SessionSubscriptions();
  /**
   * Per-delivery authorization, set only while the connection holds a
   * subscription its token covers partly (broker/auth SessionGuard): null
   * for everyone else, who pay nothing.
   */
  admits: ((topic: string) => boolean) | null = null;
  readonly #ws: WebSocket<U>;
  readonly #options: SessionOptions;
  /** Queued frames and items, in order; `#isReply[i]` marks a finished frame (ack, error) among event items. */
  readonly #pending: Uint8Array[] = [];
  readonly #isReply: boolean[] = [];
  #queued = false;
  #closed = false;

  constructor(ws: WebSocket<U>, format: EgressFormat, options: SessionOptions) {
    this.#ws = ws;
    this.format = format;
    this.#options = options;
  }

  get closed(): boolean {
    return this.#closed;
  }

  deliver(item: Uint8Array, event: MeshEvent): void {
    this.deliverItem(item, event.topic);
  }

  /** deliver() for an item built without a decoded event (a stored entry spliced for a stream replay). */
  deliverItem(item: Uint8Array, topic: string): void {
    if (this.#closed || (this.admits !== null && !this.admits(topic))) return;
    this.#pending.push(item);
    this.#isReply.push(false);
    if (!this.#queued) {
      this.#queued = true;
      dirty.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAll);
      }
    }
  }

  /** Sends a control reply now (acks, errors), ahead of queued events only if none are queued. */
  reply(frame: Uint8Array, binary: boolean): void {
    if (this.#closed) return;
    if (this.#pending.length > 0) {
      // Keep order with queued events: an ack must not overtake the events before it.
      this.#pending.push(frame);
      this.#isReply.push(true);
      return;
    }
    this.#ws.send(frame, binary);
  }

  flush(): void {
    this.#queued = false;
    const pending = this.#pending;
    const isReply = this.#isReply;
    if (this.#closed) {
      pending.length = 0;
      isReply.length = 0;
      return;
    }
    const ws = this.#ws;
    const format = this.format;
    const binary = format.binary;
    const limit = this.#options.maxBufferedBytes;
    let bytes = 0;
    let slow = false;
    const send = (frame: Uint8Array): boolean => {
      // 2 = dropped by uWS: we size uWS's own limit above ours so this
      // only happens past our limit, where the session is closing anyway.
      if (ws.send(frame, binary) === 2) return (slow = true);
      bytes += frame.byteLength;
      return false;
    };
    ws.cork(() => {
      const n = pending.length;
      let i = 0;
      while (i < n && !slow) {
        if (isReply[i]) {
          send(pending[i++]);
          continue;
        }
        // A run of event items: one frame per BATCH_ITEMS, or one each.
        let end = i + 1;
        while (end < n && !isReply[end] && end - i < BATCH_ITEMS) end++;
        if (format.batch === null) for (; i < end && !slow; i++) send(pending[i]);
        else {
          send(format.batch(pending, i, end - i));
          i = end;
        }
      }
    });
    pending.length = 0;
    isReply.length = 0;
    this.#options.bytesOut.inc(bytes);
    const buffered = ws.getBufferedAmount();
    if (slow || buffered > limit) this.closeSlow();
    else this.#options.budget.report(this, buffered);
  }

  /** Bytes uWS holds unsent for this socket now (0 once closed). */
  get bufferedBytes(): number {
    return this.#closed ? 0 : this.#ws.getBufferedAmount();
  }

  /** The per-socket limit (options.maxBufferedBytes): stream replays page only while far below it. */
  get maxBufferedBytes(): number {
    return this.#options.maxBufferedBytes;
  }

  /** Re-reads what uWS buffers for this socket into the node-wide sum (after a drain, or when the node is over its limit). */
  reportBuffered(): void {
    if (this.#closed) return;
    this.#options.budget.report(this, this.#ws.getBufferedAmount());
  }

  closeSlow(): void {
    this.#options.slowConsumerCloses.inc();
    this.end(CLOSE.POLICY, 'MG_ERR_SLOW_CONSUMER');
  }

  /** Closes with a code and reason; the endpoint's close handler does the clean-up. */
  end(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending.length = 0;
    this.#isReply.length = 0;
    this.#options.budget.report(this, 0);
    this.#ws.end(code, reason);
  }

  /** Called by the endpoint when uWS reports the socket closed. */
  markClosed(): void {
    this.#options.budget.report(this, 0);
    this.#closed = true;
    this.#pending.length = 0;
    this.#isReply.length = 0;
  }
}
