/**
 * The CloudEvents HTTP protocol binding 1.0.2: receiving, one request
 * (headers and the whole body) to events; sending (encodeHttpEvent, for
 * webhooks), one event to headers and a body. Pure: no sockets.
 *
 *   Content-Type                              mode        body
 *   application/cloudevents+json[; ...]       structured  one JSON event (JSON format)      §3.2
 *   application/cloudevents-batch+json[; ...] batched     a JSON array of events            §3.3
 *   application/cloudevents[-batch]+<other>   refused 415 (this node reads the JSON format only)
 *   anything else, or none                    binary      data = body, ce-* headers          §3.1
 *
 * Binary mode (§3.1.3): every attribute is a `ce-<name>` header (names
 * case-insensitive, §3.1.3.1), its value percent-encoded (§3.1.3.2,
 * undone by percentDecode, which refuses bad escapes and UTF-8 that is
 * not); `datacontenttype` is the Content-Type header (§3.1.1) and the body
 * is the data, byte for byte. In structured and batched mode ce-* headers
 * are ignored (§3.2: the body is the whole event).
 */
import { isUtf8 } from 'node:buffer';
import type { ErrorCode } from '../base/mod.js';
import {
  type AttrValue,
  arrayElementSpans,
  decodeStructuredJson,
  type EventDecodeResult,
  encodeStructuredJson,
  eventFromAttributeMap,
  formatHops,
  type MeshEvent,
  percentDecode,
  percentEncode,
} from '../event/mod.js';

export const STRUCTURED_JSON = 'application/cloudevents+json';
export const BATCH_JSON = 'application/cloudevents-batch+json';

/** What one request holds. */
export type HttpDecode =
  | { readonly mode: 'binary' | 'structured'; readonly result: EventDecodeResult }
  | { readonly mode: 'batch'; readonly items: readonly EventDecodeResult[] }
  /** The request as a whole is refused (media type, not JSON, not an array). */
  | { readonly mode: 'refused'; readonly code: ErrorCode; readonly detail: string };

