/**
 * broker/'s public surface: what bridges/ (and other folders above it in
 * DESIGN.md's table) may import. Everything else in broker/ is internal.
 */
export { codedReason, ERROR_CODES, type ErrorCode, MeshError, Metric, MetricsRegistry } from './base/mod.js';
export type { NodeConfig } from './config/mod.js';
export {
  type AttrValue,
  CBOR_OPTIONS,
  checkAttribute,
  checkAttributes,
  decodeEventCbor,
  decodeStructuredJson,
  type EventDecodeResult,
  type EventProblem,
  encodeEventCbor,
  encodeEventMap,
  encodeStructuredJson,
  eventFromMap,
  formatHlc,
  formatHops,
  type Hop,
  type HopTrace,
  HybridClock,
  type IngressProtocol,
  isHlc,
  isJsonMediaType,
  isProvenanceAttr,
  isTextMediaType,
  type MeshEvent,
  type Origin,
  PROVENANCE_ATTRS,
  parseHlc,
  parseHops,
  percentDecode,
  percentEncode,
} from './event/mod.js';
export type { BridgeFactory, BridgeHost, BridgeSet } from './node/mod.js';
export type { EgressFormat, IngestResult, MeshNode, Refusal, Subscriber } from './pipeline/mod.js';
export { type StreamInfo, type StreamManager, type StreamReadEnd, StreamReader, type StreamReaderSink } from './streams/mod.js';
export { EventTracing, endSpan, type SendDestination } from './telemetry/mod.js';
