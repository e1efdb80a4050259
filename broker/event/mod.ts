/**
 * broker/event/: the event model and its codecs. MeshEvent, CloudEvents
 * attribute checks, the JSON (structured) and CBOR codecs, the CBOR writers
 * for client items and peer entries, hop paths, W3C traceparent parsing.
 * Pure functions over bytes and objects; imports nothing of ours.
 */
export { encodePeerEntry, encodeClientItem } from './cbor-event-writer.js';
export { CBOR_OPTIONS, encodeEventMap, eventFromMap, encodeEventCbor, decodeEventCbor } from './cloudevents-cbor.js';
export { decodeStructuredJson, encodeStructuredJson } from './cloudevents-json.js';
export { PROVENANCE_ATTRS, isProvenanceAttr, type AttrValue, type Hop, type HopTrace, type IngressProtocol, type MeshEvent, type Origin } from './event.js';
export { checkAttribute, checkAttributes, isJsonMediaType, isTextMediaType, type EventProblem, type EventDecodeResult } from './event-check.js';
export { formatHops, parseHops } from './hop-path.js';
export { arrayElementSpans, topLevelMemberSpan } from './json-span.js';
export { isValidTraceparent, formatTraceparent, spanContextOf } from './trace-context.js';