/** The media type alone, lower-cased: `Application/CloudEvents+JSON; charset=utf-8` -> `application/cloudevents+json`. */
export function mediaTypeOf(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/**
 * Decodes one request. `headers` are as uWS gives them (names lower-case);
 * `body` is the whole body, owned by the caller's copy (binary-mode data
 * is a view on it, so it must not be reused).
 */
export function decodeHttpEvents(headers: ReadonlyArray<readonly [string, string]>, contentType: string, body: Buffer, topic: string): HttpDecode {
  const media = mediaTypeOf(contentType);
  if (media === STRUCTURED_JSON) {
    const text = utf8(body);
    if (text === null) return { mode: 'structured', result: notUtf8() };
    return { mode: 'structured', result: decodeStructuredJson(text, topic) };
  }
  if (media === BATCH_JSON) return decodeBatch(body, topic);
  if (media.startsWith('application/cloudevents+') || media.startsWith('application/cloudevents-batch+') || media === 'application/cloudevents') {
    return {
      mode: 'refused',
      code: 'MG_ERR_HTTP_MEDIA_TYPE',
      detail: `Content-Type '${contentType.slice(0, 200)}': this node reads the CloudEvents JSON format only (${STRUCTURED_JSON}, ${BATCH_JSON}) or binary mode`,
    };
  }
  return { mode: 'binary', result: decodeBinary(headers, contentType, body, topic) };
}

function decodeBinary(headers: ReadonlyArray<readonly [string, string]>, contentType: string, body: Buffer, topic: string): EventDecodeResult {
  const map: Record<string, AttrValue> = {};
  let w3c: Record<string, string> | null = null;
  for (const [name, raw] of headers) {
    if (name === 'traceparent' || name === 'tracestate') {
      // The distributed tracing extension in binary mode: W3C Trace Context's own headers, not ce- ones.
      (w3c ??= {})[name] = raw;
      continue;
    }
    if (!name.startsWith('ce-')) continue;
    const attribute = name.slice(3);
    // §3.1.3.1: ce-datacontenttype is not how binary mode carries it; Content-Type is (§3.1.1).
    if (attribute === 'datacontenttype') continue;
    const value = percentDecode(raw);
    if (value === null) {
      return {
        ok: false,
        problem: { attribute, reason: `header ce-${attribute} is not valid percent-encoded UTF-8 (CloudEvents HTTP binding §3.1.3.2)` },
      };
    }
    if (attribute in map) return { ok: false, problem: { attribute, reason: `header ce-${attribute} appears twice` } };
    map[attribute] = value;
  }
  if (contentType !== '') map.datacontenttype = contentType;
  if (w3c !== null) for (const [name, value] of Object.entries(w3c)) if (!(name in map)) map[name] = value;
  return eventFromAttributeMap(map, topic, body.byteLength === 0 ? undefined : body);
}

function decodeBatch(body: Buffer, topic: string): HttpDecode {
  const text = utf8(body);
  if (text === null) return { mode: 'refused', code: 'MG_ERR_EVENT_INVALID', detail: 'the batch body is not UTF-8' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { mode: 'refused', code: 'MG_ERR_EVENT_INVALID', detail: 'the batch body is not valid JSON' };
  }
  if (!Array.isArray(parsed))
    return { mode: 'refused', code: 'MG_ERR_EVENT_INVALID', detail: 'a batch is a JSON array of events (CloudEvents JSON format §4)' };
  // Each element decoded from its own source text, so JSON data keeps its bytes as sent.
  const items = arrayElementSpans(text, 0, text.length).map(([s, e]) => decodeStructuredJson(text.slice(s, e), topic));
  return { mode: 'batch', items };
}

function utf8(body: Buffer): string | null {
  return isUtf8(body) ? body.toString('utf8') : null;
}

function notUtf8(): EventDecodeResult {
  return { ok: false, problem: { attribute: '(event)', reason: 'is not UTF-8 text' } };
}

/** One event as an HTTP request of the binding, sending side (webhooks): headers and body. */
export interface HttpEventRequest {
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
}

/**
 * Encodes one event for an HTTP request. Structured (§3.2): the JSON
 * format of the WebSocket binding as the body, Content-Type
 * application/cloudevents+json. Binary (§3.1): each attribute, the
 * provenance extensions included, as a percent-encoded `ce-` header,
 * `datacontenttype` as Content-Type (application/json for data without
 * one, as CloudEvents reads it), trace context as the W3C `traceparent`
 * and `tracestate` headers, and the data bytes as they are.
 */
export function encodeHttpEvent(event: MeshEvent, mode: 'binary' | 'structured'): HttpEventRequest {
  if (mode === 'structured') return { headers: { 'content-type': `${STRUCTURED_JSON}; charset=utf-8` }, body: Buffer.from(encodeStructuredJson(event)) };
  const headers: Record<string, string> = {
    'ce-specversion': '1.0',
    'ce-id': percentEncode(event.id),
    'ce-source': percentEncode(event.source),
    'ce-type': percentEncode(event.type),
  };
  for (const name in event.attrs) {
    if (!/^[a-z0-9]{1,20}$/.test(name)) continue;
    const value = event.attrs[name]!;
    if (name === 'datacontenttype') headers['content-type'] = String(value);
    else headers[`ce-${name}`] = percentEncode(String(value));
  }
  if (event.data !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  if (event.traceparent !== undefined) headers.traceparent = event.traceparent;
  if (event.tracestate !== undefined) headers.tracestate = event.tracestate;
  const origin = event.origin;
  if (origin !== undefined) {
    headers['ce-mgorigin'] = percentEncode(origin.node);
    headers['ce-mgprotocol'] = origin.protocol;
    headers['ce-mgtopic'] = percentEncode(origin.topic);
  }
  if (event.hops.length > 0) headers['ce-mghops'] = percentEncode(formatHops(event.hops));
  if (event.hlc !== undefined) headers['ce-mghlc'] = event.hlc;
  return { headers, body: event.data ?? new Uint8Array(0) };
}
