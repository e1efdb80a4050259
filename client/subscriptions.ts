/**
 * The client's subscriptions: filter -> handlers. The node holds each
 * filter once per connection and sends each event once per connection,
 * however many filters match it, so the table subscribes a filter at the
 * node only for its first handler, unsubscribes it after its last, and
 * hands every event to each matching handler once.
 */
import { MeshgateError } from './errors.js';
import { type MeshEvent, toMeshEvent } from './event.js';
import { filterMatches } from './topic-filter.js';
import type { Frame } from './transport.js';

export type EventHandler = (event: MeshEvent) => void;

/** A handle on one `subscribe()` call. */
export interface Subscription {
  readonly filter: string;
  /** Removes this handler; the filter is unsubscribed at the node when it was the last. */
  unsubscribe(): Promise<void>;
}

interface SubEntry {
  readonly filter: string;
  readonly handlers: Set<EventHandler>;
  /** Acked by the node at least once; re-sent on reconnect. */
  active: boolean;
}

/** Sends a request to the node and resolves with its reply (rejects with its error). */
export type Request = (frame: Frame) => Promise<Frame>;

export class SubscriptionTable {
  readonly #subs = new Map<string, SubEntry>();
  readonly #request: Request;
  /** A handler's throw goes here, so one failing handler never keeps an event from the others. */
  readonly #onHandlerError: (err: unknown) => void;

  constructor(request: Request, onHandlerError: (err: unknown) => void) {
    this.#request = request;
    this.#onHandlerError = onHandlerError;
  }

  /** Filters currently subscribed (or being subscribed). */
  get filters(): string[] {
    return [...this.#subs.keys()];
  }

  /** Adds `handler` to `filter`; resolves once the node holds the filter, rejects with its refusal. */
  async add(filter: string, handler: EventHandler): Promise<void> {
    const existing = this.#subs.get(filter);
    if (existing !== undefined) {
      existing.handlers.add(handler);
      if (!existing.active) await this.#whenActive(existing);
      return;
    }
    const entry: SubEntry = { filter, handlers: new Set([handler]), active: false };
    this.#subs.set(filter, entry);
    try {
      await this.#request({ op: 'sub', filter });
      entry.active = true;
    } catch (err) {
      if (this.#subs.get(filter) === entry) this.#subs.delete(filter);
      throw err;
    }
  }

  /** Removes `handler` (or every handler) from `filter`; the node is told when none is left. */
  async remove(filter: string, handler?: EventHandler): Promise<void> {
    const entry = this.#subs.get(filter);
    if (entry === undefined) return;
    if (handler !== undefined) entry.handlers.delete(handler);
    else entry.handlers.clear();
    if (entry.handlers.size > 0) return;
    this.#subs.delete(filter);
    try {
      await this.#request({ op: 'unsub', filter });
    } catch (err) {
      // Not held (e.g. the node restarted in between): the goal is reached.
      if (!(err instanceof MeshgateError && err.code === 'MG_ERR_SUB_UNKNOWN')) throw err;
    }
  }

  /** Hands an event of the node's `events` frame to its handlers. */
  dispatch(topic: string, raw: Record<string, unknown>): void {
    const event = toMeshEvent(topic, raw);
    // One call per handler, however many of its filters match.
    const called = new Set<EventHandler>();
    for (const entry of this.#subs.values()) {
      if (!filterMatches(entry.filter, topic)) continue;
      for (const h of entry.handlers) {
        if (called.has(h)) continue;
        called.add(h);
        try {
          h(event);
        } catch (err) {
          this.#onHandlerError(err);
        }
      }
    }
  }

  /**
   * On a new connection: subscribes again every filter the node had
   * accepted (one still waiting for its first ack is re-sent as a pending
   * request instead). Returns the filters. A filter the node now refuses
   * is dropped and its error handed to `onError`; one that timed out is
   * kept, for the next connection to try again.
   */
  restore(onError: (err: MeshgateError) => void): string[] {
    const restored: string[] = [];
    for (const entry of this.#subs.values()) {
      if (!entry.active) continue;
      restored.push(entry.filter);
      const filter = entry.filter;
      void this.#request({ op: 'sub', filter }).catch((err: MeshgateError) => {
        if (err.code === 'MG_ERR_CLIENT_CLOSED') return;
        if (this.#subs.get(filter) === entry && err.code !== 'MG_ERR_CLIENT_TIMEOUT') this.#subs.delete(filter);
        onError(new MeshgateError(err.code, `restoring subscription '${filter}': ${err.message}`, { cause: err }));
      });
    }
    return restored;
  }

  #whenActive(entry: SubEntry): Promise<void> {
    // A second subscribe() of a filter still being subscribed: wait on a ping, which answers after the sub.
    return this.#request({ op: 'ping' }).then(() => {
      if (!entry.active && !this.#subs.has(entry.filter)) throw new MeshgateError('MG_ERR_SUB_UNKNOWN', `subscription '${entry.filter}' was refused`);
    });
  }
}
