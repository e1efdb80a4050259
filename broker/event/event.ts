/**
 * The one event shape inside the mesh: CloudEvents 1.0 attributes, data as
 * bytes, and provenance the mesh writes itself.
 *
 * Buffer lifetime: `data` is owned by the event once constructed. Ingress
 * code copies out of transport buffers that die with their callback (uWS)
 * before building an event; after that the broker never copies or
 * re-encodes `data`.
 */
import type { Context, Span } from '@opentelemetry/api';

/** How an event entered the mesh; 'system' for events a node publishes itself (mesh views). */
export type IngressProtocol = 'ws' | 'http' | 'mqtt' | 'amqp' | 'nats' | 'postgres' | 'peer' | 'system';

/** One node an event passed through, in order, appended by the mesh only. */
export interface Hop {
  readonly node: string;
  readonly region: string;
  /** Milliseconds since the Unix epoch when the node accepted the event. */
  readonly time: number;
}

/** Where an event first entered the mesh. Written at ingress, never by a client. */
export interface Origin {
  readonly node: string;
  readonly protocol: IngressProtocol;
  /** The topic as the producer named it, in its own protocol's syntax. */
  readonly topic: string;
}

/** A CloudEvents extension or optional attribute value as JSON can carry it. */
export type AttrValue = string | number | boolean;

export interface MeshEvent {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  /** Canonical, dot-separated mesh topic. */
  readonly topic: string;
  /**
   * Event payload bytes; absent when the event has no data. With a JSON
   * `datacontenttype` (or none, which CloudEvents reads as JSON) these are
   * the JSON text of the value; otherwise the raw bytes.
   */
  readonly data?: Uint8Array;
  /**
   * Every other CloudEvents attribute the producer set, by its CE name:
   * `time`, `subject`, `datacontenttype`, `dataschema` and extensions.
   * Never holds `specversion` (always "1.0"), `id`, `source`, `type`,
   * `data`, trace context or provenance.
   */
  readonly attrs: Readonly<Record<string, AttrValue>>;
  /** W3C `traceparent` of the creation context; never changed after ingress. */
  readonly traceparent?: string;
  readonly tracestate?: string;
  readonly origin?: Origin;
  /**
   * Hybrid logical clock stamp (hlc.ts), written by the node that admits
   * the event and never changed after: 17 hex digits, sortable as text.
   * Provenance like `origin`: a producer's value is discarded.
   */
  readonly hlc?: string;
  readonly hops: readonly Hop[];
  /**
   * This node's span for the event while it routes it (set only when
   * tracing records it): egress parents its send spans on it. Local to
   * the node: no binding encodes it.
   */
  readonly hopTrace?: HopTrace;
}

/** CloudEvents extension names the mesh owns; producer-set values are discarded. */
export const PROVENANCE_ATTRS = {
  originNode: 'mgorigin',
  originProtocol: 'mgprotocol',
  originTopic: 'mgtopic',
  hops: 'mghops',
  hlc: 'mghlc',
} as const;

const RESERVED_PROVENANCE = new Set<string>(Object.values(PROVENANCE_ATTRS));

/** True for attribute names only the mesh may write. */
export function isProvenanceAttr(name: string): boolean {
  return RESERVED_PROVENANCE.has(name);
}

/** A copy of `event` with one more hop appended; the data bytes are shared, not copied. */
export function withHop(event: MeshEvent, hop: Hop): MeshEvent {
  return { ...event, hops: [...event.hops, hop] };
}

/** This node's part of one event's trace (set by telemetry/) while the node handles it. */
export interface HopTrace {
  /** The receive span; process and send spans are its children. */
  readonly span: Span;
  /** A context holding `span`, for starting children. */
  readonly context: Context;
}
