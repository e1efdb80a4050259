/**
 * broker/'s public surface: what bridges/ (and other folders above it in
 * DESIGN.md's table) may import. Everything else in broker/ is internal.
 */
export { MeshError, ERROR_CODES, type ErrorCode } from './errors.js';
export { PROVENANCE_ATTRS, isProvenanceAttr, type AttrValue, type Hop, type IngressProtocol, type MeshEvent, type Origin } from './event.js';
export type { EgressFormat, Subscriber } from './egress.js';
export type { IngestResult, MeshNode, Refusal } from './mesh-node.js';
export { MetricsRegistry, Metric } from './metrics.js';
export { endSpan, EventTracing, type HopTrace, type SendDestination } from './event-tracing.js';
export { decodeStructuredJson, encodeStructuredJson } from './cloudevents-json.js';
export { CBOR_OPTIONS, encodeEventMap, eventFromMap, encodeEventCbor, decodeEventCbor } from './cloudevents-cbor.js';
export { checkAttribute, checkAttributes, isJsonMediaType, isTextMediaType, type EventProblem, type EventDecodeResult } from './event-check.js';
export { formatHops, parseHops } from './hop-path.js';
export type { BridgeFactory, BridgeSet } from './server.js';
export type { NodeConfig } from './config.js';
