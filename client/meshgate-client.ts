/**
 * The meshgate client library (docs/protocol.md, client protocol, JSON
 * flavour). One file graph with no Node imports: every node serves it at
 * /v1/client/meshgate-client.js, with the modules it imports beside it,
 * for `<script type="module">`, and Node code imports it from the
 * repository with the `ws` package.
 *
 * MeshgateClient composes one part per job, each in its own file:
 *
 *   options.ts        defaults, checked at construction
 *   transport.ts      one WebSocket: open, frames in and out, how it ended
 *   requests.ts       refs, pending requests, timeouts, ok/err/pong replies
 *   subscriptions.ts  filter -> handlers, dispatch, restore after reconnect
 *   consumers.ts      durable consumers: deliveries with ack()/nak(), bound again after reconnect
 *   reconnect.ts      the state diagram, fatal closes, backoff timer
 *
 * Requests (sub, unsub, pub, pubs, ping) carry a `ref` and wait for their
 * reply across connections. On a reconnect the client first re-sends a
 * `sub` for every active subscription, then every request still without
 * a reply, in order. Re-sending a publish is safe: its CloudEvent keeps
 * its `id`, and the mesh deduplicates by (source, id), acking the
 * duplicate, so a retried publish is delivered once.
 */
import { type ConsumeOptions, type ConsumerHandle, type ConsumerHandler, ConsumerTable } from './consumers.js';
import { Emitter } from './emitter.js';
import { errorFromClose, MeshgateError } from './errors.js';
import { type OutgoingEvent, toCloudEvent } from './event.js';
import { type MeshgateClientOptions, type ResolvedOptions, resolveOptions, withToken } from './options.js';
import { afterClose, type ConnectionState, Reconnect } from './reconnect.js';
import { RequestTable } from './requests.js';
import { type EventHandler, type RecoveredInfo, type StreamSubscribeOptions, type Subscription, SubscriptionTable } from './subscriptions.js';
import { type Frame, loadWebSocket, Transport, type WebSocketConstructor } from './transport.js';

export { type BackoffOptions, nextDelay } from './backoff.js';
export type { ConsumeOptions, ConsumerHandle, ConsumerHandler, ConsumerMessage, ConsumerStart } from './consumers.js';
export type { StreamPosition } from './errors.js';
export { CLIENT_ERROR_CODES, isFatalCode, MeshgateError } from './errors.js';
export { type Hop, type MeshEvent, type OutgoingEvent, parseHops, toCloudEvent, toMeshEvent } from './event.js';
export type { MeshgateClientOptions } from './options.js';
export type { ConnectionState } from './reconnect.js';
export type { EventHandler, RecoveredInfo, StreamFrom, StreamSubscribeOptions, Subscription } from './subscriptions.js';
export { filterMatches } from './topic-filter.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';

/** The node's first frame on every connection. */
export interface Hello {
  readonly node: string;
  readonly region: string;
  readonly version: string;
  readonly limits?: { readonly maxFrameBytes: number; readonly maxEventBytes: number; readonly maxSubscriptions: number };
}

/** Events the client emits. */
export interface ClientEvents {
  /** Every state change. */
  state: (state: ConnectionState, previous: ConnectionState) => void;
  /** A connection is open and its hello arrived (first connect and every reconnect). */
  open: (hello: Hello) => void;
  /** Subscriptions were restored after a reconnect (the filters re-sent). */
  restored: (filters: string[]) => void;
  /**
   * A stream subscription after a reconnect: `recovered: true` when it
   * resumed right after the last offset handled (nothing lost, nothing
   * repeated); `recovered: false` with the reason (pruned, epoch, ...) when
   * it could not (then it is dropped: reload state and subscribe again).
   * Also sent, not recovered, when the node ends one (retention overtook it).
   */
  recovered: (info: RecoveredInfo) => void;
  /** A connection closed. `retryInMs` is null when the client will not reconnect. */
  close: (info: { code: number; reason: string; retryInMs: number | null }) => void;
  /** Errors no promise carries: refused fire-and-forget publishes, failed restores, close reasons with a code, handler throws. */
  error: (error: MeshgateError) => void;
}

