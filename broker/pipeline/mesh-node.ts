import { checkFilter, checkTopic, type TopicLimits } from '../../routing/mod.js';
import type { ErrorCode } from '../base/mod.js';
import { type Histogram, type Metric, MetricsRegistry } from '../base/mod.js';
import type { Hop, IngressProtocol, MeshEvent } from '../event/mod.js';
import { HybridClock, isValidTraceparent } from '../event/mod.js';
import type { EventTracing } from '../telemetry/mod.js';
import type { Upstream } from './completion.js';
import { deadLetter, deadLetterTopic } from './dead-letter.js';
import { DedupWindow } from './dedup.js';
import type { DurabilityGate } from './durability.js';
import type { Subscriber } from './egress.js';
import type { EventValidator, SchemaReason } from './ingress-validation.js';
import { LocalRouter } from './local-router.js';
import { isNodeWritten } from './reserved-topics.js';

/** What the node did with one event. Accepted outcomes are shared constants: no allocation per event. */
export type IngestResult =
  | {
      readonly ok: true;
      readonly duplicate: boolean;
      /**
       * Present when the event went into a local stream: the ingress acks
       * only once it resolves, with null (stored) or the refusal to send
       * instead. Absent: nothing to wait for (no promise per event then).
       */
      readonly durable?: Promise<Refusal | null>;
    }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly reasons?: readonly SchemaReason[] };

const ACCEPTED: IngestResult = Object.freeze({ ok: true, duplicate: false });
const DUPLICATE: IngestResult = Object.freeze({ ok: true, duplicate: true });

export interface Refusal {
  readonly code: ErrorCode;
  readonly message: string;
}

/** Where events go beyond this node (the peer mesh); set by the composition root. */
export interface Forwarder {
  /**
   * Called after local delivery; holds the upstream's completion for each
   * link the event waits on. Returns how many destination nodes it took the
   * event for (sent, held, or dropped and counted by the forwarder itself).
   */
  forward(event: MeshEvent, upstream: Upstream | null): number;
  /** The set of local filters may have changed. */
  localInterestChanged(): void;
  /** Filters other nodes want. */
  remoteFilters(): string[];
}

/**
 * Why an accepted (and acked) event reached no subscriber, for
 * `meshgate_events_undelivered_total{reason}`:
 * - `no-interest`: at the node where it entered the mesh, no local
 *   subscriber and no other node wanted it;
 * - `no-subscriber`: it was routed to this node, but no local subscriber
 *   matches it any more (the subscriber left, or this node restarted, while
 *   it was on the way);
 * - `withdrawn`: a transit node dropped a destination whose advertised
 *   interest no longer covers it (one per destination dropped);
 * - `restart`: replayed to this node after it restarted, from before: its
 *   previous instance may have delivered it already (Upstream.inDoubt), so
 *   it is not delivered again (but to streams, which take it again and
 *   whose readers dedup; counted here only when no stream took it). An
 *   upper bound: some of these did arrive.
 */
export type UndeliveredReason = 'no-interest' | 'no-subscriber' | 'withdrawn' | 'restart';

