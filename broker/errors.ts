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

/** Every code the node emits, with the one-line meaning the README documents. */
export const ERROR_CODES = {
  MG_ERR_EVENT_INVALID: 'the event is not a valid CloudEvent (attribute and reason given)',
  MG_ERR_EVENT_TOO_LARGE: 'the event or frame exceeds the configured size limit',
  MG_ERR_EVENT_SCHEMA: "the event's data does not match the schema bound to its topic, type or dataschema; reasons give each JSON pointer (the event goes to _mg.deadletter.<topic>)",
  MG_ERR_TOPIC_INVALID: 'the topic or filter breaks the topic syntax',
  MG_ERR_TOPIC_LIMIT: 'the topic or filter exceeds a length, token or wildcard limit',
  MG_ERR_FRAME_MALFORMED: 'the frame cannot be decoded in the negotiated format',
  MG_ERR_FRAME_UNKNOWN_OP: 'the frame names an operation the protocol does not have',
  MG_ERR_SUB_LIMIT: 'the connection holds the maximum number of subscriptions',
  MG_ERR_SUB_UNKNOWN: 'unsubscribe for a filter the connection is not subscribed to',
  MG_ERR_SLOW_CONSUMER: 'close reason with 1008: unsent bytes of the subscriber passed limits.maxBufferedBytes, or it held the most when the node passed limits.maxNodeBufferedBytes',
  MG_ERR_AUTH_REQUIRED: 'no credentials: the node requires a token (HTTP 401 at upgrade)',
  MG_ERR_AUTH_INVALID: 'the token is not valid: signature, algorithm, audience, issuer or not-before (HTTP 401 at upgrade)',
  MG_ERR_AUTH_EXPIRED: 'the token has expired (HTTP 401 at upgrade; close 4401 during a session)',
  MG_ERR_AUTH_FORBIDDEN: 'the token does not allow this publish or subscribe (error frame; HTTP 403 or close 4403 on /v1/ce/)',
  MG_ERR_ORIGIN_FORBIDDEN: 'the Origin header is not in auth.allowedOrigins (HTTP 403 at upgrade)',
  MG_ERR_CONN_LIMIT: 'the client address holds limits.maxConnectionsPerIp connections (HTTP 429 at upgrade)',
  MG_ERR_CONN_RATE: 'the client address opens connections faster than limits.connectionRatePerIp (HTTP 429 at upgrade)',
  MG_ERR_PUB_RATE: 'the connection publishes faster than limits.publishRate; the event is dropped (error frame; close 4429 on /v1/ce/)',
  MG_ERR_PEER_TLS: 'a peer failed mutual TLS: no certificate, wrong CA or expired (refused before any WebSocket exists)',
  MG_ERR_PEER_BUSY: 'the node has mesh.maxPendingHandshakes peer handshakes in progress (HTTP 503 at the peer upgrade, Retry-After: 1); a peer may retry',
  MG_ERR_PEER_HANDSHAKE_TIMEOUT: 'a peer socket sent no valid hello within mesh.handshakeTimeoutMs (close 4408); a peer may retry',
  MG_ERR_SCHEMA_INVALID: 'not a JSON Schema the registry compiles, or a bad subject, version, mode or binding (HTTP 422)',
  MG_ERR_SCHEMA_INCOMPATIBLE: "the schema breaks the subject's compatibility mode; the reasons name each property and change (HTTP 409)",
  MG_ERR_SCHEMA_NOT_FOUND: 'no such subject, version or schema id (HTTP 404)',
  MG_ERR_SCHEMA_BINDING_CONFLICT: 'the topic filter or event type is already bound to another subject (HTTP 409)',
  MG_ERR_SCHEMA_TOO_LARGE: 'the registry request body exceeds 1 MiB (HTTP 413)',
  MG_ERR_SCHEMA_REQUEST_INVALID: 'the registry request body is not JSON (HTTP 400)',
  MG_ERR_CONFIG_INVALID: 'the configuration has a wrong value (key, reason and fix given)',
  MG_ERR_INTERNAL: 'the node failed to handle the request; nothing was delivered',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
