/**
 * CloudEvents over AMQP 0-9-1. There is no official 0-9-1 binding; this
 * follows the AMQP 1.0 binding (§3.1: attributes as application
 * properties with the `cloudEvents_` prefix, `datacontenttype` as the
 * message content-type) mapped onto 0-9-1 basic properties:
 *
 *   binary      headers `cloudEvents_<attr>` with the value's own type
 *               (string, boolean, integer: 0-9-1 field tables keep them),
 *               content-type = datacontenttype, body = data. `time` goes
 *               as its RFC 3339 string, the canonical form the binding
 *               allows (§3.1.3.2 "MAY forward values as canonical
 *               strings"): a 0-9-1 timestamp holds whole seconds only and
 *               no offset, so the native form would change the event
 *   structured  content-type `application/cloudevents+json`, body = JSON format
 *   both        message-id = the event id, delivery-mode 2 (persistent)
 *
 * Receiving: a content-type starting with `application/cloudevents` is
 * structured; otherwise headers named `cloudEvents_`, `cloudEvents:`,
 * `ce-` or `ce_` + attribute (prefix case-insensitive) are binary when
 * `specversion` is among them; a JSON object body naming `specversion` is
 * structured; anything else is not a CloudEvent (null). Header values of
 * every field-table type are read as headerValue says (a timestamp `T`
 * as an RFC 3339 string, a byte array as Binary).
 */
import {
  type AttrValue,
  decodeStructuredJson,
  type EventDecodeResult,
  type EventProblem,
  encodeStructuredJson,
  formatHops,
  type MeshEvent,
} from '../../broker/mod.js';
import type { ContentMode } from '../core/mod.js';
import { eventFromAttributes, looksStructured } from '../core/mod.js';
import type { PublishProperties } from './publish-frames.js';

export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json';
export const HEADER_PREFIX = 'cloudEvents_';
const CE_CONTENT_TYPE = /^application\/cloudevents/i;
const PREFIXED = /^(?:cloudevents[_:]|ce[-_])([a-z0-9]{1,20})$/i;
const EMPTY = Buffer.alloc(0);
/** Header names of optional attributes and extensions, built once per name rather than per message. Bounded: extension names come from producers. */
const headerNames = new Map<string, string>();
const MAX_HEADER_NAMES = 1024;

function headerName(attr: string): string {
  let name = headerNames.get(attr);
  if (name === undefined) {
    name = HEADER_PREFIX + attr;
    if (headerNames.size < MAX_HEADER_NAMES) headerNames.set(attr, name);
  }
  return name;
}

/**
 * The message for one event. Binary mode writes the attributes of
 * core/attributes.ts flattenEvent in the same order, with the fixed ones
 * as literal keys: one object shape for the common event, and no header
 * name built per message.
 */
export function encodeAmqp(event: MeshEvent, mode: ContentMode): { body: Buffer; properties: PublishProperties } {
  if (mode === 'structured') {
    return {
      body: Buffer.from(encodeStructuredJson(event), 'utf8'),
      properties: { contentType: STRUCTURED_CONTENT_TYPE, messageId: event.id, deliveryMode: 2 },
    };
  }
  const headers: Record<string, AttrValue> = {
    cloudEvents_specversion: '1.0',
    cloudEvents_id: event.id,
    cloudEvents_source: event.source,
    cloudEvents_type: event.type,
  };
  const attrs = event.attrs;
  for (const name in attrs) if (name !== 'datacontenttype') headers[headerName(name)] = attrs[name];
  if (event.traceparent !== undefined) headers.cloudEvents_traceparent = event.traceparent;
  if (event.tracestate !== undefined) headers.cloudEvents_tracestate = event.tracestate;
  const origin = event.origin;
  if (origin !== undefined) {
    headers.cloudEvents_mgorigin = origin.node;
    headers.cloudEvents_mgprotocol = origin.protocol;
    headers.cloudEvents_mgtopic = origin.topic;
  }
  if (event.hops.length > 0) headers.cloudEvents_mghops = formatHops(event.hops);
  if (event.hlc !== undefined) headers.cloudEvents_mghlc = event.hlc;
  const ct = attrs.datacontenttype;
  const data = event.data;
  return {
    body: data === undefined ? EMPTY : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    properties: { contentType: typeof ct === 'string' ? ct : undefined, headers, messageId: event.id, deliveryMode: 2 },
  };
}

