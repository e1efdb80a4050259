/** Close codes the WebSocket endpoint uses; documented in docs/protocol.md. */
export const CLOSE = Object.freeze({
  /** Node shutting down. */
  GOING_AWAY: 1001,
  /** Protocol violation: wrong frame type for the negotiated flavour. */
  PROTOCOL_ERROR: 1002,
  /** Unsupported data: binary frame on a text protocol or the reverse. */
  UNSUPPORTED_DATA: 1003,
  /** Invalid payload: an undecodable event on the CloudEvents binding (it has no error frame), or one whose data breaks its schema. */
  INVALID_PAYLOAD: 1007,
  /** Policy: slow consumer, publish not allowed on this path. */
  POLICY: 1008,
  /** Frame or event larger than the configured limit. */
  TOO_BIG: 1009,
  /** The session's token expired (MG_ERR_AUTH_EXPIRED). */
  AUTH_EXPIRED: 4401,
  /** /v1/ce/: publish to a topic the token may not publish to (MG_ERR_AUTH_FORBIDDEN). */
  FORBIDDEN: 4403,
  /** /v1/ce/: publishing faster than limits.publishRate (MG_ERR_PUB_RATE). */
  RATE_LIMITED: 4429,
});