/** A handle on a stream subscription. */
export interface StreamSubscription extends Subscription {
  readonly stream: string;
  /** The stream's epoch when subscribed. */
  readonly epoch: string;
  /** The first offset the node could deliver (entries matching the filter at or after it come). */
  readonly next: number;
}

/** Reply of an acked publish. */
export interface PublishResult {
  /** The mesh had already seen (source, id): delivered once, acked again. */
  readonly duplicate: boolean;
  /** The event's id (generated when the caller gave none). */
  readonly id: string;
}

/** Reply of an acked batch publish: refused items come with their index. */
export interface BatchResult {
  readonly accepted: number;
  readonly duplicates: number;
  readonly errors: readonly MeshgateError[];
}

/**
 * A connection to one meshgate node that survives the node restarting.
 *
 * @example
 * const client = new MeshgateClient({ url: 'ws://127.0.0.1:8080/v1/ws' });
 * await client.connect();
 * await client.subscribe('db.>', (e) => console.log(e.topic, e.json()));
 * await client.publish('db.orders', { type: 'order.created', data: { id: 1 } });
 */
export class MeshgateClient {
  readonly options: ResolvedOptions;
  readonly #events = new Emitter<ClientEvents>((err) => this.#handlerError(err));
  readonly #requests: RequestTable;
  readonly #subs: SubscriptionTable;
  readonly #consumers: ConsumerTable;
  readonly #reconnect: Reconnect;
  #state: ConnectionState = 'idle';
  #transport: Transport | null = null;
  #hello: Hello | null = null;
  #connected: Promise<Hello> | null = null;
  #wsCtor: WebSocketConstructor | null;
  #fatal: MeshgateError | null = null;
  /** Frames received and events delivered, for dashboards. */
  readonly stats = { frames: 0, events: 0, reconnects: 0 };

