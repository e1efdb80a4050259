/**
 * The reason text of a WebSocket close frame, made to fit.
 *
 * RFC 6455 §5.5: a control frame's payload is at most 125 bytes, two of
 * them the close code, so a reason is at most 123 bytes of UTF-8 (§5.5.1).
 * uWS cuts a longer reason at byte 123 wherever that falls, and `ws`
 * throws. A reason cut inside a character is invalid UTF-8, which makes
 * the client fail the connection (1006) and lose the close code, the one
 * thing the reason was there to explain. So: cut at a character boundary.
 */
const MAX_REASON_BYTES = 123;

/**
 * `text` if it fits a close frame, else its longest prefix that does and
 * ends on a whole character (never half a surrogate pair).
 *
 * @example socket.end(1008, closeReason(`MG_ERR_TOPIC_INVALID: ${message}`))
 */
export function closeReason(text: string): string {
  // Every UTF-16 unit is at most 3 bytes of UTF-8: short text fits unmeasured.
  if (text.length * 3 <= MAX_REASON_BYTES || Buffer.byteLength(text, 'utf8') <= MAX_REASON_BYTES) return text;
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    // A lone surrogate is written as U+FFFD (3 bytes) by the UTF-8 encoder.
    const size = pair ? 4 : c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
    if (bytes + size > MAX_REASON_BYTES) break;
    bytes += size;
    i += pair ? 2 : 1;
  }
  return text.slice(0, i);
}