export interface MeshNodeOptions {
  readonly nodeId: string;
  readonly region: string;
  readonly topicLimits: TopicLimits;
  /** Largest event data accepted, bytes. */
  readonly maxEventBytes: number;
  readonly dedup: { readonly windowMs: number; readonly maxEntries: number };
  readonly metrics?: MetricsRegistry;
  /** Clock for hop times; tests inject one. @default Date.now */
  readonly now?: () => number;
  /** Schema check at ingress (see setValidator). @default null: nothing is validated */
  readonly validator?: EventValidator | null;
  /** Records OpenTelemetry spans per event; null or absent: tracing off, at the cost of one branch per event. */
  readonly tracing?: EventTracing | null;
  /**
   * How far (ms) a peer's hybrid logical clock may run ahead of this
   * node's wall clock before the node's clock stops following it (counted
   * in meshgate_hlc_clamped_total). @default 60_000
   */
  readonly hlcMaxAheadMs?: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One counter series per protocol, created up front so the hot path only indexes. */
function countersByProtocol<P extends IngressProtocol>(m: MetricsRegistry, name: string, help: string, protocols: readonly P[]): Record<P, Metric> {
  return Object.fromEntries(protocols.map((protocol) => [protocol, m.counter(name, help, { protocol })])) as Record<P, Metric>;
}

/** Distinct node labels the per-hop latency histograms keep; an authenticated mesh has far fewer nodes. */
const MAX_HOP_LABELS = 1024;

/** Protocols whose events are validated: where an event first enters the mesh from outside. */
type EdgeProtocol = Exclude<IngressProtocol, 'peer' | 'system'>;

/**
 * The path of one event through a node (DESIGN.md):
 *   admit -> dedup -> stamp provenance -> route.
 * Every ingress (WebSocket, bridges, peers) calls `ingest`; nothing else
 * routes events, so each step has one owner.
 */
export class MeshNode {
  readonly nodeId: string;
  readonly region: string;
  readonly metrics: MetricsRegistry;
  readonly #limits: TopicLimits;
  readonly #maxEventBytes: number;
  readonly #dedup: DedupWindow;
  readonly #router = new LocalRouter();
  readonly #now: () => number;
  readonly #in: Record<IngressProtocol, Metric>;
  readonly #deliveries: Metric;
  readonly #duplicates: Metric;
  readonly #undelivered: Record<UndeliveredReason, Metric>;
  readonly #rejected = new Map<ErrorCode, Metric>();
  readonly #invalid: Record<EdgeProtocol, Metric>;
  #validator: EventValidator | null;
  readonly #badTraceparent: Metric;
  readonly #tracing: EventTracing | null;
  /** Stamps `mghlc` on events this node admits; merges its peers' stamps. */
  readonly #clock: HybridClock;
  /** Per previous node: seconds from its hop stamp to ours. */
  readonly #hopLatency = new Map<string, Histogram>();
  /** Per origin node: seconds from the first hop stamp to ours. */
  readonly #transit = new Map<string, Histogram>();
  #forwarder: Forwarder | null = null;
  #durability: DurabilityGate | null = null;
  readonly #interestListeners = new Set<() => void>();
  #interestNotifyScheduled = false;

