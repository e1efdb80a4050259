/**
 * The CBOR variant of the CloudEvents structured format: the binary flavour
 * of the client protocol (`meshgate.v1.cbor`) and the peer wire.
 *
 * One CBOR map (RFC 8949 major type 5) per event, keyed by the CloudEvents
 * attribute names exactly as in the JSON format:
 *
 * ```
 *   { "specversion": "1.0", "id": tstr, "source": tstr, "type": tstr,
 *     ? "time" / "subject" / "datacontenttype" / "dataschema": tstr,
 *     * extension: tstr / int / bool,
 *     ? "traceparent": tstr, ? "tracestate": tstr,
 *     ? "mgorigin": tstr, ? "mgprotocol": tstr, ? "mgtopic": tstr,
 *     ? "mghops": [* [node: tstr, region: tstr, timeMs: uint]],
 *     ? "mghlc": tstr,             ; hlc.ts: 17 hex digits
 *     ? "data": bstr }            ; on ingest a tstr is accepted too (UTF-8)
 * ```
 *
 * Unlike JSON there is no data/data_base64 split: data is always a byte
 * string, whatever the datacontenttype.
 *
 * Buffer lifetimes (verified against cbor-x 1.6.9, decode.js readBin):
 * cbor-x decode does NOT copy byte strings unless `copyBuffers` is set; it
 * returns `subarray` views into the input. Callers hand us views over
 * transport buffers (uWS ArrayBuffers die when the handler returns), so
 * eventFromMap copies `data` (Buffer.from copies) unless told the map's
 * byte strings are already owned. Text strings are always fresh JS
 * strings. Encoded output is a subarray of the encoder's 8 KiB slab that
 * cbor-x never writes again, so it stays valid as long as it is held.
 */
import { Encoder } from 'cbor-x';
import type { Hop, MeshEvent } from './event.js';
import {
  type DecodeOptions,
  type EventDecodeResult,
  type EventProblem,
  finishDecode,
  isWritableAttr,
  newAttributeParts,
  readAttributes,
  WHOLE_EVENT,
} from './event-check.js';

/**
 * cbor-x options for interoperable CBOR: plain maps with string keys
 * (no cbor-x record extension), no tag 64 on Uint8Array (so `data` is a
 * plain byte string any CBOR library reads), float64 numbers as given.
 * Any encoder that embeds encodeEventMap() output should use these too.
 */
export const CBOR_OPTIONS = Object.freeze({
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  useFloat32: 0, // FLOAT32_OPTIONS.NEVER (a const enum cannot be imported under isolated ESM)
  bundleStrings: false,
  structuredClone: false,
  copyBuffers: false, // we copy exactly the one byte string that outlives the call: data
});

const cbor = new Encoder({ ...CBOR_OPTIONS });

export type { DecodeOptions, EventDecodeResult } from './event-check.js';

export interface MapDecodeOptions extends DecodeOptions {
  /**
   * Copy `data` out of the map. Leave on unless the map's byte strings
   * are already owned (decoded with `copyBuffers: true`, or from a buffer
   * that outlives the event).
   * @default true
   */
  readonly copyData?: boolean;
}

const NOT_CBOR: EventProblem = Object.freeze({ attribute: WHOLE_EVENT, reason: 'is not a single well-formed CBOR item' });
const NOT_MAP: EventProblem = Object.freeze({ attribute: WHOLE_EVENT, reason: 'must be a CBOR map with text keys' });
const BAD_DATA: EventProblem = Object.freeze({ attribute: 'data', reason: 'must be a byte string (a text string is read as UTF-8)' });
const NO_BASE64: EventProblem = Object.freeze({
  attribute: 'data_base64',
  reason: 'is a JSON format member; in CBOR send data as a byte string',
});
const BAD_HOPS: EventProblem = Object.freeze({ attribute: 'mghops', reason: 'must be an array of [node, region, timeMs] arrays' });

/**
 * The event as a plain map for cbor-x, to embed in a larger frame with one
 * encode: `encoder.encode({ op: 'event', topic, event: encodeEventMap(e) })`.
 * `data` is shared with the event, not copied.
 *
 * @example cbor.encode({ op: 'event', topic: e.topic, event: encodeEventMap(e) })
 */
