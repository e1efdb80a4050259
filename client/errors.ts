/**
 * Errors of the meshgate client. Node errors keep the code the node sent
 * (docs/protocol.md: MG_ERR_TOPIC_INVALID, MG_ERR_EVENT_INVALID, ...);
 * errors the client raises itself use MG_ERR_CLIENT_*.
 */
/** A stream's state as a node reports it with a stream error: why the position cannot be read, and the stream's range now. */
export interface StreamPosition {
  readonly name: string;
  /** pruned, epoch, beyond-end or unknown-stream. */
  readonly reason: string;
  readonly first: number;
  readonly last: number;
  readonly epoch: string;
}

export class MeshgateError extends Error {
  /** Stable code: `MG_ERR_<AREA>_<WHAT>`. */
  readonly code: string;
  /** For `pubs` batch refusals: the index of the refused item. */
  readonly index?: number;
  /** For MG_ERR_EVENT_SCHEMA: each violation, a JSON pointer into the event's data and ajv's message. */
  readonly reasons?: ReadonlyArray<{ readonly path: string; readonly message: string }>;
  /** For MG_ERR_STREAM_* refusals of a stream subscription: where the stream stands now. */
  readonly stream?: StreamPosition;
  constructor(
    code: string,
    message: string,
    options?: ErrorOptions & { index?: number; reasons?: ReadonlyArray<{ path: string; message: string }>; stream?: StreamPosition },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    if (options?.index !== undefined) this.index = options.index;
    if (options?.reasons !== undefined) this.reasons = options.reasons;
    if (options?.stream !== undefined) this.stream = options.stream;
  }
}

/** Codes the client raises itself (the node's own are in docs/protocol.md). */
export const CLIENT_ERROR_CODES = {
  MG_ERR_CLIENT_CLOSED: 'the client was closed before the request was answered',
  MG_ERR_CLIENT_TIMEOUT: 'no answer (or no connection) within requestTimeoutMs / connectTimeoutMs',
  MG_ERR_CLIENT_NO_WEBSOCKET: 'no WebSocket constructor: pass options.WebSocket (in Node: the `ws` package)',
  MG_ERR_CLIENT_OPTIONS: 'an option has a wrong value (name and fix given)',
  MG_ERR_CLIENT_HANDSHAKE: 'the node refused the WebSocket upgrade and the runtime does not show why (browsers hide the HTTP status)',
  MG_ERR_CLIENT_HANDLER: 'a subscription handler threw; the error is the cause',
  MG_ERR_CLIENT_PROTOCOL: 'the node sent a frame the client cannot read',
  MG_ERR_CLIENT_DISCONNECTED: 'a durable consumer ack or nak could not reach the node before its connection closed; the message is delivered again',
} as const;

/**
 * Connection-ending errors after which reconnecting with the same
 * credential cannot help: missing, invalid or expired token, or an origin
 * the node refuses. The client stops and reports them instead of
 * retrying (an expired token is retried when `token` is a function that
 * can supply a fresh one). MG_ERR_AUTH_FORBIDDEN refuses one request,
 * never the connection.
 */
export function isFatalCode(code: string): boolean {
  return code === 'MG_ERR_AUTH_REQUIRED' || code === 'MG_ERR_AUTH_INVALID' || code === 'MG_ERR_AUTH_EXPIRED' || code === 'MG_ERR_ORIGIN_FORBIDDEN';
}

const REASON = /^(MG_ERR_[A-Z0-9_]+)(?::\s*([\s\S]*))?$/;

/**
 * A close frame whose reason names a code (`MG_ERR_SLOW_CONSUMER: ...`),
 * as the node writes them, becomes a MeshgateError; other closes are not errors.
 */
export function errorFromClose(closeCode: number, reason: string): MeshgateError | null {
  const m = REASON.exec(reason.trim());
  if (m === null) return null;
  return new MeshgateError(m[1], m[2] ? `${m[2]} (close ${closeCode})` : `connection closed with ${closeCode}`);
}
