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
import { type MsgHdrs, headers as natsHeaders } from 'nats';
import { type AttrValue, decodeStructuredJson, type EventDecodeResult, encodeStructuredJson, type MeshEvent } from '../../broker/mod.js';
import type { ContentMode } from '../core/mod.js';
import { canonicalString, eventFromAttributes, flattenEvent, looksStructured, percentDecode, percentEncode } from '../core/mod.js';

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

/**
 * What the binding reads from one message's headers, gathered in one pass
 * over them (nats.js `keys()`/`values()` each rebuild the key list, so
 * looking names up one by one costs O(headers²) and an array per call).
 * Names are case-insensitive (ADR-4); a name's first value counts. Two
 * spellings of one `ce-` name: the later one wins, and one malformed
 * value refuses the message.
 */
export interface NatsHeaderScan {
  /** `Content-Type`. */
  readonly contentType: string | undefined;
  /** `Nats-Msg-Id`: the per-message key plain payloads take their id from. */
  readonly msgId: string | undefined;
  /** `ce-<attr>` headers, percent-decoded (§3.1.3.2), by lower-case attribute name; null when there are none. */
  readonly attributes: Record<string, AttrValue> | null;
  /** The first `ce-` attribute whose value does not percent-decode, or null. */
  readonly malformed: string | null;
}

const NO_HEADERS: NatsHeaderScan = Object.freeze({ contentType: undefined, msgId: undefined, attributes: null, malformed: null });

export function scanNatsHeaders(h: MsgHdrs | undefined): NatsHeaderScan {
  if (h === undefined) return NO_HEADERS;
  let contentType: string | undefined;
  let msgId: string | undefined;
  let attributes: Record<string, AttrValue> | null = null;
  let malformed: string | null = null;
  for (const [key, values] of h) {
    const m = CE_HEADER.exec(key);
    if (m !== null) {
      const name = m[1].toLowerCase();
      const value = percentDecode(values[0] ?? '');
      if (value === null) malformed ??= name;
      else (attributes ??= {})[name] = value;
      continue;
    }
    const lower = key.toLowerCase();
    if (lower === 'content-type') contentType ??= values[0];
    else if (lower === 'nats-msg-id') msgId ??= values[0];
  }
  return { contentType, msgId, attributes, malformed };
}

/** The event in one message, or null when it is not a CloudEvent. `payload` must be owned by the caller. */
export function decodeNats(payload: Uint8Array, headers: NatsHeaderScan, meshTopic: string): EventDecodeResult | null {
  const text = () => Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  const ct = headers.contentType;
  if (ct !== undefined && CE_CONTENT_TYPE.test(ct)) return decodeStructuredJson(text(), meshTopic);
  if (headers.malformed !== null) {
    return {
      ok: false,
      problem: { attribute: headers.malformed, reason: 'header value is not valid percent-encoded UTF-8 (CloudEvents NATS binding §3.1.3.2)' },
    };
  }
  const map = headers.attributes;
  if (map !== null && map.specversion !== undefined) {
    if (map.datacontenttype === undefined && ct !== undefined) map.datacontenttype = ct;
    return eventFromAttributes(map, meshTopic, payload.byteLength === 0 ? undefined : payload);
  }
  if (looksStructured(payload)) return decodeStructuredJson(text(), meshTopic);
  return null;
}
