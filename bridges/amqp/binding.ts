/**
 * CloudEvents over AMQP 0-9-1. There is no official 0-9-1 binding; this
 * follows the AMQP 1.0 binding (§3.1: attributes as application
 * properties with the `cloudEvents_` prefix, `datacontenttype` as the
 * message content-type) mapped onto 0-9-1 basic properties:
 *
 *   binary      headers `cloudEvents_<attr>` with the value's own type
 *               (string, boolean, integer: 0-9-1 field tables keep them),
 *               content-type = datacontenttype, body = data
 *   structured  content-type `application/cloudevents+json`, body = JSON format
 *   both        message-id = the event id, delivery-mode 2 (persistent)
 *
 * Receiving: a content-type starting with `application/cloudevents` is
 * structured; otherwise headers named `cloudEvents_`, `cloudEvents:`,
 * `ce-` or `ce_` + attribute (prefix case-insensitive) are binary when
 * `specversion` is among them; a JSON object body naming `specversion` is
 * structured; anything else is not a CloudEvent (null).
 */
import { decodeStructuredJson, encodeStructuredJson, formatHops, type AttrValue, type EventDecodeResult, type MeshEvent } from '../../broker/mod.js';
import { eventFromAttributes } from '../core/mod.js';
import type { ContentMode } from '../core/mod.js';
import { looksStructured } from '../core/mod.js';
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
    return { body: Buffer.from(encodeStructuredJson(event), 'utf8'), properties: { contentType: STRUCTURED_CONTENT_TYPE, messageId: event.id, deliveryMode: 2 } };
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
  const ct = attrs.datacontenttype;
  const data = event.data;
  return {
    body: data === undefined ? EMPTY : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    properties: { contentType: typeof ct === 'string' ? ct : undefined, headers, messageId: event.id, deliveryMode: 2 },
  };
}

/** The event in one delivery, or null when it is not a CloudEvent. `body` must be owned by the caller. */
export function decodeAmqp(body: Buffer, contentType: string | undefined, headers: Record<string, unknown> | undefined, meshTopic: string): EventDecodeResult | null {
  if (contentType !== undefined && CE_CONTENT_TYPE.test(contentType)) return decodeStructuredJson(body.toString('utf8'), meshTopic);
  if (headers !== undefined) {
    let map: Record<string, AttrValue> | null = null;
    for (const key in headers) {
      const m = PREFIXED.exec(key);
      if (m === null) continue;
      const value = headerValue(headers[key]);
      if (value === undefined) continue;
      (map ??= {})[m[1].toLowerCase()] = value;
    }
    if (map !== null && map.specversion !== undefined) {
      if (contentType !== undefined && map.datacontenttype === undefined) map.datacontenttype = contentType;
      return eventFromAttributes(map, meshTopic, body.byteLength === 0 ? undefined : body);
    }
  }
  if (looksStructured(body)) return decodeStructuredJson(body.toString('utf8'), meshTopic);
  return null;
}

/** A field-table value as an attribute value: strings, booleans and integers as they are; byte strings as UTF-8. */
function headerValue(v: unknown): AttrValue | undefined {
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'object' && v !== null && 'value' in v) return headerValue((v as { value: unknown }).value);
  return undefined;
}
