/**
 * The CloudEvents NATS protocol binding (1.0.3 draft: binary mode needs
 * NATS 2.2 headers).
 *
 * Binary (§3.1): every attribute, `datacontenttype` included, is a header
 * `ce-<attr>` whose value is the canonical string, percent-encoded
 * (§3.1.3.2, see core/percent-encoding.ts); data is the payload.
 * Structured (§3.2): header `Content-Type: application/cloudevents+json`,
 * payload in the JSON event format.
 *
 * Receiving (§3): a `Content-Type` starting with `application/cloudevents`
 * (case-insensitive) is structured, anything else is binary when a
 * `ce-specversion` header is present. A header-less payload that is a JSON
 * object naming `specversion` is structured (publishers older than 2.2);
 * anything else is not a CloudEvent (null). Header names are
 * case-insensitive (ADR-4).
 */
import { headers as natsHeaders, type MsgHdrs } from 'nats';
import { decodeStructuredJson, encodeStructuredJson, type AttrValue, type EventDecodeResult, type MeshEvent } from '../../broker/mod.js';
import { canonicalString, eventFromAttributes, flattenEvent } from '../core/attributes.js';
import type { ContentMode } from '../core/config.js';
import { percentDecode, percentEncode } from '../core/percent-encoding.js';
import { looksStructured } from '../core/plain-event.js';

export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json';
const CE_CONTENT_TYPE = /^application\/cloudevents/i;
const CE_HEADER = /^ce-([a-z0-9]{1,20})$/i;
const EMPTY = new Uint8Array(0);

export function encodeNats(event: MeshEvent, mode: ContentMode): { payload: Uint8Array; headers: MsgHdrs } {
  const h = natsHeaders();
  if (mode === 'structured') {
    h.set('Content-Type', STRUCTURED_CONTENT_TYPE);
    return { payload: Buffer.from(encodeStructuredJson(event), 'utf8'), headers: h };
  }
  for (const [name, value] of flattenEvent(event, false)) h.set(`ce-${name}`, percentEncode(canonicalString(value)));
  return { payload: event.data ?? EMPTY, headers: h };
}

/** Header value of `name` (case-insensitive), first occurrence. */
export function headerOf(h: MsgHdrs | undefined, name: string): string | undefined {
  if (h === undefined) return undefined;
  for (const k of h.keys()) if (k.toLowerCase() === name) return h.values(k)[0];
  return undefined;
}

/** The event in one message, or null when it is not a CloudEvent. `payload` must be owned by the caller. */
export function decodeNats(payload: Uint8Array, h: MsgHdrs | undefined, meshTopic: string): EventDecodeResult | null {
  const text = () => Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  const ct = headerOf(h, 'content-type');
  if (ct !== undefined && CE_CONTENT_TYPE.test(ct)) return decodeStructuredJson(text(), meshTopic);
  if (h !== undefined) {
    let map: Record<string, AttrValue> | null = null;
    for (const k of h.keys()) {
      const m = CE_HEADER.exec(k);
      if (m === null) continue;
      const name = m[1].toLowerCase();
      const value = percentDecode(h.values(k)[0] ?? '');
      if (value === null) return { ok: false, problem: { attribute: name, reason: 'header value is not valid percent-encoded UTF-8 (CloudEvents NATS binding §3.1.3.2)' } };
      (map ??= {})[name] = value;
    }
    if (map !== null && map.specversion !== undefined) {
      if (map.datacontenttype === undefined && ct !== undefined) map.datacontenttype = ct;
      return eventFromAttributes(map, meshTopic, payload.byteLength === 0 ? undefined : payload);
    }
  }
  if (looksStructured(payload)) return decodeStructuredJson(text(), meshTopic);
  return null;
}
