/**
 * Request matching: every request (sub, unsub, pub, pubs, ping) carries a
 * `ref` and waits here until the node answers that ref with `ok`, `pong`
 * or `err`, or its timeout passes. Requests outlive connections: one
 * written on a socket that then closed is marked unsent, so the next
 * connection can write it again.
 */
import { MeshgateError, type StreamPosition } from './errors.js';
import type { Frame } from './transport.js';

/** Writes a frame on the current connection. */
export type WriteFrame = (frame: Frame) => void;

interface Pending {
  readonly frame: Frame;
  readonly resolve: (reply: Frame) => void;
  readonly reject: (err: MeshgateError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
  /** `err` frames with an `index` (pubs) collected until the final `ok`. */
  readonly itemErrors: MeshgateError[];
  /** The frame was written on the current socket. */
  sent: boolean;
  /** Never re-sent on a later connection: rejected with MG_ERR_CLIENT_DISCONNECTED when its connection closes unanswered. */
  readonly once: boolean;
}

export class RequestTable {
  readonly #pending = new Map<number, Pending>();
  #nextRef = 1;
  readonly #timeoutMs: number;
  /** Named in a timeout's message: "no reply ... (state reconnecting)" tells a dead link from a slow node. */
  readonly #stateNow: () => string;

  constructor(timeoutMs: number, stateNow: () => string) {
    this.#timeoutMs = timeoutMs;
    this.#stateNow = stateNow;
  }

  /**
   * Registers `frame` under a new ref and writes it with `write` when one
   * is given (connected); otherwise it waits for `resend`. Rejects with
   * MG_ERR_CLIENT_TIMEOUT after the timeout, connection time included.
   * `onItemErrors` gets a `pubs` batch's refused items before it resolves.
   */
  add(frame: Frame, write: WriteFrame | null, onItemErrors?: (errors: MeshgateError[]) => void, once = false): Promise<Frame> {
    const ref = this.#nextRef++;
    const full = { ...frame, ref };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(ref);
        reject(new MeshgateError('MG_ERR_CLIENT_TIMEOUT', `no reply to ${String(frame.op)} within ${this.#timeoutMs} ms (state ${this.#stateNow()})`));
      }, this.#timeoutMs);
      const itemErrors: MeshgateError[] = [];
      const p: Pending = {
        frame: full,
        resolve: (reply) => {
          onItemErrors?.(itemErrors);
          resolve(reply);
        },
        reject,
        timer,
        itemErrors,
        sent: false,
        once,
      };
      this.#pending.set(ref, p);
      if (write !== null) {
        p.sent = true;
        write(full);
      }
    });
  }

  /**
   * Settles the request an `ok`, `pong` or `err` frame answers. Returns the
   * error of an `err` that answers no request (a fire-and-forget publish),
   * for the caller to report; null otherwise.
   */
  answer(frame: Frame): MeshgateError | null {
    const ref = frame.ref;
    const err =
      frame.op === 'err'
        ? new MeshgateError(String(frame.code), String(frame.message ?? ''), {
            ...(typeof frame.index === 'number' ? { index: frame.index } : {}),
            ...(Array.isArray(frame.reasons) ? { reasons: frame.reasons as Array<{ path: string; message: string }> } : {}),
            ...(typeof frame.stream === 'string' ? { stream: streamPosition(frame) } : {}),
          })
        : null;
    const p = typeof ref === 'number' ? this.#pending.get(ref) : undefined;
    if (p === undefined) return err;
    // A pubs batch answers refused items one `err` each, then one `ok` for the whole.
    if (err !== null && err.index !== undefined && p.frame.op === 'pubs') {
      p.itemErrors.push(err);
      return null;
    }
    this.#pending.delete(ref as number);
    clearTimeout(p.timer);
    if (err !== null) p.reject(err);
    else p.resolve(frame);
    return null;
  }

  /** The connection closed: nothing pending was written on the next one yet. */
  markUnsent(): void {
    for (const [ref, p] of this.#pending) {
      if (!p.once) {
        p.sent = false;
        continue;
      }
      this.#pending.delete(ref);
      clearTimeout(p.timer);
      p.reject(new MeshgateError('MG_ERR_CLIENT_DISCONNECTED', `the connection closed before the node answered ${String(p.frame.op)}`));
    }
  }

  /**
   * Writes, on a new connection, every request not yet written on it. The
   * requests `first` adds (the restored subscriptions) go before those that
   * were already waiting, so a waiting publish reaches the node after the
   * subscriptions are back; the waiting ones keep their order.
   */
  resend(write: WriteFrame, first: () => void): void {
    const backlog = [...this.#pending.values()].filter((p) => !p.sent);
    first();
    const send = (p: Pending) => {
      p.sent = true;
      write(p.frame);
    };
    for (const p of this.#pending.values()) if (!p.sent && !backlog.includes(p)) send(p);
    for (const p of backlog) if (this.#pending.has(p.frame.ref as number)) send(p);
  }

  /** Rejects and forgets every pending request. */
  rejectAll(err: MeshgateError): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
  }
}

/** The stream state an `err` of a stream subscription carries. */
export function streamPosition(frame: Frame): StreamPosition {
  return {
    name: String(frame.stream),
    reason: String(frame.reason ?? ''),
    first: Number(frame.first ?? 0),
    last: Number(frame.last ?? 0),
    epoch: String(frame.epoch ?? ''),
  };
}
