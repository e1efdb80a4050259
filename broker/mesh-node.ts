import { checkFilter, checkTopic, type TopicLimits } from '../routing/mod.js';
import { DedupWindow } from './dedup.js';
import type { Upstream } from './completion.js';
import type { ErrorCode } from './errors.js';
import type { IngressProtocol, MeshEvent } from './event.js';
import type { Subscriber } from './egress.js';
import { LocalRouter } from './local-router.js';
import { MetricsRegistry, type Metric } from './metrics.js';

/** What the node did with one event. Accepted outcomes are shared constants: no allocation per event. */
export type IngestResult =
  | { readonly ok: true; readonly duplicate: boolean }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

const ACCEPTED: IngestResult = Object.freeze({ ok: true, duplicate: false });
const DUPLICATE: IngestResult = Object.freeze({ ok: true, duplicate: true });

export interface Refusal { readonly code: ErrorCode; readonly message: string }

/** Where events go beyond this node (the peer mesh); set by the composition root. */
export interface Forwarder {
  /** Called after local delivery; holds the upstream's completion for each link the event waits on. */
  forward(event: MeshEvent, upstream: Upstream | null): void;
  /** The set of local filters may have changed. */
  localInterestChanged(): void;
  /** Filters other nodes want. */
  remoteFilters(): string[];
}

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
}

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
  readonly #rejected = new Map<ErrorCode, Metric>();
  #forwarder: Forwarder | null = null;
  readonly #interestListeners = new Set<() => void>();
  #interestNotifyScheduled = false;

  constructor(options: MeshNodeOptions) {
    this.nodeId = options.nodeId;
    this.region = options.region;
    this.#limits = options.topicLimits;
    this.#maxEventBytes = options.maxEventBytes;
    this.#dedup = new DedupWindow({ ttlMs: options.dedup.windowMs, maxEntries: options.dedup.maxEntries });
    this.#now = options.now ?? Date.now;
    const m = (this.metrics = options.metrics ?? new MetricsRegistry());
    const inHelp = 'Events accepted into the node, by ingress protocol (duplicates excluded)';
    this.#in = {
      ws: m.counter('meshgate_events_in_total', inHelp, { protocol: 'ws' }),
      mqtt: m.counter('meshgate_events_in_total', inHelp, { protocol: 'mqtt' }),
      amqp: m.counter('meshgate_events_in_total', inHelp, { protocol: 'amqp' }),
      nats: m.counter('meshgate_events_in_total', inHelp, { protocol: 'nats' }),
      peer: m.counter('meshgate_events_in_total', inHelp, { protocol: 'peer' }),
      system: m.counter('meshgate_events_in_total', inHelp, { protocol: 'system' }),
    };
    this.#deliveries = m.counter('meshgate_deliveries_total', 'Events handed to local subscribers (one per subscriber)');
    this.#duplicates = m.counter('meshgate_events_duplicate_total', 'Events dropped because their (source, id) was seen within the dedup window');
    m.gaugeFn('meshgate_subscriptions', 'Local (filter, subscriber) pairs', () => this.#router.size);
    m.gaugeFn('meshgate_dedup_entries', 'Entries held in the dedup window', () => this.#dedup.size);
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

  /** Checks a concrete topic against the syntax and the configured limits. */
  checkTopic(topic: string): Refusal | null {
    return checkTopic(topic, this.#limits);
  }

  checkFilter(filter: string): Refusal | null {
    return checkFilter(filter, this.#limits);
  }

  /**
   * Runs one event through the pipeline. `event.hops` and `event.origin`
   * must already be cleared by the ingress decoder unless the event comes
   * from a peer (provenance is written by the mesh only).
   */
  ingest(event: MeshEvent, protocol: IngressProtocol, originalTopic: string = event.topic, upstream: Upstream | null = null): IngestResult {
    const topicProblem = checkTopic(event.topic, this.#limits);
    if (topicProblem !== null) return this.reject(topicProblem.code, topicProblem.message);
    const size = event.data === undefined ? 0 : event.data.byteLength;
    if (size > this.#maxEventBytes) {
      return this.reject('MG_ERR_EVENT_TOO_LARGE', `event data is ${size} bytes; the limit is ${this.#maxEventBytes}`);
    }
    const duplicate = this.#dedup.isDuplicate(event.source, event.id);
    if (duplicate) {
      this.#duplicates.inc();
      // A producer retry stops here. A copy from a peer still goes on to the
      // destinations its sender named: this node may lie on their path even
      // though its own subscribers already had the event.
      if (upstream === null) return DUPLICATE;
    }
    const hop = { node: this.nodeId, region: this.region, time: this.#now() };
    const stamped: MeshEvent =
      protocol === 'peer'
        ? { ...event, hops: [...event.hops, hop] }
        : { ...event, origin: { node: this.nodeId, protocol, topic: originalTopic }, hops: [hop] };
    if (!duplicate) {
      this.#in[protocol].inc();
      this.#deliveries.inc(this.#router.route(stamped));
    }
    this.#forwarder?.forward(stamped, upstream);
    return duplicate ? DUPLICATE : ACCEPTED;
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

  dedupStats(): ReturnType<DedupWindow['stats']> {
    return this.#dedup.stats();
  }
}
