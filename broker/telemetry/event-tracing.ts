/**
 * OpenTelemetry spans for events crossing a node, named and attributed per
 * the messaging semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/messaging/messaging-spans/):
 *
 *   receive <topic>  CONSUMER  the node accepts the event (from a client,
 *                              a bridged broker or a peer); ends when the
 *                              node has routed it
 *     process <topic> CONSUMER local subscribers were handed the event
 *     send <dest>     PRODUCER the event leaves: to a peer link, or to a
 *                              broker through a bridge
 *
 * One trace per event: the first node parents its receive span on the
 * producer's `traceparent` (the creation context, carried unchanged in
 * every binding) or, without one, starts the trace and makes its receive
 * span the creation context. Each later node parents its receive span on
 * the previous node's send span (carried beside the event in the peer
 * frame) and links to the creation context, so the trace reads hop by hop
 * in order, and a consumer on any protocol can still link to the
 * creation context alone.
 *
 * Sampling follows OTEL_TRACES_SAMPLER (parent-based by default). Given the
 * node's `Sampling` (sampling.ts), the decision is taken before any span:
 * an event that is not sampled gets no span object at all, keeps its
 * traceparent as it came (or, as a root, gets one with the sampled flag
 * clear from pooled random ids), and nothing per hop is sent along.
 * Without one (a provider given by embedding code, whose sampler the node
 * does not know), the SDK decides per span and unsampled events get
 * non-recording spans.
 *
 * Attribute names are copied from semantic conventions 1.38 (messaging
 * and cloudevents registries), as opentelemetry-js advises for incubating
 * conventions, rather than imported from the unstable entry point.
 */
import { type Attributes, type Link, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type Tracer, type TracerProvider, trace } from '@opentelemetry/api';
import type { HopTrace, IngressProtocol, MeshEvent } from '../event/mod.js';
import { formatTraceparent, spanContextOf } from '../event/mod.js';
import type { Sampling } from './sampling.js';

/** `messaging.system` of spans the mesh itself records. */
export const MESSAGING_SYSTEM = 'meshgate';

const ATTR = {
  system: 'messaging.system',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destination: 'messaging.destination.name',
  messageId: 'messaging.message.id',
  bodySize: 'messaging.message.body.size',
  batchCount: 'messaging.batch.message_count',
  ceId: 'cloudevents.event_id',
  ceSource: 'cloudevents.event_source',
  ceType: 'cloudevents.event_type',
  ceSpecVersion: 'cloudevents.event_spec_version',
  node: 'meshgate.node',
  region: 'meshgate.region',
  hop: 'meshgate.hop',
  ingress: 'meshgate.ingress.protocol',
  peer: 'meshgate.peer.node',
  originNode: 'meshgate.origin.node',
} as const;

export interface ReceiveTrace {
  /** Ended by the caller once the node has routed the event; absent when the event was decided unsampled before any span. */
  readonly span: Span | undefined;
  /** The creation context the event carries from here on: the producer's, or the receive span's when there was none. */
  readonly traceparent: string;
  /** Set only while the span records: parents for process and send spans. */
  readonly hop: HopTrace | undefined;
}

/** Where a send span says the event went. */
export interface SendDestination {
  /** `messaging.system` of the receiving side: 'meshgate' for a peer, 'rabbitmq', 'mqtt', 'nats' for bridged brokers. */
  readonly system: string;
  /** Topic, subject or routing key in the receiving side's own syntax. */
  readonly name: string;
  /** The peer node, when the event goes to one. */
  readonly peer?: string;
}

/** Records the spans of events crossing one node. */
export class EventTracing {
  readonly #tracer: Tracer;
  readonly #nodeId: string;
  readonly #region: string;
  readonly #sampling: Sampling | null;

  /**
   * `sampling` must be the policy and id generator `provider` was built
   * with (startTelemetry returns them together); null: the provider's
   * sampler decides per span, as for a provider whose sampler is unknown.
   */
  constructor(
    provider: TracerProvider,
    identity: { readonly nodeId: string; readonly region: string; readonly version?: string },
    sampling: Sampling | null = null,
  ) {
    this.#tracer = provider.getTracer('meshgate', identity.version);
    this.#nodeId = identity.nodeId;
    this.#region = identity.region;
    this.#sampling = sampling;
  }

