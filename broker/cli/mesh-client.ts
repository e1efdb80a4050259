import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import WebSocket from 'ws';
import { type ErrorCode, MeshError } from '../base/mod.js';
import { CLIENT_PATH } from '../ws/mod.js';

/** A received event: its topic and the structured CloudEvent as JSON. */
export interface ReceivedEvent {
  readonly topic: string;
  readonly event: Record<string, unknown>;
  /** A stream subscription's deliveries: the stream and the entry's offset. */
  readonly stream?: string;
  readonly offset?: number;
}

/** What a publisher sets; `id` and `source` get defaults, everything else is a CloudEvents attribute. */
export interface OutgoingEvent {
  id?: string;
  source?: string;
  type?: string;
  data?: unknown;
  data_base64?: string;
  [attribute: string]: unknown;
}

export interface Hello {
  readonly node: string;
  readonly region: string;
  readonly version: string;
}

/** An err frame's message, with one line per schema violation when it names them (MG_ERR_EVENT_SCHEMA). */
function withReasons(frame: Record<string, unknown>): string {
  const reasons = Array.isArray(frame.reasons) ? (frame.reasons as Array<{ path: string; message: string }>) : [];
  return [String(frame.message), ...reasons.map((r) => `  ${r.path === '' ? '(data)' : r.path}: ${r.message}`)].join('\n');
}

type Pending = { resolve: (v: Record<string, unknown>) => void; reject: (e: MeshError) => void };

/**
 * A minimal Node client of the meshgate JSON client protocol, used by the
 * CLI and by tests. One socket; requests correlate by `ref`.
 *
 * @example
 * const c = await MeshClient.connect('ws://127.0.0.1:8080/v1/ws');
 * await c.subscribe('db.>', (e) => console.log(e.topic));
 * await c.publish('db.orders', { type: 'order.created', data: { id: 1 } });
 */
export class MeshClient {
  readonly socket: WebSocket;
  readonly hello: Hello;
  readonly #pending = new Map<number, Pending>();
  readonly #handlers = new Map<string, (e: ReceivedEvent) => void>();
  #nextRef = 1;
  /** Errors the node sent without a ref (fire-and-forget publishes). */
  readonly errors: Array<{ code: ErrorCode; message: string }> = [];

  private constructor(socket: WebSocket, hello: Hello) {
    this.socket = socket;
    this.hello = hello;
    socket.on('message', (raw: Buffer) => this.#onFrame(JSON.parse(raw.toString('utf8')) as Record<string, unknown>));
    socket.on('close', () => {
      for (const p of this.#pending.values()) p.reject(new MeshError('MG_ERR_INTERNAL', 'connection closed before the reply'));
      this.#pending.clear();
    });
  }

  /**
   * Opens a connection and waits for the hello. `token` goes in the
   * `?token=` query parameter (what a browser can do too). A refused
   * upgrade (401, 403, 429) rejects with the node's MeshError code.
   */
  static async connect(url: string, options: { token?: string } = {}): Promise<MeshClient> {
    const u = clientUrl(url);
    // Messages name the endpoint without its query: it may carry a token.
    const where = `${u.origin}${u.pathname}`;
    if (options.token !== undefined) u.searchParams.set('token', options.token);
    const socket = new WebSocket(u.toString(), 'meshgate.v1.json');
    // A refused upgrade may report an error after the promise settled.
    socket.on('error', () => undefined);
    const hello = new Promise<Hello>((resolve, reject) => {
      socket.once('unexpected-response', (req, res) => {
        const tcp = req.socket;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => void (body.length < 4096 && (body += chunk)));
        res.on('end', () => {
          // The server may keep the connection open: drop it, or it holds the process.
          req.destroy();
          tcp?.destroy();
          // A 404 means the URL names no endpoint of the node: the caller's
          // mistake, not the node's (the node answers in JSON there).
          if (res.statusCode === 404) {
            reject(
              new MeshError(
                'MG_ERR_CLIENT_URL',
                `${where}: HTTP 404, no meshgate client endpoint at '${u.pathname}'; fix: give the node's address (ws://HOST:PORT) or its /v1/ws endpoint`,
              ),
            );
            return;
          }
          const m = /^(MG_ERR_[A-Z_]+): ?(.*)/s.exec(body.trim());
          reject(
            m
              ? new MeshError(m[1] as ErrorCode, `HTTP ${res.statusCode}: ${m[2]}`)
              : new MeshError('MG_ERR_INTERNAL', `HTTP ${res.statusCode}: ${body.trim()}`),
          );
        });
      });
      socket.once('message', (raw: Buffer) => {
        const frame = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
        if (frame.op === 'hello') resolve(frame as unknown as Hello);
        else reject(new MeshError('MG_ERR_INTERNAL', `expected hello, got ${String(frame.op)}`));
      });
      socket.once('error', (err: Error) => reject(new Error(`cannot reach ${where}: ${err.message}`, { cause: err })));
      socket.once('close', (code: number, reason: Buffer) => reject(new Error(`closed ${code} ${reason.toString()}`)));
    });
    const h = await hello;
    socket.removeAllListeners('error');
    socket.removeAllListeners('close');
    socket.on('error', () => undefined);
    return new MeshClient(socket, h);
  }

  #onFrame(frame: Record<string, unknown>): void {
    if (frame.op === 'events') {
      for (const received of frame.events as ReceivedEvent[]) for (const handler of this.#handlers.values()) handler(received);
      return;
    }
    const ref = frame.ref;
    if (typeof ref === 'number') {
      const p = this.#pending.get(ref);
      if (p === undefined) return;
      this.#pending.delete(ref);
      if (frame.op === 'err') p.reject(new MeshError(frame.code as ErrorCode, withReasons(frame)));
      else p.resolve(frame);
    } else if (frame.op === 'err') {
      this.errors.push({ code: frame.code as ErrorCode, message: frame.message as string });
    }
  }

  #request(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    const ref = this.#nextRef++;
    return new Promise((resolve, reject) => {
      this.#pending.set(ref, { resolve, reject });
      this.socket.send(JSON.stringify({ ...frame, ref }));
    });
  }