export function encodeEventMap(event: MeshEvent): Record<string, unknown> {
  const map: Record<string, unknown> = {
    specversion: '1.0',
    id: event.id,
    source: event.source,
    type: event.type,
  };
  const attrs = event.attrs;
  for (const name in attrs) {
    if (isWritableAttr(name)) map[name] = attrs[name];
  }
  if (event.traceparent !== undefined) map.traceparent = event.traceparent;
  if (event.tracestate !== undefined) map.tracestate = event.tracestate;
  const origin = event.origin;
  if (origin !== undefined) {
    map.mgorigin = origin.node;
    map.mgprotocol = origin.protocol;
    map.mgtopic = origin.topic;
  }
  const hops = event.hops;
  if (hops.length > 0) {
    const list = new Array<unknown>(hops.length);
    for (let i = 0; i < hops.length; i++) list[i] = [hops[i].node, hops[i].region, hops[i].time];
    map.mghops = list;
  }
  if (event.hlc !== undefined) map.mghlc = event.hlc;
  const data = event.data;
  if (data !== undefined) {
    // A Buffer view: cbor-x tags a plain Uint8Array with tag 64 unless tagUint8Array is false, never a Buffer.
    map.data = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  return map;
}

/**
 * Encodes an event as one CBOR map. The result stays valid while held.
 *
 * @example ws.send(encodeEventCbor(event), true)
 */
export function encodeEventCbor(event: MeshEvent): Uint8Array {
  return cbor.encode(encodeEventMap(event));
}

/**
 * Builds an event from a decoded CBOR map (e.g. the `event` member of a
 * client or peer frame). Never throws.
 *
 * @example
 * const frame = decoder.decode(bytes);
 * const r = eventFromMap(frame.event, frame.topic, { trustProvenance: true });
 */
export function eventFromMap(map: unknown, topic: string, options?: MapDecodeOptions): EventDecodeResult {
  if (typeof map !== 'object' || map === null || Array.isArray(map) || map instanceof Uint8Array || map instanceof Map) {
    return { ok: false, problem: NOT_MAP };
  }
  const m = map as Record<string, unknown>;
  const trust = options?.trustProvenance === true;
  const parts = newAttributeParts();
  const problem = readAttributes(m, parts, trust);
  if (problem !== null) return { ok: false, problem };
  if (m.data_base64 !== undefined) return { ok: false, problem: NO_BASE64 };

  const value = m.data;
  let data: Uint8Array | undefined;
  if (value instanceof Uint8Array) {
    // Buffer.from(view) copies into memory the event owns; see "Buffer lifetimes" above.
    data = options?.copyData === false ? value : Buffer.from(value);
  } else if (typeof value === 'string') {
    data = Buffer.from(value, 'utf8');
  } else if (value !== undefined && value !== null) {
    return { ok: false, problem: BAD_DATA };
  }

  return finishDecode(parts, topic, data, trust, hopsFromCbor, BAD_HOPS);
}

function hopsFromCbor(value: unknown): Hop[] | null {
  if (!Array.isArray(value)) return null;
  const hops = new Array<Hop>(value.length);
  for (let i = 0; i < value.length; i++) {
    const h: unknown = value[i];
    if (!Array.isArray(h) || h.length !== 3) return null;
    const node: unknown = h[0];
    const region: unknown = h[1];
    const time: unknown = h[2];
    if (typeof node !== 'string' || typeof region !== 'string' || !Number.isSafeInteger(time) || (time as number) < 0) return null;
    hops[i] = { node, region, time: time as number };
  }
  return hops;
}

/**
 * Decodes one CBOR-encoded event. `bytes` may be a view over a transport
 * buffer that dies after the call: the event keeps its own copy of data.
 * Never throws: malformed, truncated or trailing input is a problem.
 *
 * @example const r = decodeEventCbor(new Uint8Array(message), 'orders.eu');
 */
export function decodeEventCbor(bytes: Uint8Array, topic: string, options?: DecodeOptions): EventDecodeResult {
  let map: unknown;
  try {
    map = cbor.decode(bytes);
  } catch {
    return { ok: false, problem: NOT_CBOR };
  }
  return eventFromMap(map, topic, options?.trustProvenance === true ? TRUSTED_COPY : UNTRUSTED_COPY);
}

const TRUSTED_COPY: MapDecodeOptions = Object.freeze({ trustProvenance: true, copyData: true });
const UNTRUSTED_COPY: MapDecodeOptions = Object.freeze({ trustProvenance: false, copyData: true });