  /**
   * Starts the receive span of an event arriving at this node.
   * `event.traceparent` must be well-formed or absent (ingress drops a
   * malformed one); `hopParent` is the previous node's send span, from the
   * peer frame, and is ignored when malformed.
   */
  receive(event: MeshEvent, protocol: IngressProtocol, hopParent: string | undefined): ReceiveTrace {
    const sampling = this.#sampling;
    // A previous node's send span is passed on only when it recorded: rare,
    // and then the SDK's sampler decides as before.
    if (sampling !== null && hopParent === undefined) {
      const traceparent = event.traceparent;
      if (traceparent !== undefined) {
        if (!sampling.sampledChild(traceparent)) return { span: undefined, traceparent, hop: undefined };
      } else {
        const root = sampling.ids.root();
        if (!sampling.sampledRoot(sampling.ids.fold)) return { span: undefined, traceparent: root, hop: undefined };
        // The SDK's sampler sees the same trace id and so decides the same.
        sampling.ids.claimRoot(root);
      }
    }
    return this.#receiveSpan(event, protocol, hopParent);
  }

  #receiveSpan(event: MeshEvent, protocol: IngressProtocol, hopParent: string | undefined): ReceiveTrace {
    const creation = event.traceparent === undefined ? null : spanContextOf(event.traceparent);
    const previous = hopParent === undefined ? null : spanContextOf(hopParent);
    const parent = previous ?? creation;
    const links: Link[] | undefined = previous !== null && creation !== null ? [{ context: creation }] : undefined;
    const span = this.#tracer.startSpan(
      'receive',
      { kind: SpanKind.CONSUMER, links },
      parent === null ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent),
    );
    // Unused when the provider did not take its trace id from our generator.
    this.#sampling?.ids.clearClaim();
    // Name and attributes only for spans that record: most events on a
    // sampled deployment do not, and building them for each would be most
    // of what tracing costs. (The standard samplers read neither.)
    if (span.isRecording()) span.updateName(`receive ${event.topic}`).setAttributes(this.#receiveAttributes(event, protocol));
    return {
      span,
      traceparent: creation === null ? formatTraceparent(span.spanContext()) : event.traceparent!,
      hop: span.isRecording() ? { span, context: trace.setSpan(ROOT_CONTEXT, span) } : undefined,
    };
  }

  #receiveAttributes(event: MeshEvent, protocol: IngressProtocol): Attributes {
    const hops = event.hops;
    const attributes: Attributes = {
      [ATTR.system]: MESSAGING_SYSTEM,
      [ATTR.operationType]: 'receive',
      [ATTR.operationName]: 'receive',
      [ATTR.destination]: event.topic,
      [ATTR.messageId]: event.id,
      [ATTR.bodySize]: event.data === undefined ? 0 : event.data.byteLength,
      [ATTR.ceId]: event.id,
      [ATTR.ceSource]: event.source,
      [ATTR.ceType]: event.type,
      [ATTR.ceSpecVersion]: '1.0',
      [ATTR.node]: this.#nodeId,
      [ATTR.region]: this.#region,
      [ATTR.ingress]: protocol,
      [ATTR.hop]: protocol === 'peer' ? hops.length : 0,
    };
    if (protocol === 'peer' && hops.length > 0) {
      attributes[ATTR.peer] = hops[hops.length - 1].node;
      if (event.origin !== undefined) attributes[ATTR.originNode] = event.origin.node;
    }
    return attributes;
  }

  /** Records that `deliveries` local subscribers were handed the event. */
  process(hop: HopTrace, event: MeshEvent, deliveries: number): void {
    this.#tracer
      .startSpan(
        `process ${event.topic}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            [ATTR.system]: MESSAGING_SYSTEM,
            [ATTR.operationType]: 'process',
            [ATTR.operationName]: 'deliver',
            [ATTR.destination]: event.topic,
            [ATTR.messageId]: event.id,
            [ATTR.batchCount]: deliveries,
            [ATTR.node]: this.#nodeId,
          },
        },
        hop.context,
      )
      .end();
  }

  /** Starts a send span, child of the node's receive span; the caller ends it (see `endSend`). */
  send(hop: HopTrace, event: MeshEvent, destination: SendDestination): Span {
    const attributes: Attributes = {
      [ATTR.system]: destination.system,
      [ATTR.operationType]: 'send',
      [ATTR.operationName]: 'send',
      [ATTR.destination]: destination.name,
      [ATTR.messageId]: event.id,
      [ATTR.bodySize]: event.data === undefined ? 0 : event.data.byteLength,
      [ATTR.node]: this.#nodeId,
    };
    if (destination.peer !== undefined) attributes[ATTR.peer] = destination.peer;
    return this.#tracer.startSpan(`send ${destination.name}`, { kind: SpanKind.PRODUCER, attributes }, hop.context);
  }
}

/** Ends a span, marking it failed when `error` is given. */
export function endSpan(span: Span, error?: Error): void {
  if (error !== undefined) {
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  }
  span.end();
}

/** The `traceparent` of a span, for the next hop to parent on. */
export function traceparentOf(span: Span): string {
  return formatTraceparent(span.spanContext());
}