/** The event in one delivery, or null when it is not a CloudEvent. `body` must be owned by the caller. */
export function decodeAmqp(
  body: Buffer,
  contentType: string | undefined,
  headers: Record<string, unknown> | undefined,
  meshTopic: string,
): EventDecodeResult | null {
  if (contentType !== undefined && CE_CONTENT_TYPE.test(contentType)) return decodeStructuredJson(body.toString('utf8'), meshTopic);
  if (headers !== undefined) {
    let map: Record<string, AttrValue> | null = null;
    let problem: EventProblem | null = null;
    for (const key in headers) {
      const m = PREFIXED.exec(key);
      if (m === null) continue;
      const name = m[1].toLowerCase();
      const value = headerValue(name, headers[key]);
      if (value === null) continue; // void: unset, as a JSON null is
      if (typeof value === 'object') {
        // Trace context never refuses an event, and provenance is dropped unread: a bad one costs nothing.
        if (!FORGIVEN.has(name)) problem ??= value;
        continue;
      }
      (map ??= {})[name] = value;
    }
    if (map !== null && map.specversion !== undefined) {
      if (problem !== null) return { ok: false, problem };
      if (contentType !== undefined && map.datacontenttype === undefined) map.datacontenttype = contentType;
      return eventFromAttributes(map, meshTopic, body.byteLength === 0 ? undefined : body);
    }
  }
  if (looksStructured(body)) return decodeStructuredJson(body.toString('utf8'), meshTopic);
  return null;
}

/**
 * Attributes whose CloudEvents type is not Binary: a byte-array header
 * for one of them can only be its text. Extensions have no declared type,
 * so their AMQP type tells (binding §3.1.3.2: Binary is AMQP binary).
 */
const TEXT_ATTRIBUTES: ReadonlySet<string> = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'subject',
  'time',
  'datacontenttype',
  'dataschema',
  'traceparent',
  'tracestate',
]);
/** Attributes whose bad value is dropped rather than refused (STYLE: trace context; provenance is never read from a broker). */
const FORGIVEN: ReadonlySet<string> = new Set(['traceparent', 'tracestate', 'mgorigin', 'mgprotocol', 'mgtopic', 'mghops', 'mghlc']);
/** 9999-12-31T23:59:59Z in seconds: the last instant RFC 3339 can write. */
const MAX_TIMESTAMP_SECONDS = 253_402_300_799;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * One field-table value, as amqplib decodes it (lib/codec.js decodeFields),
 * as a CloudEvents attribute value: the AMQP binding's type mapping
 * (§3.1.3.2: Boolean boolean, Integer long, String string, Binary binary,
 * Timestamp timestamp; "MUST be able to interpret both forms", native and
 * canonical string, and "MAY further relax ... accepting numeric types
 * other than AMQP long"). So:
 *
 *   S longstr                 String
 *   t boolean                 Boolean
 *   b B s u I i l, d f        Integer (the checker refuses fractions and
 *                             values outside -2^31..2^31-1)
 *   T timestamp               Timestamp, as its RFC 3339 string: 0-9-1
 *                             timestamps are whole seconds since the epoch
 *                             (pika sends a datetime this way)
 *   x byte array              Binary: base64, its canonical string; for an
 *                             attribute of another type, its UTF-8 text
 *   V void                    null (unset)
 *   D decimal, A array,       a problem: no CloudEvents type holds them,
 *   F table                   and dropping an attribute silently would
 *                             change the event
 */
function headerValue(name: string, v: unknown): AttrValue | null | EventProblem {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'number':
      return v;
    case 'bigint':
      return Number(v);
    case 'undefined':
      return null;
    case 'object':
      break;
    default:
      return notAttributeValue(name, typeof v);
  }
  if (v === null) return null;
  if (Buffer.isBuffer(v)) {
    if (!TEXT_ATTRIBUTES.has(name)) return v.toString('base64');
    try {
      return STRICT_UTF8.decode(v);
    } catch {
      return { attribute: name, reason: 'is an AMQP byte array that is not UTF-8 text' };
    }
  }
  if (Array.isArray(v)) return notAttributeValue(name, 'array');
  const typed = v as { '!'?: unknown; value?: unknown };
  if (typed['!'] === 'timestamp') {
    const seconds = typed.value;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0 || seconds > MAX_TIMESTAMP_SECONDS) {
      return { attribute: name, reason: 'is an AMQP timestamp past 9999-12-31T23:59:59Z, which RFC 3339 cannot write' };
    }
    // Whole seconds: no fraction to write. toISOString always has milliseconds.
    return new Date(seconds * 1000).toISOString().slice(0, 19) + 'Z';
  }
  return notAttributeValue(name, typed['!'] === 'decimal' ? 'decimal' : 'table');
}

function notAttributeValue(name: string, amqpType: string): EventProblem {
  return { attribute: name, reason: `is an AMQP ${amqpType}; CloudEvents attribute values are strings, booleans, integers, byte arrays and timestamps` };
}