  constructor(options: MeshNodeOptions) {
    this.nodeId = options.nodeId;
    this.region = options.region;
    this.#limits = options.topicLimits;
    this.#maxEventBytes = options.maxEventBytes;
    this.#dedup = new DedupWindow({ ttlMs: options.dedup.windowMs, maxEntries: options.dedup.maxEntries });
    this.#now = options.now ?? Date.now;
    this.#validator = options.validator ?? null;
    this.#tracing = options.tracing ?? null;
    const m = (this.metrics = options.metrics ?? new MetricsRegistry());
    this.#in = countersByProtocol(m, 'meshgate_events_in_total', 'Events accepted into the node, by ingress protocol (duplicates excluded)', [
      'ws',
      'http',
      'mqtt',
      'amqp',
      'nats',
      'postgres',
      'peer',
      'system',
    ]);
    this.#invalid = countersByProtocol(
      m,
      'meshgate_events_invalid_total',
      'Events refused at ingress because their data does not match the schema bound to them, by ingress protocol (each also sent to _mg.deadletter.<topic>)',
      ['ws', 'http', 'mqtt', 'amqp', 'nats', 'postgres'],
    );
    this.#deliveries = m.counter('meshgate_deliveries_total', 'Events handed to local subscribers (one per subscriber)');
    this.#badTraceparent = m.counter(
      'meshgate_traceparent_invalid_total',
      'Events whose producer-set traceparent was malformed: dropped, and a new trace started',
    );
    this.#duplicates = m.counter('meshgate_events_duplicate_total', 'Events dropped because their (topic, source, id) was seen within the dedup window');
    const undeliveredHelp =
      'Events accepted and acked that reached no subscriber because nobody wanted them any more, by reason (no-interest, no-subscriber, withdrawn, restart)';
    this.#undelivered = {
      'no-interest': m.counter('meshgate_events_undelivered_total', undeliveredHelp, { reason: 'no-interest' }),
      'no-subscriber': m.counter('meshgate_events_undelivered_total', undeliveredHelp, { reason: 'no-subscriber' }),
      withdrawn: m.counter('meshgate_events_undelivered_total', undeliveredHelp, { reason: 'withdrawn' }),
      restart: m.counter('meshgate_events_undelivered_total', undeliveredHelp, { reason: 'restart' }),
    };
    const clamped = m.counter(
      'meshgate_hlc_clamped_total',
      "Peer events whose hybrid logical clock stamp ran further ahead of this node's wall clock than hlcMaxAheadMs: the node's clock followed only up to the bound",
    );
    this.#clock = new HybridClock({ now: this.#now, maxAheadMs: options.hlcMaxAheadMs, onClamp: () => clamped.inc() });
    m.gaugeFn('meshgate_subscriptions', 'Local (filter, subscriber) pairs', () => this.#router.size);
    m.gaugeFn('meshgate_dedup_entries', 'Entries held in the dedup window', () => this.#dedup.size);
  }

  /** The node's span recorder, for egress (peer links, bridges) to add send spans; null when tracing is off. */
  get tracing(): EventTracing | null {
    return this.#tracing;
  }

  /** Sets the schema check run at ingress (null: none); the composition root wires the node's registry. */
  setValidator(validator: EventValidator | null): void {
    this.#validator = validator;
  }

  /** Connects the local stores whose appends an ack must wait for (the node's streams); see durability.ts. */
  setDurability(gate: DurabilityGate | null): void {
    this.#durability = gate;
  }

  /** Connects the peer mesh (or anything else that carries events beyond this node). */
  setForwarder(forwarder: Forwarder): void {
    this.#forwarder = forwarder;
  }

  /**
   * Calls `listener` (at most once per loop turn) whenever the set of
   * filters someone in the mesh wants may have changed: a local
   * subscribe/unsubscribe or a peer's interest advert. Returns an unsubscribe.
   */
  onInterestChange(listener: () => void): () => void {
    this.#interestListeners.add(listener);
    return () => this.#interestListeners.delete(listener);
  }

  /** Notifies interest listeners; the peer mesh calls it when remote interest changes. */
  interestChanged(): void {
    if (this.#interestNotifyScheduled || this.#interestListeners.size === 0) return;
    this.#interestNotifyScheduled = true;
    setImmediate(() => {
      this.#interestNotifyScheduled = false;
      for (const l of this.#interestListeners) l();
    });
  }

  /**
   * Every filter someone wants: local subscribers' and other nodes'. A
   * bridge passes itself as `exclude` so its own export subscriptions do
   * not count as demand for its imports.
   */
  wantedFilters(exclude?: Subscriber): string[] {
    const wanted = new Set(this.#router.filters(exclude));
    for (const f of this.#forwarder?.remoteFilters() ?? []) wanted.add(f);
    return [...wanted];
  }

  /** Counts a refusal by its code; every ingress reports its refusals here. */
  reject(code: ErrorCode, message: string): IngestResult {
    let metric = this.#rejected.get(code);
    if (metric === undefined) {
      metric = this.metrics.counter('meshgate_events_rejected_total', 'Events and requests refused, by error code', { code });
      this.#rejected.set(code, metric);
    }
    metric.inc();
    return { ok: false, code, message };
  }

  /** Counts an accepted event that reaches no subscriber (see UndeliveredReason); the peer mesh reports `withdrawn` here. */
  undelivered(reason: UndeliveredReason): void {
    this.#undelivered[reason].inc();
  }

  /** Checks a concrete topic against the syntax and the configured limits. */
  checkTopic(topic: string): Refusal | null {
    return checkTopic(topic, this.#limits);
  }

  checkFilter(filter: string): Refusal | null {
    return checkFilter(filter, this.#limits);
  }

  /** The node's hybrid logical clock (read by tests and the stats). */
  get clock(): HybridClock {
    return this.#clock;
  }

  /**
   * Runs one event through the pipeline. `event.hops`, `event.origin` and
   * `event.hlc` must already be cleared by the ingress decoder unless the event comes
   * from a peer (provenance is written by the mesh only).
   */
  ingest(event: MeshEvent, protocol: IngressProtocol, originalTopic: string = event.topic, upstream: Upstream | null = null): IngestResult {
    const topicProblem = checkTopic(event.topic, this.#limits);
    if (topicProblem !== null) return this.reject(topicProblem.code, topicProblem.message);
    // Dead letters and system events are the node's own (reserved-topics.ts): refused
    // from every client ingress, auth on or off; peers and the node itself pass.
    if (protocol !== 'peer' && protocol !== 'system' && isNodeWritten(event.topic)) {
      return this.reject(
        'MG_ERR_TOPIC_RESERVED',
        `${event.topic} is written only by meshgate nodes (_mg.deadletter.>, _mg.sys.>); subscribe to it, do not publish`,
      );
    }
    const size = event.data === undefined ? 0 : event.data.byteLength;
    if (size > this.#maxEventBytes) {
      return this.reject('MG_ERR_EVENT_TOO_LARGE', `event data is ${size} bytes; the limit is ${this.#maxEventBytes}`);
    }
    // First node only: a peer's event was validated where it entered (its
    // provenance stamp says so), and the node's own events need no check.
    if (this.#validator !== null && protocol !== 'peer' && protocol !== 'system') {
      const reasons = this.#validator.check(event);
      if (reasons !== null) return this.#refuseInvalid(event, protocol, reasons);
    }
    if (protocol !== 'peer' && event.traceparent !== undefined && !isValidTraceparent(event.traceparent)) {
      // A malformed creation context never blocks the event: it is dropped,
      // counted, and the event starts a new trace (when tracing is on).
      this.#badTraceparent.inc();
      event = { ...event, traceparent: undefined, tracestate: undefined };
    }
    // Scoped by topic (dedup.ts): a producer cannot suppress an event on a topic it may not publish.
    const duplicate = this.#dedup.isDuplicate(event.topic, event.source, event.id);
    if (duplicate) {
      this.#duplicates.inc();
      // A producer retry stops here. A copy from a peer still goes on to the
      // destinations its sender named: this node may lie on their path even
      // though its own subscribers already had the event.
      if (upstream === null) return DUPLICATE;
    }
    const tracing = this.#tracing;
    // A node's own events (mesh views) start no traces of their own; a dead
    // letter carries its original's context and is traced in that trace.
    const receive =
      tracing === null || duplicate || (protocol === 'system' && event.traceparent === undefined) ? null : tracing.receive(event, protocol, upstream?.parent);
    const hop = { node: this.nodeId, region: this.region, time: this.#now() };
    // The first node stamps origin and clock (a producer's values were dropped
    // by its decoder); a later node merges the stamp into its own clock, so the
    // events it admits next order after everything it has seen.
    let stamped: Mutable<MeshEvent>;
    if (protocol === 'peer') {
      stamped = { ...event, hops: [...event.hops, hop] };
      if (event.hlc !== undefined) this.#clock.merge(event.hlc);
    } else stamped = { ...event, origin: { node: this.nodeId, protocol, topic: originalTopic }, hlc: this.#clock.tick(), hops: [hop] };
    if (receive !== null) {
      // Set on the fresh copy rather than spread again: this runs per event.
      stamped.traceparent = receive.traceparent;
      if (receive.hop !== undefined) stamped.hopTrace = receive.hop;
    }
    let deliveries = 0;
    let stored: Promise<Refusal | null> | Refusal | null = null;
    if (!duplicate) {
      this.#in[protocol].inc();
      // In doubt (replayed from before this node restarted): at most once to
      // live subscribers, but to streams again, which readers dedup: a stream
      // whose entry died with the previous instance would otherwise lose it.
      deliveries = this.#router.route(stamped, upstream?.inDoubt === true);
      // Streams are subscribers: only a delivered event can have been appended.
      if (deliveries > 0 && this.#durability !== null) stored = this.#durability.take();
      this.#deliveries.inc(deliveries);
      if (deliveries > 0 && receive?.hop !== undefined) tracing!.process(receive.hop, stamped, deliveries);
      if (protocol === 'peer') this.#observeHops(event.hops, hop.time);
    }
    const onward = this.#forwarder?.forward(stamped, upstream) ?? 0;
    // Acked but delivered to nobody is counted, never silent: at its first
    // node when nobody anywhere wants it, at a node it was routed to when
    // that node's subscribers are gone (a restart, an unsubscribe on the way).
    if (!duplicate && deliveries === 0) {
      if (upstream === null) {
        if (onward === 0) this.#undelivered['no-interest'].inc();
      } else if (upstream.dests.includes(this.nodeId)) this.#undelivered[upstream.inDoubt === true ? 'restart' : 'no-subscriber'].inc();
    }
    receive?.span?.end();
    if (stored === null) return duplicate ? DUPLICATE : ACCEPTED;
    if (!(stored instanceof Promise)) {
      // Refused by a stream: the producer is told so and may retry, so the
      // retry must not be dropped as a duplicate of what was not stored.
      this.#dedup.forgetNewest();
      return this.reject(stored.code, stored.message);
    }
    // A commit that fails refuses the event after all: its key is forgotten
    // so the producer's retry is stored, not dropped as a duplicate.
    const { topic } = stamped;
    const { source, id } = event;
    const durable = stored.then((refusal) => {
      if (refusal !== null) this.#dedup.forget(topic, source, id);
      return refusal;
    });
    // A peer's ack (its completion) waits for the commit as it waits for the links.
    if (upstream !== null) {
      upstream.completion.hold();
      void durable.then(() => upstream.completion.release());
    }
    return { ok: true, duplicate: false, durable };
  }

  /**
   * Per-hop latency from provenance: the time from the previous node's hop
   * stamp to ours, and from the first stamp (the origin) to ours. Clocks
   * on two machines differ, so cross-machine figures carry their skew;
   * a negative difference lands in the lowest bucket.
   */
  #observeHops(previous: readonly Hop[], now: number): void {
    if (previous.length === 0) return;
    const last = previous[previous.length - 1];
    const first = previous[0];
    this.#histogramFor(
      this.#hopLatency,
      last.node,
      'meshgate_hop_latency_seconds',
      'Seconds from the previous node accepting an event to this node accepting it, by previous node (from the hop path)',
      'from',
    ).observe(Math.max(0, now - last.time) / 1000);
    this.#histogramFor(
      this.#transit,
      first.node,
      'meshgate_transit_seconds',
      'Seconds from the origin node accepting an event to this node accepting it, by origin node (from the hop path)',
      'origin',
    ).observe(Math.max(0, now - first.time) / 1000);
  }

  #histogramFor(map: Map<string, Histogram>, node: string, name: string, help: string, label: string): Histogram {
    let h = map.get(node);
    if (h !== undefined) return h;
    if (map.size >= MAX_HOP_LABELS) return this.metrics.histogram(name, help, { [label]: '_other' });
    h = this.metrics.histogram(name, help, { [label]: node });
    map.set(node, h);
    return h;
  }

  /**
   * Counts an invalid event, publishes its dead letter through the normal
   * pipeline (as 'system': routed to dead-letter subscribers anywhere in
   * the mesh, deduplicated so a retry of the same event makes one letter)
   * and returns the refusal with the reasons for protocols that can carry them.
   */
  #refuseInvalid(event: MeshEvent, protocol: EdgeProtocol, reasons: readonly SchemaReason[]): IngestResult {
    this.#invalid[protocol].inc();
    this.publishDeadLetter(event, reasons);
    const first = reasons[0];
    const more = reasons.length > 1 ? ` (+${reasons.length - 1} more)` : '';
    const message = `data does not match its schema: ${first.path === '' ? '' : `${first.path}: `}${first.message}${more}`;
    this.reject('MG_ERR_EVENT_SCHEMA', message);
    return { ok: false, code: 'MG_ERR_EVENT_SCHEMA', message, reasons };
  }

  /**
   * Publishes the dead letter of `event`, refused for `reasons`, as this
   * node (`_mg.deadletter.<topic>`, deduplicated per original event): for
   * refusals after the mesh accepted an event (a database sink's target
   * refusing a change, a webhook target refusing it). Null when no
   * dead-letter topic fits the limits.
   */
  publishDeadLetter(event: MeshEvent, reasons: readonly SchemaReason[]): IngestResult | null {
    const topic = deadLetterTopic(event.topic, (t) => checkTopic(t, this.#limits) === null);
    if (topic === null) return null;
    return this.ingest(deadLetter(event, reasons, { nodeId: this.nodeId, topic, maxDataBytes: this.#maxEventBytes, now: this.#now }), 'system');
  }

  /** Adds a local subscription; the filter is checked here so every ingress gets the same rules. */
  subscribe(filter: string, subscriber: Subscriber): Refusal | null {
    const problem = checkFilter(filter, this.#limits);
    if (problem !== null) {
      this.reject(problem.code, problem.message);
      return problem;
    }
    if (this.#router.add(filter, subscriber)) {
      this.#forwarder?.localInterestChanged();
      this.interestChanged();
    }
    return null;
  }

  unsubscribe(filter: string, subscriber: Subscriber): boolean {
    const removed = this.#router.remove(filter, subscriber);
    if (removed) {
      this.#forwarder?.localInterestChanged();
      this.interestChanged();
    }
    return removed;
  }

  /** Distinct filters local subscribers hold (interest, for peers and bridges). */
  localFilters(): string[] {
    return this.#router.filters();
  }

  /**
   * Marks (topic, source, id) as seen, as if just ingested. A restarted node
   * seeds its window from the newest entries of its streams (StreamManager
   * seedDedup), so a peer's replay of an event the previous instance stored
   * but had not acked yet is dropped as the duplicate it is, not stored twice.
   */
  rememberSeen(topic: string, source: string, id: string): void {
    this.#dedup.isDuplicate(topic, source, id);
  }

  dedupStats(): ReturnType<DedupWindow['stats']> {
    return this.#dedup.stats();
  }
}
