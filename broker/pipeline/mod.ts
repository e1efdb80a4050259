/**
 * broker/pipeline/: the path of one event through a node. MeshNode.ingest
 * (admit, validate, dedup, stamp provenance, route), the dedup window, the
 * local router and the Subscriber egress seam, dead letters, schema checks
 * at ingress, and the completion that holds an upstream's ack until every
 * link has acked. Imports broker/telemetry/ and below, schemas/, routing/.
 */
export { Completion, type Upstream } from './completion.js';
export type { DurabilityGate } from './durability.js';
export type { EgressFormat, Subscriber } from './egress.js';
export { IngressValidator, type SchemaReason } from './ingress-validation.js';
export { type IngestResult, MeshNode, type MeshNodeOptions, type Refusal } from './mesh-node.js';
export { SYSTEM_TOPIC_PREFIX } from './reserved-topics.js';
