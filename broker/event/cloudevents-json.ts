/**
 * The CloudEvents JSON event format 1.0 (structured mode), media type
 * `application/cloudevents+json`: the WebSocket `cloudevents.json`
 * subprotocol and the `event` member of the meshgate JSON client protocol.
 *
 * Data bytes are never re-serialised. On decode, a JSON `data` value is
 * taken as the exact source text the producer wrote (found by a small
 * top-level scanner after JSON.parse has validated the whole text); on
 * encode, JSON data bytes are spliced in verbatim. So `{ "a" : 1.0e3 }`
 * stays `{ "a" : 1.0e3 }` across any number of hops and formats.
 */
import { isUtf8 } from 'node:buffer';
import type { Hop, MeshEvent } from './event.js';
import {
  type DecodeOptions,
  type EventDecodeResult,
  type EventProblem,
  finishDecode,
  isJsonMediaType,
  isTextMediaType,
  isWritableAttr,
  newAttributeParts,
  readAttributes,
  WHOLE_EVENT,
} from './event-check.js';
import { formatHops, parseHops } from './hop-path.js';
import { topLevelMemberSpan } from './json-span.js';

export type { DecodeOptions, EventDecodeResult } from './event-check.js';

// --- decode ----------------------------------------------------------------

const NOT_JSON: EventProblem = Object.freeze({ attribute: WHOLE_EVENT, reason: 'is not valid JSON' });
const NOT_OBJECT: EventProblem = Object.freeze({ attribute: WHOLE_EVENT, reason: 'must be a JSON object (CloudEvents JSON format §3)' });
const BOTH_DATA: EventProblem = Object.freeze({
  attribute: 'data_base64',
  reason: 'cannot appear together with data: send one or the other (CloudEvents JSON format §3.1.1)',
});
const BAD_BASE64: EventProblem = Object.freeze({
  attribute: 'data_base64',
  reason: 'must be a Base64 string (RFC 4648 §4 alphabet, padding optional)',
});
const BAD_HOPS: EventProblem = Object.freeze({ attribute: 'mghops', reason: 'must be a hop path "node@region@timeMs,..."' });

/**
 * RFC 4648 §4 Base64: standard alphabet, then at most two `=`; unpadded input is accepted. A loop, not a
 * regular expression: a repeated-group regex throws on multi-megabyte payloads (irregexp backtrack stack).
 */
function isBase64(text: string): boolean {
  let n = text.length;
  let pad = 0;
  while (pad < 2 && n > 0 && text.charCodeAt(n - 1) === 0x3d /* = */) {
    n--;
    pad++;
  }
  if (n % 4 === 1 || (pad > 0 && (n + pad) % 4 !== 0)) return false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    // A-Z a-z 0-9 + /
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f)) return false;
  }
  return true;
}

/**
 * Decodes one structured-mode JSON CloudEvent.
 *
 * `data` (JSON format §3.1.2): with a JSON `datacontenttype`, or none
 * (read as application/json), the bytes are the value's JSON text exactly
 * as sent; with another content type a JSON string becomes its UTF-8
 * bytes, and any other value keeps its JSON text. `data_base64` becomes
 * its decoded bytes. The data is always a fresh Buffer owned by the event.
 *
 * @example
 * const r = decodeStructuredJson('{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a" : 1}}', 'orders.eu');
 * if (r.ok) r.event.data; // bytes of '{"a" : 1}'
 */
export function decodeStructuredJson(text: string, topic: string, options?: DecodeOptions): EventDecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, problem: NOT_JSON };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, problem: NOT_OBJECT };
  const map = parsed as Record<string, unknown>;
  const trust = options?.trustProvenance === true;
  const parts = newAttributeParts();
  const problem = readAttributes(map, parts, trust);
  if (problem !== null) return { ok: false, problem };

  // JSON.parse never yields undefined, so `!== undefined` means "member present"; `"data": null` is an explicit null payload (§3.1.1).
  const value = map.data;
  const base64 = map.data_base64;
  let data: Uint8Array | undefined;
  let span: [number, number] | null;
  if (base64 !== undefined && base64 !== null) {
    if (value !== undefined) return { ok: false, problem: BOTH_DATA };
    if (typeof base64 !== 'string' || !isBase64(base64)) return { ok: false, problem: BAD_BASE64 };
    data = Buffer.from(base64, 'base64');
  } else if (value !== undefined) {
    const ct = parts.attrs.datacontenttype;
    if (typeof value === 'string' && typeof ct === 'string' && !isJsonMediaType(ct)) {
      data = Buffer.from(value, 'utf8'); // §3.1.2: an encoded content string
    } else if ((span = topLevelMemberSpan(text, 'data')) !== null) {
      data = Buffer.from(text.slice(span[0], span[1]), 'utf8'); // the JSON text as sent
    } else {
      // Unreachable for text JSON.parse accepted; kept so a scanner bug cannot lose data.
      data = Buffer.from(JSON.stringify(value), 'utf8');
    }
  }

  return finishDecode(parts, topic, data, trust, hopsFromJson, BAD_HOPS);
}

