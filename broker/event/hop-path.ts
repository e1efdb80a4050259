/**
 * The `mghops` provenance extension as one CloudEvents String, for formats
 * and bindings whose attribute values are strings (JSON format, MQTT user
 * properties, AMQP application properties, NATS headers). The CBOR format
 * carries hops as an array instead (see cloudevents-cbor.ts).
 *
 * ```
 *   hop-path = [ hop *( "," hop ) ]          ; empty string: no hops
 *   hop      = name "@" name "@" time
 *   name     = *( safe-char / "%" 2HEXDIG )  ; node id, then region
 *   time     = "0" / ( %x31-39 *15DIGIT )    ; ms since the Unix epoch
 * ```
 * e.g. `eu-1@eu-west@1714557600000,us%401@us-east@1714557600042`
 *
 * formatHops escapes `%`, `@`, `,` and the CloudEvents-disallowed control
 * characters (U+0000-U+001F, U+007F-U+009F, CloudEvents 1.0 "Type System",
 * String) as `%XX`, so the result is always a legal attribute value and
 * splitting on `,` then `@` is unambiguous. `%XX` stands for the single
 * code unit U+00XX (not a UTF-8 byte); parseHops accepts it for any XX.
 */
import type { Hop } from './event.js';

/** Characters formatHops must escape: the two separators, the escape itself, C0 and C1 controls. */
const NEEDS_ESCAPE = /[%@,\u0000-\u001f\u007f-\u009f]/;
const NEEDS_ESCAPE_ALL = /[%@,\u0000-\u001f\u007f-\u009f]/g;
/** A hop's time: a non-negative integer without leading zeros, at most 16 digits (safe-integer range). */
const TIME = /^(?:0|[1-9][0-9]{0,15})$/;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return (code < 16 ? '%0' : '%') + code.toString(16).toUpperCase();
}

function escapeName(name: string): string {
  // Fast path: node ids and regions from configuration almost never need escaping.
  return NEEDS_ESCAPE.test(name) ? name.replace(NEEDS_ESCAPE_ALL, escapeChar) : name;
}

/**
 * Renders a hop path as the `mghops` string; `''` for no hops.
 *
 * @example formatHops([{ node: 'eu-1', region: 'eu-west', time: 1714557600000 }]) // 'eu-1@eu-west@1714557600000'
 */
export function formatHops(hops: readonly Hop[]): string {
  let out = '';
  for (let i = 0; i < hops.length; i++) {
    const h = hops[i];
    if (i > 0) out += ',';
    out += escapeName(h.node) + '@' + escapeName(h.region) + '@' + Math.trunc(h.time);
  }
  return out;
}

/**
 * Parses an `mghops` string. Returns null (never throws) when the string
 * is not a hop path: wrong field count, bad `%` escape, or a time that is
 * not a non-negative safe integer.
 *
 * @example parseHops('a@r1@5,b%40x@r2@9') // [{node:'a',region:'r1',time:5},{node:'b@x',region:'r2',time:9}]
 */
export function parseHops(text: string): Hop[] | null {
  const hops: Hop[] = [];
  if (text.length === 0) return hops;
  let start = 0;
  for (;;) {
    let end = text.indexOf(',', start);
    if (end === -1) end = text.length;
    const at1 = text.indexOf('@', start);
    if (at1 === -1 || at1 >= end) return null;
    const at2 = text.indexOf('@', at1 + 1);
    if (at2 === -1 || at2 >= end) return null;
    const node = unescapeName(text, start, at1);
    const region = unescapeName(text, at1 + 1, at2);
    const timeText = text.slice(at2 + 1, end); // a third '@' lands here and fails TIME
    if (node === null || region === null || !TIME.test(timeText)) return null;
    const time = Number(timeText);
    if (!Number.isSafeInteger(time)) return null;
    hops.push({ node, region, time });
    if (end === text.length) return hops;
    start = end + 1;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Decodes `%XX` escapes in text[start, end); null on a malformed escape. */
function unescapeName(text: string, start: number, end: number): string | null {
  let pct = text.indexOf('%', start);
  if (pct === -1 || pct >= end) return text.slice(start, end);
  let out = '';
  let from = start;
  while (pct !== -1 && pct < end) {
    if (pct + 2 >= end) return null;
    const hi = hexValue(text.charCodeAt(pct + 1));
    const lo = hexValue(text.charCodeAt(pct + 2));
    if (hi < 0 || lo < 0) return null;
    out += text.slice(from, pct) + String.fromCharCode(hi * 16 + lo);
    from = pct + 3;
    pct = text.indexOf('%', from);
  }
  return out + text.slice(from, end);
}