  /** Subscribes; events of every filter go to every handler registered, keyed by filter. */
  async subscribe(filter: string, handler: (e: ReceivedEvent) => void, stream?: { name: string; from: string | number }): Promise<Record<string, unknown>> {
    // Registered first: a stream sub's replay may follow its ok in the same read.
    this.#handlers.set(filter, handler);
    try {
      return await this.#request(stream === undefined ? { op: 'sub', filter } : { op: 'sub', filter, stream: stream.name, from: stream.from });
    } catch (err) {
      this.#handlers.delete(filter);
      throw err;
    }
  }

  async unsubscribe(filter: string): Promise<void> {
    await this.#request({ op: 'unsub', filter });
    this.#handlers.delete(filter);
  }

  /** Publishes and waits for the node's ack. Rejects with the node's MeshError code. */
  async publish(topic: string, event: OutgoingEvent = {}): Promise<{ duplicate: boolean }> {
    const reply = await this.#request({ op: 'pub', topic, event: toCloudEvent(event) });
    return { duplicate: reply.duplicate === true };
  }

  /** Publishes without an ack; failures land in `errors`. */
  publishNoAck(topic: string, event: OutgoingEvent = {}): void {
    this.socket.send(JSON.stringify({ op: 'pub', topic, event: toCloudEvent(event) }));
  }

  /** Round trip to the node: every frame sent before it has been handled when it resolves. */
  async ping(): Promise<void> {
    await this.#request({ op: 'ping' });
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    const closed = once(this.socket, 'close');
    this.socket.close(1000);
    await closed;
  }
}

/**
 * The client endpoint a user's URL names. A URL without a path (or `/`)
 * means the node's client endpoint /v1/ws, so `ws://H:P` works as the
 * docs write it; http(s):// is accepted for ws(s)://. Any other path is
 * kept (a proxy may map it) and a 404 there is MG_ERR_CLIENT_URL.
 */
export function clientUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MeshError('MG_ERR_CLIENT_URL', `'${url}' is not a URL; fix: ws://HOST:PORT, e.g. ws://127.0.0.1:8080`);
  }
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  else if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new MeshError('MG_ERR_CLIENT_URL', `'${url.split('?')[0]}': expected a ws:// or wss:// URL; fix: ws://HOST:PORT, e.g. ws://127.0.0.1:8080`);
  }
  if (u.pathname === '' || u.pathname === '/') u.pathname = CLIENT_PATH;
  return u;
}

/** Fills in the required CloudEvents attributes a caller left out. */
export function toCloudEvent(event: OutgoingEvent): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: 'meshgate-client',
    type: 'meshgate.event',
    ...event,
  };
}
