/**
 * broker/event/: the event model and its codecs. MeshEvent, CloudEvents
 * attribute checks, the JSON (structured) and CBOR codecs, the CBOR writers
 * for client items and peer entries, hop paths, the hybrid logical clock,
 * W3C traceparent parsing.
 * Pure functions over bytes and objects; imports nothing of ours.
 */

export { eventFromAttributeMap } from './attribute-map.js';
export { clientItemFromPeerEntry, encodeClientItem, encodePeerEntry } from './cbor-event-writer.js';
export { CBOR_OPTIONS, decodeEventCbor, encodeEventCbor, encodeEventMap, eventFromMap } from './cloudevents-cbor.js';
export { decodeStructuredJson, encodeStructuredJson } from './cloudevents-json.js';
export { type AttrValue, type Hop, type HopTrace, type IngressProtocol, isProvenanceAttr, type MeshEvent, type Origin, PROVENANCE_ATTRS } from './event.js';
export { checkAttribute, checkAttributes, type EventDecodeResult, type EventProblem, isJsonMediaType, isTextMediaType } from './event-check.js';
export { formatHlc, HLC_LENGTH, type HlcTimestamp, HybridClock, type HybridClockOptions, isHlc, parseHlc } from './hlc.js';
export { formatHops, parseHops } from './hop-path.js';
export { arrayElementSpans, topLevelMemberSpan } from './json-span.js';
export { percentDecode, percentEncode } from './percent-encoding.js';
export { formatTraceparent, isValidTraceparent, spanContextOf } from './trace-context.js';
