import type { ErrorCode } from '../base/mod.js';

/** A store's refusal, as MeshNode's Refusal: the code the producer gets and why. */
export interface StoreRefusal {
  readonly code: ErrorCode;
  readonly message: string;
}

/**
 * Durable before acknowledged. Local stores (the node's streams) take
 * events as subscribers, synchronously, while MeshNode.ingest routes them;
 * the gate then tells ingest what became of the event it just routed, so
 * the ingress can hold its ack:
 *
 *   ingest ─ route ─> stream subscriber: append (sync, queued)
 *          └ gate.take() ─> null             nothing stored: ack now
 *                           Promise<result>  ack when it resolves (one promise per commit group)
 *                           Refusal          the store refused (MG_ERR_STREAM_FULL ...): refuse, ack nothing
 *
 * The promise never rejects: it resolves to null once every append of
 * the event is durable, or to the refusal when its commit failed, so an
 * ingress that ignores it (a mesh view) leaves no unhandled rejection.
 */
export interface DurabilityGate {
  /** What the appends made since the last call (those of one ingest) came to; resets. */
  take(): Promise<StoreRefusal | null> | StoreRefusal | null;
}
