/**
 * broker/'s public surface: what bridges/ (and other folders above it in
 * DESIGN.md's table) may import. Everything else in broker/ is internal.
 */
export { MeshError, ERROR_CODES, type ErrorCode } from './base/mod.js';
export { PROVENANCE_ATTRS, isProvenanceAttr, type AttrValue, type Hop, type HopTrace, type IngressProtocol, type MeshEvent, type Origin } from './event/mod.js';
export type { EgressFormat, Subscriber } from './pipeline/mod.js';
export type { IngestResult, MeshNode, Refusal } from './pipeline/mod.js';
export { MetricsRegistry, Metric } from './base/mod.js';
export { endSpan, EventTracing, type SendDestination } from './telemetry/mod.js';
export { decodeStructuredJson, encodeStructuredJson } from './event/mod.js';
export { CBOR_OPTIONS, encodeEventMap, eventFromMap, encodeEventCbor, decodeEventCbor } from './event/mod.js';
export { checkAttribute, checkAttributes, isJsonMediaType, isTextMediaType, type EventProblem, type EventDecodeResult } from './event/mod.js';
export { formatHops, parseHops } from './event/mod.js';
export type { BridgeFactory, BridgeSet } from './node/mod.js';
export type { NodeConfig } from './config/mod.js';