function hopsFromJson(raw: unknown): Hop[] | null {
  return typeof raw === 'string' ? parseHops(raw) : null;
}

// --- encode ----------------------------------------------------------------

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Encodes an event as one structured-mode JSON CloudEvent, including the
 * provenance extensions. Call it once per event per egress format and
 * send the same string to every subscriber.
 *
 * `data` (JSON format §3.1.1): with a JSON or absent `datacontenttype`
 * and bytes that are valid JSON, the bytes are spliced in verbatim as the
 * `data` value; with a textual content type (event-check.ts
 * isTextMediaType: text/*, XML, YAML, CSV, form data, a UTF-8 charset...)
 * and bytes that are valid UTF-8, a JSON string; otherwise `data_base64`,
 * so bytes that are not UTF-8 are never altered.
 *
 * @example encodeStructuredJson(event) // '{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a" : 1}}'
 */
export function encodeStructuredJson(event: MeshEvent): string {
  let out = '{"specversion":"1.0","id":' + JSON.stringify(event.id) + ',"source":' + JSON.stringify(event.source) + ',"type":' + JSON.stringify(event.type);
  const attrs = event.attrs;
  for (const name in attrs) {
    if (!isWritableAttr(name)) continue; // [a-z0-9] only, so the name needs no escaping
    const value = attrs[name];
    out +=
      ',"' +
      name +
      '":' +
      (typeof value === 'string'
        ? JSON.stringify(value)
        : typeof value === 'number' && Number.isFinite(value)
          ? '' + value
          : typeof value === 'boolean'
            ? '' + value
            : 'null');
  }
  if (event.traceparent !== undefined) out += ',"traceparent":' + JSON.stringify(event.traceparent);
  if (event.tracestate !== undefined) out += ',"tracestate":' + JSON.stringify(event.tracestate);
  const origin = event.origin;
  if (origin !== undefined) {
    out += ',"mgorigin":' + JSON.stringify(origin.node) + ',"mgprotocol":' + JSON.stringify(origin.protocol) + ',"mgtopic":' + JSON.stringify(origin.topic);
  }
  if (event.hops.length > 0) out += ',"mghops":' + JSON.stringify(formatHops(event.hops));
  if (event.hlc !== undefined) out += ',"mghlc":"' + event.hlc + '"'; // hex digits only: no escaping
  const data = event.data;
  if (data !== undefined) out += dataMember(data, attrs.datacontenttype);
  return out + '}';
}

function dataMember(data: Uint8Array, ct: unknown): string {
  const bytes = asBuffer(data);
  if (typeof ct !== 'string' || isJsonMediaType(ct)) {
    // Spliced only when the decoder will give back these exact bytes: it takes the value's span, which never
    // includes surrounding whitespace, so bytes with leading/trailing whitespace go as data_base64 instead.
    // isUtf8 is strict (no overlongs, no surrogates); a BOM stays in the string and makes JSON.parse refuse it.
    const n = bytes.byteLength;
    if (n > 0 && !isJsonWs(bytes[0]) && !isJsonWs(bytes[n - 1]) && isUtf8(bytes)) {
      const text = bytes.toString('utf8');
      if (isJsonText(text)) return ',"data":' + text;
    }
  } else if (isTextMediaType(ct) && isUtf8(bytes)) {
    return ',"data":' + JSON.stringify(bytes.toString('utf8'));
  }
  return ',"data_base64":"' + bytes.toString('base64') + '"';
}

function isJsonWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
