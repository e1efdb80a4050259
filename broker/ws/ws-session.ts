import type { WebSocket } from 'uWebSockets.js';
import type { MeshEvent } from '../event/mod.js';
import type { EgressFormat, Subscriber } from '../pipeline/mod.js';
import { codedReason, type Metric } from '../base/mod.js';
import { SessionSubscriptions } from './session-subscriptions.js';

/** Close codes the WebSocket endpoint uses; documented in docs/protocol.md. */
export const CLOSE = Object.freeze({
  /** Node shutting down. */
  GOING_AWAY: 1001,
  /** Protocol violation: wrong frame type for the negotiated flavour. */
  PROTOCOL_ERROR: 1002,
  /** Unsupported data: binary frame on a text protocol or the reverse. */
  UNSUPPORTED_DATA: 1003,
  /** Invalid payload: an undecodable event on the CloudEvents binding (it has no error frame), or one whose data breaks its schema. */
  INVALID_PAYLOAD: 1007,
  /** Policy: slow consumer, publish not allowed on this path. */
  POLICY: 1008,
  /** Frame or event larger than the configured limit. */
  TOO_BIG: 1009,
  /** The session's token expired (MG_ERR_AUTH_EXPIRED). */
  AUTH_EXPIRED: 4401,
  /** /v1/ce/: publish to a topic the token may not publish to (MG_ERR_AUTH_FORBIDDEN). */
  FORBIDDEN: 4403,
  /** /v1/ce/: publishing faster than limits.publishRate (MG_ERR_PUB_RATE). */
  RATE_LIMITED: 4429,
});

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
 * The node-wide bound on bytes buffered in uWS for subscribers
 * (limits.maxNodeBufferedBytes). Each session reports what uWS holds for
 * it after every flush and drain; the sum is kept here without a scan.
 * When it passes the limit, the sessions that buffer are re-read (reports
 * only ever overstate: buffers shrink on their own as they drain) and the
 * largest are closed as slow consumers, 1008, until the sum is back
 * within the limit. A slow consumer is the one holding memory, so the one
 * with most is closed first; consumers that keep up hold nothing and are
 * never chosen.
 *
 * Bytes of a closed socket leave the sum at once; uWS frees them when the
 * close completes (the peer reads up to the close frame, or the socket
 * times out).
 */
/** What the budget needs of a session. */
interface Buffering {
  reportBuffered(): void;
  end(code: number, reason: string): void;
}

export class BufferBudget {
  /** @default 268_435_456 (256 MiB) */
  readonly limit: number;
  /** Sessions reported non-zero, with what they reported. */
  readonly #held = new Map<Buffering, number>();
  readonly #closes: Metric;
  #total = 0;
  /** Set while shedding: the closes it makes report back here and must not start another round. */
  #shedding = false;

  constructor(limit: number, closes: Metric) {
    this.limit = limit;
    this.#closes = closes;
  }

  /** Bytes buffered across the node's subscriber sockets, as last reported. */
  get total(): number {
    return this.#total;
  }

  /** `session` now has `bytes` buffered in uWS; may close the largest sessions when the node is over its limit. */
  report(session: Buffering, bytes: number): void {
    const before = this.#held.get(session) ?? 0;
    if (bytes === before) return;
    this.#total += bytes - before;
    if (bytes === 0) this.#held.delete(session);
    else this.#held.set(session, bytes);
    if (this.#total > this.limit && !this.#shedding) this.#shed();
  }

  #shed(): void {
    this.#shedding = true;
    try {
      // Fresh numbers first: a drain may have gone unreported.
      for (const session of [...this.#held.keys()]) session.reportBuffered();
      if (this.#total <= this.limit) return;
      const largest = [...this.#held].sort((a, b) => b[1] - a[1]);
      for (const [session] of largest) {
        if (this.#total <= this.limit) return;
        this.#closes.inc();
        session.end(CLOSE.POLICY, codedReason('MG_ERR_SLOW_CONSUMER', 'limits.maxNodeBufferedBytes'));
      }
    } finally {
      this.#shedding = false;
    }
  }
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
    if (this.#closed || (this.admits !== null && !this.admits(event.topic))) return;
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
