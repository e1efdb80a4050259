/**
 * One error catalogue for the whole node. Codes are stable: clients, the
 * CLI and the docs rely on them, so a code is never renamed once shipped.
 */
export class MeshError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Every code the node emits: whether the same request may succeed if sent
 * again later unchanged (`retry`: a rate or connection limit, a full or busy
 * store, an internal failure), and the one-line meaning docs/protocol.md
 * lists. A test holds this catalogue and that table to the same codes.
 */
export const ERROR_CODES = {
  MG_ERR_EVENT_INVALID: { retry: false, meaning: 'the event is not a valid CloudEvent (attribute and reason given)' },
  MG_ERR_EVENT_TOO_LARGE: { retry: false, meaning: 'the event or frame exceeds the configured size limit' },
  MG_ERR_EVENT_SCHEMA: {
    retry: false,
    meaning:
      "the event's data does not match the schema bound to its topic, type or dataschema; reasons give each JSON pointer (the event goes to _mg.deadletter.<topic>)",
  },
  MG_ERR_TOPIC_INVALID: { retry: false, meaning: 'the topic or filter breaks the topic syntax' },
  MG_ERR_TOPIC_LIMIT: { retry: false, meaning: 'the topic or filter exceeds a length, token or wildcard limit' },
  MG_ERR_TOPIC_RESERVED: {
    retry: false,
    meaning: 'a publish to a topic only nodes write (_mg.deadletter.>, _mg.sys.>), from any client or bridge, auth on or off; subscribing there is fine',
  },
  MG_ERR_FRAME_MALFORMED: { retry: false, meaning: 'the frame cannot be decoded in the negotiated format' },
  MG_ERR_FRAME_UNKNOWN_OP: { retry: false, meaning: 'the frame names an operation the protocol does not have' },
  MG_ERR_SUB_LIMIT: { retry: false, meaning: 'the connection holds the maximum number of subscriptions' },
  MG_ERR_SUB_UNKNOWN: { retry: false, meaning: 'unsubscribe for a filter the connection is not subscribed to' },
  MG_ERR_SLOW_CONSUMER: {
    retry: true,
    meaning:
      'the connection left more unsent bytes than limits.maxBufferedBytes (or the node passed its node-wide limit): closed with 1008; reconnect and read faster',
  },
  MG_ERR_AUTH_REQUIRED: { retry: false, meaning: 'no credentials: the node requires a token (HTTP 401 at upgrade)' },
  MG_ERR_AUTH_INVALID: { retry: false, meaning: 'the token is not valid: signature, algorithm, audience, issuer or not-before (HTTP 401 at upgrade)' },
  MG_ERR_AUTH_EXPIRED: { retry: false, meaning: 'the token has expired (HTTP 401 at upgrade; close 4401 during a session)' },
  MG_ERR_AUTH_FORBIDDEN: { retry: false, meaning: 'the token does not allow this publish or subscribe (error frame; HTTP 403 or close 4403 on /v1/ce/)' },
  MG_ERR_ORIGIN_FORBIDDEN: { retry: false, meaning: 'the Origin header is not in auth.allowedOrigins (HTTP 403 at upgrade)' },
  MG_ERR_CONN_LIMIT: { retry: true, meaning: 'the client address holds limits.maxConnectionsPerIp connections (HTTP 429 at upgrade)' },
  MG_ERR_CONN_RATE: { retry: true, meaning: 'the client address opens connections faster than limits.connectionRatePerIp (HTTP 429 at upgrade)' },
  MG_ERR_PUB_RATE: {
    retry: true,
    meaning: 'the connection publishes faster than limits.publishRate; the event is dropped (error frame; close 4429 on /v1/ce/)',
  },
  MG_ERR_PEER_TLS: { retry: false, meaning: 'a peer failed mutual TLS: no certificate, wrong CA or expired (refused before any WebSocket exists)' },
  MG_ERR_PEER_AUTH: { retry: false, meaning: 'a peer could not prove the mesh key, or this node has no mesh key (close 4401)' },
  MG_ERR_PEER_VERSION: { retry: false, meaning: 'the peer speaks another peer protocol version (close 4426): upgrade both nodes to one release' },
  MG_ERR_PEER_MALFORMED: { retry: false, meaning: 'a peer sent a frame that breaks the peer protocol, or the wrong frame in the handshake (close 4400)' },
  MG_ERR_PEER_SELF: { retry: false, meaning: 'a node dialed itself (its own url among mesh.peers)' },
  MG_ERR_PEER_DUPLICATE: { retry: true, meaning: 'a second link to a node already linked: the new one is closed, the existing link stays' },
  MG_ERR_PEER_BUSY: {
    retry: true,
    meaning: 'the node has mesh.maxPendingHandshakes peer handshakes in progress (HTTP 503 at the peer upgrade, Retry-After: 1)',
  },
  MG_ERR_PEER_HANDSHAKE_TIMEOUT: { retry: true, meaning: 'a peer socket sent no valid hello within mesh.handshakeTimeoutMs (close 4408)' },
  MG_ERR_PEER_TIMEOUT: { retry: true, meaning: 'a link was silent for 3 keepalive intervals and is closed; the dialer reconnects' },
  MG_ERR_SCHEMA_INVALID: { retry: false, meaning: 'not a JSON Schema the registry compiles, or a bad subject, version, mode or binding (HTTP 422)' },
  MG_ERR_SCHEMA_INCOMPATIBLE: {
    retry: false,
    meaning: "the schema breaks the subject's compatibility mode; the reasons name each property and change (HTTP 409)",
  },
  MG_ERR_SCHEMA_NOT_FOUND: { retry: false, meaning: 'no such subject, version or schema id (HTTP 404)' },
  MG_ERR_SCHEMA_BINDING_CONFLICT: { retry: false, meaning: 'the topic filter or event type is already bound to another subject (HTTP 409)' },
  MG_ERR_SCHEMA_TOO_LARGE: { retry: false, meaning: 'the registry request body exceeds 1 MiB (HTTP 413)' },
  MG_ERR_SCHEMA_REQUEST_INVALID: { retry: false, meaning: 'the registry request body is not JSON (HTTP 400)' },
  MG_ERR_STREAM_UNKNOWN: { retry: false, meaning: 'no stream by that name (create it first)' },
  MG_ERR_STREAM_UNREACHABLE: {
    retry: true,
    meaning: 'the stream is held by a peer this node has no live link to (subscribe again once the link is up)',
  },
  MG_ERR_STREAM_EXISTS: { retry: false, meaning: 'a stream by that name exists with another configuration' },
  MG_ERR_STREAM_INVALID: { retry: false, meaning: 'a stream configuration has a wrong value (key, reason and fix given)' },
  MG_ERR_STREAM_BEYOND_END: { retry: false, meaning: 'the position is after the last stored offset of the stream (not recoverable: resume from the end)' },
  MG_ERR_STREAM_PRUNED: { retry: false, meaning: 'the position was trimmed by retention (not recoverable: resume from the first offset)' },
  MG_ERR_STREAM_EPOCH: { retry: false, meaning: "the stream's epoch changed: its history was reset, offsets start over (not recoverable)" },
  MG_ERR_STREAM_FULL: {
    retry: true,
    meaning: 'the stream store is out of space (maxStoreBytes or the disk); the append was refused, retry after retention frees space',
  },
  MG_ERR_STREAM_CORRUPT: { retry: false, meaning: 'the stream data directory cannot be read as a stream store (directory and fix given)' },
  MG_ERR_STREAM_LOCKED: { retry: true, meaning: 'the stream data directory is held by another process (directory, pid and fix given)' },
  MG_ERR_STREAM_CLOSED: { retry: false, meaning: 'the stream store is closed' },
  MG_ERR_STREAM_IO: { retry: true, meaning: 'the stream store failed to write; the appends were not stored (retry)' },
  MG_ERR_STREAM_REQUEST_INVALID: { retry: false, meaning: 'the streams API request body is not JSON (HTTP 400)' },
  MG_ERR_STREAM_TOO_LARGE: { retry: false, meaning: 'the streams API request body exceeds 64 KiB (HTTP 413)' },
  MG_ERR_CONSUMER_UNKNOWN: { retry: false, meaning: 'no durable consumer by that name on the stream, or this connection has not bound it (consume first)' },
  MG_ERR_CONSUMER_INVALID: {
    retry: false,
    meaning: 'a consumer name or option has a wrong value: filter outside the stream, ackWaitMs, maxInFlight, start (option and fix given)',
  },
  MG_ERR_CONSUMER_EXISTS: {
    retry: false,
    meaning: 'the durable consumer exists with other options (filter, ackWaitMs, maxInFlight): bind with its options or remove it first',
  },
  MG_ERR_CONSUMER_NOT_IN_FLIGHT: {
    retry: false,
    meaning: 'an ack or nak of an offset the consumer has not delivered or has acked already (offsets given); a redelivery may follow',
  },
  MG_ERR_CONFIG_INVALID: { retry: false, meaning: 'the configuration has a wrong value (key, reason and fix given)' },
  MG_ERR_PG_APPLY_REFUSED: {
    retry: false,
    meaning:
      'a postgres sink could not apply a change: the target refused it (SQLSTATE and message given) or it is no change event; it goes to _mg.deadletter.<topic>',
  },
  MG_ERR_NOT_FOUND: { retry: false, meaning: 'no such HTTP route or file on the node (HTTP 404)' },
  MG_ERR_HTTP_MEDIA_TYPE: {
    retry: false,
    meaning: 'the POST /v1/events/ body has a Content-Type the CloudEvents HTTP binding does not take here, e.g. application/cloudevents+xml (HTTP 415)',
  },
  MG_ERR_SSE_POSITION_INVALID: {
    retry: false,
    meaning:
      'GET /v1/sse/: the Last-Event-ID header, lastEventId or from parameter is not a stream position (<epoch>:<offset>; first, new, last or an offset) (HTTP 400)',
  },
  MG_ERR_WEBHOOK_REFUSED: {
    retry: false,
    meaning: 'a webhook target refused delivery: its validation handshake did not allow this origin, or it answered 410 Gone; the webhook is disabled',
  },
  MG_ERR_WEBHOOK_DELIVERY: {
    retry: false,
    meaning: 'a webhook target answered an event with a 4xx other than 408/429 (or the retries ran out): the event went to the dead letters',
  },
  MG_ERR_CLIENT_URL: {
    retry: false,
    meaning:
      'the CLI or MeshClient was given a URL that is not a node endpoint: not a ws(s):// URL, or a path the node does not serve (HTTP 404); the fix names the right form',
  },
  MG_ERR_INTERNAL: { retry: true, meaning: 'the node failed to handle the request; nothing was delivered' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Whether a request refused with `code` may succeed if sent again later unchanged. */
export function isRetryable(code: ErrorCode): boolean {
  return ERROR_CODES[code].retry;
}

/** A close or error text that leads with its code, as clients parse it: `MG_ERR_PEER_AUTH: mesh key proof does not match`. */
export function codedReason(code: ErrorCode, message: string): string {
  return `${code}: ${message}`;
}
