/**
 * One WebSocket connection to a node, speaking the JSON flavour of the
 * client protocol (docs/protocol.md): it opens the socket, writes frames,
 * parses the ones that arrive and reports how the connection ended. It
 * knows nothing of requests or subscriptions, and one Transport is one
 * socket: a reconnect makes a new one.
 */
import { errorFromClose, MeshgateError } from './errors.js';

/** The subset of the WHATWG WebSocket the client uses; the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  // biome-ignore lint/suspicious/noExplicitAny: the browser's handler takes an Event, ws's its own type; only any accepts both
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  // biome-ignore lint/suspicious/noExplicitAny: as onopen
  onerror: ((ev: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** A decoded frame; its `op` says which. */
export type Frame = Record<string, unknown>;

/** What a Transport reports; nothing is reported once it has closed or was closed. */
export interface TransportHandlers {
  /** A frame arrived and parsed as JSON. */
  frame(frame: Frame): void;
  /** A frame arrived that the client cannot read (binary, not JSON); the connection stays up. */
  protocolError(err: MeshgateError): void;
  /** The connection ended; `handshakeError` says why a refused upgrade was refused, where the runtime shows it. */
  closed(code: number, reason: string, handshakeError: MeshgateError | null): void;
}

/** The part of a Node http.IncomingMessage read for a refused upgrade (no Node types in the browser path). */
interface NodeStream {
  readonly statusCode?: number;
  setEncoding?(enc: string): void;
  on(ev: string, fn: (chunk: string) => void): void;
}

/** The WebSocket subprotocol of the JSON flavour. */
const PROTOCOL = 'meshgate.v1.json';

/**
 * The `ws` package's WebSocket, for runtimes without a global one (Node 20).
 * Throws when `ws` cannot be loaded; null when it loads without a constructor.
 */
export async function loadWebSocket(): Promise<WebSocketConstructor | null> {
  // Imported only here, by a computed name, so browsers never resolve it.
  const name = 'ws';
  const mod = (await import(name)) as { WebSocket?: WebSocketConstructor; default?: WebSocketConstructor };
  return mod.WebSocket ?? mod.default ?? null;
}

/** One socket's life; the client makes a new Transport for every connection attempt. */
export class Transport {
  readonly #socket: WebSocketLike;
  /** False once the connection ended or close() ran: late socket events are ignored, so a stale socket never touches the client. */
  #live = true;

  /** Opens a socket to `url`; throws what the constructor throws (a malformed URL). */
  static open(ctor: WebSocketConstructor, url: string, handlers: TransportHandlers): Transport {
    return new Transport(new ctor(url, PROTOCOL), handlers);
  }

  private constructor(socket: WebSocketLike, handlers: TransportHandlers) {
    this.#socket = socket;
    let handshakeError: MeshgateError | null = null;
    const ended = (code: number, reason: string) => {
      if (!this.#live) return;
      this.#live = false;
      handlers.closed(code, reason, handshakeError);
    };
    // `ws` (Node) shows a refused upgrade's status and body, which starts
    // with the node's code ("MG_ERR_AUTH_INVALID: ..."). Browsers show nothing.
    const emitter = socket as unknown as { on?: (ev: string, fn: (req: unknown, res: NodeStream) => void) => void };
    if (typeof emitter.on === 'function') {
      emitter.on('unexpected-response', (req, res) => {
        let body = '';
        res.setEncoding?.('utf8');
        res.on('data', (c: string) => (body += c.length < 512 ? c : c.slice(0, 512)));
        res.on('end', () => {
          handshakeError =
            errorFromClose(res.statusCode ?? 0, body.split('\n')[0]) ??
            new MeshgateError('MG_ERR_CLIENT_HANDSHAKE', `the node refused the upgrade with HTTP ${res.statusCode}: ${body.slice(0, 200)}`);
          (req as { destroy?: () => void }).destroy?.();
          // ws does not emit close after a handled unexpected-response.
          ended(1006, '');
        });
      });
    }
    socket.onmessage = (ev) => {
      if (!this.#live) return;
      const frame = parseFrame(ev.data);
      if (frame instanceof MeshgateError) handlers.protocolError(frame);
      else handlers.frame(frame);
    };
    socket.onerror = (ev) => {
      // Browsers say nothing more; `ws` names the HTTP status of a refused upgrade.
      const m = /Unexpected server response: (\d+)/.exec(String(ev?.message ?? ev?.error?.message ?? ''));
      if (m !== null) handshakeError = new MeshgateError('MG_ERR_CLIENT_HANDSHAKE', `the node refused the upgrade with HTTP ${m[1]}`);
    };
    socket.onclose = (ev) => ended(ev.code, ev.reason ?? '');
  }

  /** Writes one frame as a JSON text message. */
  send(frame: Frame): void {
    this.#socket.send(JSON.stringify(frame));
  }

  /**
   * Stops reporting and closes the socket with 1000. Resolves once the
   * socket has closed (at once when it already had), so `client.close()`
   * can return after the node saw the close.
   */
  close(): Promise<void> {
    this.#live = false;
    const socket = this.#socket;
    if (socket.readyState >= 2) return Promise.resolve();
    const closed = new Promise<void>((resolve) => {
      socket.onclose = () => resolve();
      socket.onerror = () => undefined;
    });
    try {
      socket.close(1000, 'client closed');
    } catch {
      /* already closing */
    }
    return closed;
  }
}

/** A text frame as JSON, or the MG_ERR_CLIENT_PROTOCOL error saying why it cannot be read. */
function parseFrame(data: unknown): Frame | MeshgateError {
  if (typeof data !== 'string') return new MeshgateError('MG_ERR_CLIENT_PROTOCOL', 'binary frame on meshgate.v1.json');
  try {
    return JSON.parse(data) as Frame;
  } catch (cause) {
    return new MeshgateError('MG_ERR_CLIENT_PROTOCOL', 'frame is not JSON', { cause });
  }
}
