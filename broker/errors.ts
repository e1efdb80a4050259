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
  MG_ERR_TOPIC_INVALID: 'the topic or filter breaks the topic syntax',
  MG_ERR_TOPIC_LIMIT: 'the topic or filter exceeds a length, token or wildcard limit',
  MG_ERR_FRAME_MALFORMED: 'the frame cannot be decoded in the negotiated format',
  MG_ERR_FRAME_UNKNOWN_OP: 'the frame names an operation the protocol does not have',
  MG_ERR_SUB_LIMIT: 'the connection holds the maximum number of subscriptions',
  MG_ERR_SUB_UNKNOWN: 'unsubscribe for a filter the connection is not subscribed to',
  MG_ERR_CONFIG_INVALID: 'the configuration has a wrong value (key, reason and fix given)',
  MG_ERR_INTERNAL: 'the node failed to handle the request; nothing was delivered',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
