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

/** Where a stream subscription starts (docs/protocol.md): an offset starts AT that offset; a Date or RFC 3339 string at the first entry appended at or after it. */
export type StreamFrom = 'first' | 'last' | 'last-per-topic' | 'new' | number | string | Date;

/** Options of a stream subscription: replay `stream` from `from`, then follow it; resumed after reconnects. */
export interface StreamSubscribeOptions {
  readonly stream: string;
  /** @default 'new' */
  readonly from?: StreamFrom;
  /** The epoch `from` (an offset) was read in: another one refuses with MG_ERR_STREAM_EPOCH. */
  readonly epoch?: string;
}

/** After a reconnect, how a stream subscription came back. */
export interface RecoveredInfo {
  readonly stream: string;
  readonly filter: string;
  /** true: resumed after the last offset handled, nothing lost, nothing repeated. false: see `reason`; the subscription is gone and the application should reload its state and subscribe again. */
  readonly recovered: boolean;
  /** When not recovered: pruned, epoch, beyond-end or unknown-stream (or the error code). */
  readonly reason?: string;
  readonly error?: MeshgateError;
}

interface StreamEntry {
  readonly stream: string;
  readonly filter: string;
  readonly handler: EventHandler;
  /** Offset of the last entry handed to the handler (or, before the first, the one before the start). */
  position: number;
  epoch: string;
  active: boolean;
}

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
  /** Stream subscriptions, one per subscribe() call: each keeps its own position. */
  readonly #streams = new Set<StreamEntry>();
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

  /**
   * A stream subscription: resolves with the node's start (epoch, next
   * offset) once it accepted; rejects with its refusal (MG_ERR_STREAM_*
   * errors carry `stream` with the stream's first, last and epoch).
   */
  async addStream(
    filter: string,
    handler: EventHandler,
    options: StreamSubscribeOptions,
  ): Promise<{ epoch: string; next: number; remove: () => Promise<void> }> {
    const from = options.from instanceof Date ? options.from.toISOString() : (options.from ?? 'new');
    const frame: Frame = { op: 'sub', filter, stream: options.stream, from };
    if (options.epoch !== undefined) frame.epoch = options.epoch;
    const reply = await this.#request(frame);
    const entry: StreamEntry = { stream: options.stream, filter, handler, position: Number(reply.next) - 1, epoch: String(reply.epoch), active: true };
    this.#streams.add(entry);
    return { epoch: entry.epoch, next: entry.position + 1, remove: () => this.#removeStream(entry) };
  }

  async #removeStream(entry: StreamEntry): Promise<void> {
    if (!this.#streams.delete(entry)) return;
    if ([...this.#streams].some((e) => e.stream === entry.stream && e.filter === entry.filter)) return;
    try {
      await this.#request({ op: 'unsub', filter: entry.filter, stream: entry.stream });
    } catch (err) {
      if (!(err instanceof MeshgateError && err.code === 'MG_ERR_SUB_UNKNOWN')) throw err;
    }
  }

  /**
   * Hands a stream delivery to the stream subscriptions of its stream whose
   * filter matches, each once per offset: an offset at or before a
   * subscription's position was handled already (two subscriptions of the
   * same stream and filter both receive it) and is skipped.
   */
  dispatchStream(topic: string, stream: string, offset: number, raw: Record<string, unknown>): void {
    const event = toMeshEvent(topic, raw, stream, offset);
    for (const entry of this.#streams) {
      if (entry.stream !== stream || offset <= entry.position || !filterMatches(entry.filter, topic)) continue;
      entry.position = offset;
      try {
        entry.handler(event);
      } catch (err) {
        this.#onHandlerError(err);
      }
    }
  }

  /** A stream subscription the node ended on its own (an `err` with `stream` and no ref): dropped, reported as not recovered. */
  streamEnded(err: MeshgateError, filter: string, onRecovered: (info: RecoveredInfo) => void): void {
    const name = err.stream?.name;
    for (const entry of [...this.#streams]) {
      if (entry.stream !== name || entry.filter !== filter) continue;
      this.#streams.delete(entry);
      onRecovered({ stream: entry.stream, filter, recovered: false, reason: err.stream?.reason ?? err.code, error: err });
    }
  }

  /**
   * On a new connection: each stream subscription subscribes again from
   * its position + 1 in its epoch. The node either resumes there (recovered:
   * true) or refuses (pruned, epoch, ...: recovered false, subscription dropped).
   */
  restoreStreams(onRecovered: (info: RecoveredInfo) => void): void {
    for (const entry of this.#streams) {
      if (!entry.active) continue;
      const { stream, filter } = entry;
      void this.#request({ op: 'sub', filter, stream, from: entry.position + 1, epoch: entry.epoch }).then(
        () => onRecovered({ stream, filter, recovered: true }),
        (err: MeshgateError) => {
          if (err.code === 'MG_ERR_CLIENT_CLOSED') return;
          if (err.code === 'MG_ERR_CLIENT_TIMEOUT') return; // kept: the next connection tries again
          this.#streams.delete(entry);
          onRecovered({ stream, filter, recovered: false, reason: err.stream?.reason ?? err.code, error: err });
        },
      );
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
