/**
 * The meshgate client library (docs/protocol.md, client protocol, JSON
 * flavour). One file graph with no Node imports: every node serves it at
 * /v1/client/meshgate-client.js for `<script type="module">`, and Node
 * code imports it from the repository with the `ws` package.
 *
 *   state:  idle -> connecting -> open -> reconnecting -> connecting -> open ...
 *                       \________________ close() / fatal error ___________> closed
 *
 * Requests (sub, unsub, pub, pubs, ping) carry a `ref`; each waits in
 * `#pending` for its reply. On a reconnect the client first re-sends a
 * `sub` for every active subscription, then every request still without
 * a reply, in order. Re-sending a publish is safe: its CloudEvent keeps
 * its `id`, and the mesh deduplicates by (source, id), acking the
 * duplicate, so a retried publish is delivered once.
 */
import { nextDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import { errorFromClose, isFatalCode, MeshgateError } from './errors.js';
import { toCloudEvent, toMeshEvent, type MeshEvent, type OutgoingEvent } from './event.js';
import { filterMatches } from './topic-filter.js';

export { CLIENT_ERROR_CODES, isFatalCode, MeshgateError } from './errors.js';
export { parseHops, toCloudEvent, toMeshEvent, type Hop, type MeshEvent, type OutgoingEvent } from './event.js';
export { filterMatches } from './topic-filter.js';
export { nextDelay, type BackoffOptions } from './backoff.js';

/** The subset of the WHATWG WebSocket the client uses; the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Connection states, announced by the `state` event. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The node's first frame on every connection. */
export interface Hello {
  readonly node: string;
  readonly region: string;
  readonly version: string;
  readonly limits?: { readonly maxFrameBytes: number; readonly maxEventBytes: number; readonly maxSubscriptions: number };
}

export type EventHandler = (event: MeshEvent) => void;

/** The part of a Node http.IncomingMessage read for a refused upgrade (no Node types in the browser path). */
interface NodeStream {
  readonly statusCode?: number;
  setEncoding?(enc: string): void;
  on(ev: string, fn: (chunk: string) => void): void;
}

export interface MeshgateClientOptions {
  /** Client endpoint, `ws://host:port/v1/ws`; a URL without a path gets `/v1/ws`. */
  readonly url: string;
  /**
   * Credential (a JWT or static token), sent as the `token` query parameter
   * of the upgrade request, since browsers cannot set headers. A function
   * is asked again before every connection, so it can hand out a fresh
   * token; with one, MG_ERR_AUTH_EXPIRED leads to a reconnect instead of
   * closing the client.
   */
  readonly token?: string | (() => string | Promise<string>);
  /** WebSocket constructor. @default globalThis.WebSocket, else the `ws` package (Node) */
  readonly WebSocket?: WebSocketConstructor;
  /** CloudEvents `source` of published events without one. @default 'meshgate-client' */
  readonly source?: string;
  /** Reconnect after an unexpected close. @default true */
  readonly reconnect?: boolean;
  /** First reconnect delay bound, ms. @default 100 */
  readonly backoffMinMs?: number;
  /** Largest reconnect delay, ms. @default 5000 */
  readonly backoffMaxMs?: number;
  /** How long a request waits for its reply, connection time included, ms. @default 15000 */
  readonly requestTimeoutMs?: number;
  /** How long `connect()` waits for the first connection, ms; then it rejects and the client closes. @default 10000 */
  readonly connectTimeoutMs?: number;
  /** Random source for backoff jitter (tests). @default Math.random */
  readonly random?: () => number;
}

const DEFAULTS = Object.freeze({
  source: 'meshgate-client',
  reconnect: true,
  backoffMinMs: 100,
  backoffMaxMs: 5000,
  requestTimeoutMs: 15_000,
  connectTimeoutMs: 10_000,
});

/** Events the client emits. */
export interface ClientEvents {
  /** Every state change. */
  state: (state: ConnectionState, previous: ConnectionState) => void;
  /** A connection is open and its hello arrived (first connect and every reconnect). */
  open: (hello: Hello) => void;
  /** Subscriptions were restored after a reconnect (the filters re-sent). */
  restored: (filters: string[]) => void;
  /** A connection closed. `retryInMs` is null when the client will not reconnect. */
  close: (info: { code: number; reason: string; retryInMs: number | null }) => void;
  /** Errors no promise carries: refused fire-and-forget publishes, failed restores, close reasons with a code, handler throws. */
  error: (error: MeshgateError) => void;
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

/** A handle on one `subscribe()` call. */
export interface Subscription {
  readonly filter: string;
  /** Removes this handler; the filter is unsubscribed at the node when it was the last. */
  unsubscribe(): Promise<void>;
}

interface Pending {
  readonly frame: Record<string, unknown>;
  readonly resolve: (reply: Record<string, unknown>) => void;
  readonly reject: (err: MeshgateError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
  /** `err` frames with an `index` (pubs) collected until the final `ok`. */
  readonly itemErrors: MeshgateError[];
  /** The frame was written on the current socket. */
  sent: boolean;
}

interface SubEntry {
  readonly filter: string;
  readonly handlers: Set<EventHandler>;
  /** Acked by the node at least once; re-sent on reconnect. */
  active: boolean;
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
  readonly options: Readonly<Required<Omit<MeshgateClientOptions, 'token' | 'WebSocket'>>> & Pick<MeshgateClientOptions, 'token' | 'WebSocket'>;
  readonly #events = new Emitter<ClientEvents>((err) => this.#handlerError(err));
  readonly #subs = new Map<string, SubEntry>();
  readonly #pending = new Map<number, Pending>();
  #nextRef = 1;
  #state: ConnectionState = 'idle';
  #socket: WebSocketLike | null = null;
  #hello: Hello | null = null;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #connected: Promise<Hello> | null = null;
  #wsCtor: WebSocketConstructor | null;
  #fatal: MeshgateError | null = null;
  /** Frames received and events delivered, for dashboards. */
  readonly stats = { frames: 0, events: 0, reconnects: 0 };

  constructor(options: MeshgateClientOptions) {
    if (typeof options?.url !== 'string' || !/^wss?:\/\//i.test(options.url)) {
      throw new MeshgateError('MG_ERR_CLIENT_OPTIONS', `url: expected a ws:// or wss:// URL, got ${JSON.stringify(options?.url)}`);
    }
    this.options = {
      ...DEFAULTS,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
      random: options.random ?? Math.random,
      url: withPath(options.url),
    } as MeshgateClient['options'];
    for (const key of ['backoffMinMs', 'backoffMaxMs', 'requestTimeoutMs', 'connectTimeoutMs'] as const) {
      const v = this.options[key];
      if (!(Number.isFinite(v) && v > 0)) throw new MeshgateError('MG_ERR_CLIENT_OPTIONS', `${key}: expected a positive number of milliseconds, got ${String(v)}`);
    }
    this.#wsCtor = options.WebSocket ?? ((globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? null);
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
    return [...this.#subs.keys()];
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
  async subscribe(filter: string, handler: EventHandler): Promise<Subscription> {
    const subscription: Subscription = { filter, unsubscribe: () => this.unsubscribe(filter, handler) };
    const existing = this.#subs.get(filter);
    if (existing !== undefined) {
      existing.handlers.add(handler);
      if (!existing.active) await this.#whenActive(existing);
      return subscription;
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
    return subscription;
  }

  /**
   * Removes `handler` (or every handler) from `filter`; the node is told
   * when none is left. Unknown filters resolve at once.
   */
  async unsubscribe(filter: string, handler?: EventHandler): Promise<void> {
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
    if (this.#state !== 'open' || this.#socket === null) return false;
    this.#socket.send(JSON.stringify({ op: 'pub', topic, event: toCloudEvent(event, this.options.source) }));
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
    const socket = this.#socket;
    const closed =
      socket !== null && socket.readyState < 2
        ? new Promise<void>((resolve) => {
            socket.onclose = () => resolve();
            socket.onerror = () => undefined;
          })
        : null;
    this.#shutdown(null); // closes the socket with 1000
    await closed;
  }

  // ------------------------------------------------------------ connection

  async #open(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#setState('connecting');
    if (this.#wsCtor === null) {
      // Node 20 has no global WebSocket: load `ws` only here, by a computed
      // name, so browsers never resolve it.
      const name = 'ws';
      try {
        const mod = (await import(name)) as { WebSocket?: WebSocketConstructor; default?: WebSocketConstructor };
        this.#wsCtor = mod.WebSocket ?? mod.default ?? null;
      } catch (cause) {
        this.#shutdown(new MeshgateError('MG_ERR_CLIENT_NO_WEBSOCKET', 'no global WebSocket and the `ws` package cannot be loaded; fix: pass options.WebSocket', { cause }));
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
      const u = new URL(url);
      u.searchParams.set('token', token);
      url = u.toString();
    }
    let socket: WebSocketLike;
    try {
      socket = new this.#wsCtor!(url, 'meshgate.v1.json');
    } catch (cause) {
      this.#shutdown(new MeshgateError('MG_ERR_CLIENT_OPTIONS', `url: cannot open ${this.options.url}`, { cause }));
      return;
    }
    this.#socket = socket;
    let handshakeError: MeshgateError | null = null;
    // `ws` (Node) shows a refused upgrade's status and body, which starts
    // with the node's code ("MG_ERR_AUTH_INVALID: ..."). Browsers show nothing.
    const emitter = socket as unknown as { on?: (ev: string, fn: (req: unknown, res: NodeStream) => void) => void };
    if (typeof emitter.on === 'function') {
      emitter.on('unexpected-response', (req, res) => {
        let body = '';
        res.setEncoding?.('utf8');
        res.on('data', (c: string) => (body += c.length < 512 ? c : c.slice(0, 512)));
        res.on('end', () => {
          handshakeError = errorFromClose(res.statusCode ?? 0, body.split('\n')[0]) ?? new MeshgateError('MG_ERR_CLIENT_HANDSHAKE', `the node refused the upgrade with HTTP ${res.statusCode}: ${body.slice(0, 200)}`);
          (req as { destroy?: () => void }).destroy?.();
          // ws does not emit close after a handled unexpected-response.
          if (this.#socket === socket) this.#onClose(1006, '', handshakeError);
        });
      });
    }
    socket.onmessage = (ev) => {
      if (this.#socket === socket) this.#onMessage(ev.data);
    };
    socket.onerror = (ev) => {
      // Browsers say nothing more; `ws` names the HTTP status of a refused upgrade.
      const m = /Unexpected server response: (\d+)/.exec(String(ev?.message ?? ev?.error?.message ?? ''));
      if (m !== null) handshakeError = new MeshgateError('MG_ERR_CLIENT_HANDSHAKE', `the node refused the upgrade with HTTP ${m[1]}`);
    };
    socket.onclose = (ev) => {
      if (this.#socket !== socket) return;
      this.#onClose(ev.code, ev.reason ?? '', handshakeError);
    };
  }

  #onClose(code: number, reason: string, handshakeError: MeshgateError | null): void {
    this.#socket = null;
    this.#hello = null;
    for (const p of this.#pending.values()) p.sent = false;
    const err = errorFromClose(code, reason) ?? handshakeError;
    if (err !== null) this.#events.emit('error', err);
    if (this.#state === 'closed') return;
    const refreshable = err?.code === 'MG_ERR_AUTH_EXPIRED' && typeof this.options.token === 'function';
    const fatal = err !== null && isFatalCode(err.code) && !refreshable;
    if (fatal || !this.options.reconnect) {
      this.#events.emit('close', { code, reason, retryInMs: null });
      this.#shutdown(fatal ? err : new MeshgateError('MG_ERR_CLIENT_CLOSED', `connection closed (${code}) and reconnect is off`));
      return;
    }
    const delay = nextDelay(this.#attempt++, { minMs: this.options.backoffMinMs, maxMs: this.options.backoffMaxMs }, this.options.random);
    this.#events.emit('close', { code, reason, retryInMs: delay });
    this.#setState('reconnecting');
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.stats.reconnects++;
      void this.#open();
    }, delay);
  }

  /** The first frame of a connection: restore subscriptions, then re-send what has no reply yet. */
  #onHello(hello: Hello): void {
    const socket = this.#socket!;
    this.#hello = hello;
    const reconnect = this.#attempt > 0 || this.stats.reconnects > 0;
    this.#attempt = 0;
    // Requests from before this connection go after the restored subscriptions.
    const backlog = [...this.#pending.values()].filter((p) => !p.sent);
    const restored: string[] = [];
    for (const entry of this.#subs.values()) {
      if (!entry.active) continue; // its own pending `sub` is re-sent below
      restored.push(entry.filter);
      const filter = entry.filter;
      void this.#request({ op: 'sub', filter }).catch((err: MeshgateError) => {
        if (err.code === 'MG_ERR_CLIENT_CLOSED') return;
        if (this.#subs.get(filter) === entry && err.code !== 'MG_ERR_CLIENT_TIMEOUT') this.#subs.delete(filter);
        this.#events.emit('error', new MeshgateError(err.code, `restoring subscription '${filter}': ${err.message}`, { cause: err }));
      });
    }
    const send = (p: Pending) => {
      p.sent = true;
      socket.send(JSON.stringify(p.frame));
    };
    for (const p of this.#pending.values()) if (!p.sent && !backlog.includes(p)) send(p);
    for (const p of backlog) if (this.#pending.has(p.frame.ref as number)) send(p);
    this.#setState('open');
    this.#events.emit('open', hello);
    if (reconnect) this.#events.emit('restored', restored);
  }

  // ------------------------------------------------------------ frames

  #onMessage(data: unknown): void {
    if (typeof data !== 'string') {
      this.#events.emit('error', new MeshgateError('MG_ERR_CLIENT_PROTOCOL', 'binary frame on meshgate.v1.json'));
      return;
    }
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(data) as Record<string, unknown>;
    } catch (cause) {
      this.#events.emit('error', new MeshgateError('MG_ERR_CLIENT_PROTOCOL', 'frame is not JSON', { cause }));
      return;
    }
    this.stats.frames++;
    switch (frame.op) {
      case 'events': {
        const items = frame.events as Array<{ topic: string; event: Record<string, unknown> }>;
        for (let i = 0; i < items.length; i++) this.#dispatch(items[i].topic, items[i].event);
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
      case 'err':
        this.#onReply(frame);
        return;
      default:
        // Unknown ops are ignored: newer nodes may add frames.
        return;
    }
  }

  #dispatch(topic: string, raw: Record<string, unknown>): void {
    this.stats.events++;
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
          this.#handlerError(err);
        }
      }
    }
  }

  #onReply(frame: Record<string, unknown>): void {
    const ref = frame.ref;
    const err =
      frame.op === 'err'
        ? new MeshgateError(String(frame.code), String(frame.message ?? ''), {
            ...(typeof frame.index === 'number' ? { index: frame.index } : {}),
            ...(Array.isArray(frame.reasons) ? { reasons: frame.reasons as Array<{ path: string; message: string }> } : {}),
          })
        : null;
    const p = typeof ref === 'number' ? this.#pending.get(ref) : undefined;
    if (p === undefined) {
      // An error without a request (a fire-and-forget publish): the connection stays open.
      if (err !== null) this.#events.emit('error', err);
      return;
    }
    if (err !== null && err.index !== undefined && p.frame.op === 'pubs') {
      p.itemErrors.push(err);
      return;
    }
    this.#pending.delete(ref as number);
    clearTimeout(p.timer);
    if (err !== null) p.reject(err);
    else p.resolve(frame);
  }

  #request(frame: Record<string, unknown>, onItemErrors?: (errors: MeshgateError[]) => void): Promise<Record<string, unknown>> {
    if (this.#state === 'closed') return Promise.reject(this.#fatal ?? new MeshgateError('MG_ERR_CLIENT_CLOSED', 'the client is closed'));
    if (this.#state === 'idle') void this.connect();
    const ref = this.#nextRef++;
    const full = { ...frame, ref };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(ref);
        reject(new MeshgateError('MG_ERR_CLIENT_TIMEOUT', `no reply to ${String(frame.op)} within ${this.options.requestTimeoutMs} ms (state ${this.#state})`));
      }, this.options.requestTimeoutMs);
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
      };
      this.#pending.set(ref, p);
      if (this.#state === 'open' && this.#socket !== null) {
        p.sent = true;
        this.#socket.send(JSON.stringify(full));
      }
    });
  }

  #whenActive(entry: SubEntry): Promise<void> {
    // A second subscribe() of a filter still being subscribed: wait on a ping, which answers after the sub.
    return this.ping().then(() => {
      if (!entry.active && !this.#subs.has(entry.filter)) throw new MeshgateError('MG_ERR_SUB_UNKNOWN', `subscription '${entry.filter}' was refused`);
    });
  }

  #handlerError(err: unknown): void {
    const wrapped = err instanceof MeshgateError ? err : new MeshgateError('MG_ERR_CLIENT_HANDLER', `a handler threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    if (this.#events.listenerCount('error') > 0) this.#events.emit('error', wrapped);
    else console.error(wrapped);
  }

  #setState(next: ConnectionState): void {
    const prev = this.#state;
    if (prev === next) return;
    this.#state = next;
    this.#events.emit('state', next, prev);
  }

  /** Ends for good: no reconnect, every pending request rejected with `err` (or MG_ERR_CLIENT_CLOSED). */
  #shutdown(err: MeshgateError | null): void {
    if (this.#state === 'closed') return;
    this.#fatal = err;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const socket = this.#socket;
    this.#socket = null;
    this.#hello = null;
    if (socket !== null && socket.readyState < 2) {
      try {
        socket.close(1000, 'client closed');
      } catch {
        /* already closing */
      }
    }
    const reason = err ?? new MeshgateError('MG_ERR_CLIENT_CLOSED', 'the client was closed');
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(reason);
    }
    this.#pending.clear();
    this.#setState('closed');
  }
}

/** `ws://host:port` -> `ws://host:port/v1/ws`; a URL with a path is kept. */
function withPath(url: string): string {
  const u = new URL(url);
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/v1/ws';
  return u.toString();
}