  constructor(options: MeshgateClientOptions) {
    this.options = resolveOptions(options);
    this.#wsCtor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? null;
    this.#requests = new RequestTable(this.options.requestTimeoutMs, () => this.#state);
    this.#subs = new SubscriptionTable(
      (frame) => this.#request(frame),
      (err) => this.#handlerError(err),
    );
    this.#consumers = new ConsumerTable(
      (frame, once) => this.#request(frame, undefined, once),
      (err) => this.#handlerError(err),
    );
    this.#reconnect = new Reconnect({ minMs: this.options.backoffMinMs, maxMs: this.options.backoffMaxMs }, this.options.random, () => {
      this.stats.reconnects++;
      void this.#open();
    });
  }

  /** Creates a client and waits for its first connection. */
  static async connect(options: MeshgateClientOptions): Promise<MeshgateClient> {
    const client = new MeshgateClient(options);
    await client.connect();
    return client;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The current connection's hello (null while disconnected). */
  get hello(): Hello | null {
    return this.#hello;
  }

  /** Filters currently subscribed (or being subscribed). */
  get filters(): string[] {
    return this.#subs.filters;
  }

  on<K extends keyof ClientEvents>(type: K, listener: ClientEvents[K]): () => void {
    return this.#events.on(type, listener);
  }
  once<K extends keyof ClientEvents>(type: K, listener: ClientEvents[K]): () => void {
    return this.#events.once(type, listener);
  }
  off<K extends keyof ClientEvents>(type: K, listener: ClientEvents[K]): void {
    this.#events.off(type, listener);
  }

  /**
   * Opens the connection (once) and resolves with the node's hello. Rejects
   * on a fatal error (auth) or when `connectTimeoutMs` passes without a
   * connection; the client is closed then.
   */
  connect(): Promise<Hello> {
    if (this.#state === 'closed') return Promise.reject(this.#fatal ?? new MeshgateError('MG_ERR_CLIENT_CLOSED', 'the client is closed'));
    if (this.#connected !== null) return this.#connected;
    this.#connected = new Promise<Hello>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        const err = new MeshgateError('MG_ERR_CLIENT_TIMEOUT', `no connection to ${this.options.url} within ${this.options.connectTimeoutMs} ms`);
        this.#shutdown(err);
        reject(err);
      }, this.options.connectTimeoutMs);
      const offOpen = this.#events.once('open', (hello) => {
        off();
        resolve(hello);
      });
      const offState = this.#events.on('state', (s) => {
        if (s !== 'closed') return;
        off();
        reject(this.#fatal ?? new MeshgateError('MG_ERR_CLIENT_CLOSED', 'the client was closed before it connected'));
      });
      const off = () => {
        clearTimeout(timer);
        offOpen();
        offState();
      };
    });
    // Callers that only subscribe/publish must not see an unhandled rejection here.
    this.#connected.catch(() => undefined);
    void this.#open();
    return this.#connected;
  }

  /**
   * Subscribes `handler` to `filter`. Resolves once the node has accepted
   * the filter; rejects with the node's code (`MG_ERR_TOPIC_INVALID`, ...).
   * The subscription is restored after every reconnect.
   */
  async subscribe(filter: string, handler: EventHandler): Promise<Subscription>;
  /**
   * With `{ stream, from }`: the stream's entries matching `filter` from
   * `from` on, then live, each event with its `offset`. The client keeps
   * the last offset and the epoch, and on reconnect resumes after it
   * (`recovered` event). Resolves with the stream's epoch and the first
   * offset that can be delivered (`next`).
   */
  async subscribe(filter: string, handler: EventHandler, options: StreamSubscribeOptions): Promise<StreamSubscription>;
  async subscribe(filter: string, handler: EventHandler, options?: StreamSubscribeOptions): Promise<Subscription | StreamSubscription> {
    if (options !== undefined) {
      const s = await this.#subs.addStream(filter, handler, options);
      return { filter, stream: options.stream, epoch: s.epoch, next: s.next, unsubscribe: s.remove };
    }
    await this.#subs.add(filter, handler);
    return { filter, unsubscribe: () => this.unsubscribe(filter, handler) };
  }

  /**
   * Removes `handler` (or every handler) from `filter`; the node is told
   * when none is left. Unknown filters resolve at once.
   */
  unsubscribe(filter: string, handler?: EventHandler): Promise<void> {
    return this.#subs.remove(filter, handler);
  }

  /**
   * Binds to durable consumer `consumer` of `stream` (created with
   * `options` when absent) and hands each delivery to `handler`; call
   * `message.ack()` when it is done (or `nak()`). Unacked messages come
   * again after ackWaitMs, and after a reconnect (`redelivered: true`); the
   * client binds again on every reconnect. Rejects with the node's code
   * (MG_ERR_STREAM_UNKNOWN, MG_ERR_CONSUMER_INVALID, _EXISTS, MG_ERR_AUTH_FORBIDDEN).
   * @example
   * await client.consume('orders', 'billing', { ackWaitMs: 10_000 }, (m) => {
   *   apply(m.offset, m.event.json());
   *   void m.ack();
   * });
   */
  consume(stream: string, consumer: string, options: ConsumeOptions, handler: ConsumerHandler): Promise<ConsumerHandle> {
    return this.#consumers.add(stream, consumer, options, handler);
  }

  /** Publishes one event and waits for the node's ack; rejects with the node's code. */
  async publish(topic: string, event: OutgoingEvent = {}): Promise<PublishResult> {
    const ce = toCloudEvent(event, this.options.source);
    const reply = await this.#request({ op: 'pub', topic, event: ce });
    return { duplicate: reply.duplicate === true, id: ce.id as string };
  }

  /**
   * Publishes without an ack: the frame is written if connected (dropped
   * otherwise; returns false). A refusal arrives as an `error` event.
   */
  publishNoAck(topic: string, event: OutgoingEvent = {}): boolean {
    if (this.#state !== 'open' || this.#transport === null) return false;
    this.#transport.send({ op: 'pub', topic, event: toCloudEvent(event, this.options.source) });
    return true;
  }

  /** Publishes many events in one `pubs` frame; refused items are listed by index, the rest are accepted. */
  async publishBatch(items: ReadonlyArray<{ topic: string; event?: OutgoingEvent }>): Promise<BatchResult> {
    const frameItems = items.map(({ topic, event }) => ({ topic, event: toCloudEvent(event ?? {}, this.options.source) }));
    let errors: MeshgateError[] = [];
    const reply = await this.#request({ op: 'pubs', items: frameItems }, (e) => (errors = e));
    return { accepted: Number(reply.accepted ?? 0), duplicates: Number(reply.duplicates ?? 0), errors };
  }

  /** Round trip: every frame sent before has been handled by the node when it resolves. */
  async ping(): Promise<void> {
    await this.#request({ op: 'ping' });
  }

  /** Closes for good: pending requests reject with MG_ERR_CLIENT_CLOSED. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    await this.#shutdown(null);
  }

  // ------------------------------------------------------------ connection

  async #open(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#setState('connecting');
    if (this.#wsCtor === null) {
      try {
        this.#wsCtor = await loadWebSocket();
      } catch (cause) {
        this.#shutdown(
          new MeshgateError('MG_ERR_CLIENT_NO_WEBSOCKET', 'no global WebSocket and the `ws` package cannot be loaded; fix: pass options.WebSocket', { cause }),
        );
        return;
      }
      if ((this.#state as ConnectionState) === 'closed') return; // close() ran while `ws` loaded
    }
    let url = this.options.url;
    if (this.options.token !== undefined) {
      let token: string;
      try {
        token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
      } catch (cause) {
        this.#shutdown(new MeshgateError('MG_ERR_CLIENT_OPTIONS', 'token: the token function threw', { cause }));
        return;
      }
      if ((this.#state as ConnectionState) === 'closed') return;
      url = withToken(url, token);
    }
    try {
      this.#transport = Transport.open(this.#wsCtor!, url, {
        frame: (frame) => this.#onFrame(frame),
        protocolError: (err) => this.#events.emit('error', err),
        closed: (code, reason, handshakeError) => this.#onClose(code, reason, handshakeError),
      });
    } catch (cause) {
      this.#shutdown(new MeshgateError('MG_ERR_CLIENT_OPTIONS', `url: cannot open ${this.options.url}`, { cause }));
    }
  }

  #onClose(code: number, reason: string, handshakeError: MeshgateError | null): void {
    this.#transport = null;
    this.#hello = null;
    this.#requests.markUnsent();
    const err = errorFromClose(code, reason) ?? handshakeError;
    if (err !== null) this.#events.emit('error', err);
    if (this.#state === 'closed') return;
    const next = afterClose(err, { reconnect: this.options.reconnect, tokenRefreshable: typeof this.options.token === 'function' });
    if (next !== 'retry') {
      this.#events.emit('close', { code, reason, retryInMs: null });
      this.#shutdown(next === 'fatal' ? err : new MeshgateError('MG_ERR_CLIENT_CLOSED', `connection closed (${code}) and reconnect is off`));
      return;
    }
    const delay = this.#reconnect.nextDelay();
    this.#events.emit('close', { code, reason, retryInMs: delay });
    this.#setState('reconnecting');
    this.#reconnect.retryAfter(delay);
  }

  /** The first frame of a connection: restore subscriptions, then re-send what has no reply yet. */
  #onHello(hello: Hello): void {
    const transport = this.#transport!;
    this.#hello = hello;
    const reconnect = this.#reconnect.retrying || this.stats.reconnects > 0;
    this.#reconnect.opened();
    let restored: string[] = [];
    this.#requests.resend(
      (frame) => transport.send(frame),
      () => {
        restored = this.#subs.restore((err) => this.#events.emit('error', err));
        this.#consumers.restore((err) => this.#events.emit('error', err));
        this.#subs.restoreStreams((info) => this.#events.emit('recovered', info));
      },
    );
    this.#setState('open');
    this.#events.emit('open', hello);
    if (reconnect) this.#events.emit('restored', restored);
  }

  // ------------------------------------------------------------ frames

  #onFrame(frame: Frame): void {
    this.stats.frames++;
    switch (frame.op) {
      case 'events': {
        const items = frame.events as Array<{ topic: string; event: Record<string, unknown>; stream?: string; offset?: number; consumer?: string }>;
        for (let i = 0; i < items.length; i++) {
          const item = items[i];
          if (item.consumer !== undefined) {
            this.stats.events++;
            this.#consumers.dispatch(item);
          } else if (typeof item.offset === 'number') {
            this.stats.events++;
            this.#subs.dispatchStream(item.topic, String(item.stream), item.offset, item.event);
          } else this.#dispatch(item.topic, item.event);
        }
        return;
      }
      case 'event': // the single-event frame of protocol versions before batching
        this.#dispatch(frame.topic as string, frame.event as Record<string, unknown>);
        return;
      case 'hello':
        this.#onHello(frame as unknown as Hello);
        return;
      case 'ok':
      case 'pong':
      case 'err': {
        // An error without a request (a fire-and-forget publish): the connection stays open.
        const unmatched = this.#requests.answer(frame);
        if (unmatched === null) return;
        // A stream subscription the node ended (retention overtook it, the stream was removed).
        if (unmatched.stream !== undefined && typeof frame.filter === 'string')
          this.#subs.streamEnded(unmatched, frame.filter, (info) => this.#events.emit('recovered', info));
        this.#events.emit('error', unmatched);
        return;
      }
      default:
        // Unknown ops are ignored: newer nodes may add frames.
        return;
    }
  }

  #dispatch(topic: string, raw: Record<string, unknown>): void {
    this.stats.events++;
    this.#subs.dispatch(topic, raw);
  }

  #request(frame: Frame, onItemErrors?: (errors: MeshgateError[]) => void, once = false): Promise<Frame> {
    if (this.#state === 'closed') return Promise.reject(this.#fatal ?? new MeshgateError('MG_ERR_CLIENT_CLOSED', 'the client is closed'));
    if (this.#state === 'idle') void this.connect();
    const transport = this.#state === 'open' ? this.#transport : null;
    if (once && transport === null)
      return Promise.reject(new MeshgateError('MG_ERR_CLIENT_DISCONNECTED', `not connected: ${String(frame.op)} belongs to a closed connection`));
    return this.#requests.add(frame, transport === null ? null : (f) => transport.send(f), onItemErrors, once);
  }

  #handlerError(err: unknown): void {
    const wrapped =
      err instanceof MeshgateError
        ? err
        : new MeshgateError('MG_ERR_CLIENT_HANDLER', `a handler threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    if (this.#events.listenerCount('error') > 0) this.#events.emit('error', wrapped);
    else console.error(wrapped);
  }

  #setState(next: ConnectionState): void {
    const prev = this.#state;
    if (prev === next) return;
    this.#state = next;
    this.#events.emit('state', next, prev);
  }

  /**
   * Ends for good: no reconnect, every pending request rejected with `err`
   * (or MG_ERR_CLIENT_CLOSED). Resolves once the socket has closed.
   */
  #shutdown(err: MeshgateError | null): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    this.#fatal = err;
    this.#reconnect.cancel();
    const transport = this.#transport;
    this.#transport = null;
    this.#hello = null;
    const closed = transport?.close() ?? Promise.resolve();
    this.#requests.rejectAll(err ?? new MeshgateError('MG_ERR_CLIENT_CLOSED', 'the client was closed'));
    this.#setState('closed');
    return closed;
  }
}
