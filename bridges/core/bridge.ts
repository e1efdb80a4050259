import type { EgressFormat, EventDecodeResult, MeshEvent, MeshNode, Metric, Subscriber } from '../../broker/mod.js';
import { endSpan, MeshError } from '../../broker/mod.js';
import { intersectFilters, minimalCover, TopicError } from '../../routing/mod.js';
import { Backoff } from './backoff.js';
import type { BridgeContext, BrokerClient, ImportOutcome, ReceivedMessage } from './broker-client.js';
import type { BridgeSpec } from './config.js';
import { plainEvent } from './plain-event.js';
import type { TopicDialect } from './topic-dialect.js';

/** Connection state shown in /v1/bridges. */
export type BridgeState = 'connecting' | 'up' | 'down' | 'closed';

const EMPTY = new Uint8Array(0);
/**
 * Bridges encode per binding in `deliver` (headers, properties), so the
 * router's shared frame is unused: this format costs nothing to "encode".
 */
const BRIDGE_FORMAT: EgressFormat = Object.freeze({ name: 'bridge', binary: true, encode: () => EMPTY, batch: null });

/** An export waiting for the broker: broker topic, event, and whether a send of it has already failed. */
type HeldExport = [topic: string, event: MeshEvent, failedBefore: boolean];

const ACCEPTED: ImportOutcome = Object.freeze({ ok: true, duplicate: false });
const DUPLICATE: ImportOutcome = Object.freeze({ ok: true, duplicate: true });

/**
 * One bridge: a broker client plus everything the three protocols share.
 *
 * ```
 *  broker --message--> client.decode --importMessage--> map topic -> node.ingest -> ack upstream
 *  node --deliver--> loop guard -> map topic -> client.publish (held while down: MQTT, AMQP)
 *                                                  |-- MeshError: refused, counted, never sent again
 *                                                  '-- other error: held, sent again after a backoff pause
 *  node.onInterestChange -> wanted ∩ import mappings -> minimal cover -> client.(un)subscribe
 * ```
 */
export class Bridge implements Subscriber {
  readonly format = BRIDGE_FORMAT;
  readonly spec: BridgeSpec;
  readonly #node: MeshNode;
  readonly #dialect: TopicDialect;
  readonly #client: BrokerClient;
  readonly #log: (line: string) => void;
  /** Reconnect delays. */
  readonly #backoff: Backoff;
  /** Delays before held exports are sent again after a failed send; reset once a failed export is sent or refused. */
  readonly #resendBackoff: Backoff;
  #state: BridgeState = 'connecting';
  #lastError: string | null = null;
  /** Why the last message was refused (either way): the broker's reason for an export, which no client hears of otherwise. */
  #lastRefusal: string | null = null;
  #closed = false;
  #everUp = false;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #resendTimer: NodeJS.Timeout | null = null;
  #offInterest: (() => void) | null = null;
  /** Broker filters wanted upstream now. */
  #desired = new Set<string>();
  /** Broker filters subscribed (or possibly still subscribed after an outage). */
  readonly #subscribed = new Set<string>();
  #resubscribeAll = false;
  #syncing: Promise<void> | null = null;
  #syncAgain = false;
  /** Exports waiting for the broker, in the order they are to be sent. */
  #pending: HeldExport[] = [];
  readonly #c: {
    imported: Metric;
    duplicates: Metric;
    exported: Metric;
    skipped: Metric;
    reconnects: Metric;
    lost: Metric;
    dropped: Metric;
    retries: Metric;
    up: Metric;
    subscriptions: Metric;
    pending: Metric;
  };
  readonly #refused = new Map<string, Metric>();
  readonly #ctx: BridgeContext;

  constructor(node: MeshNode, spec: BridgeSpec, dialect: TopicDialect, makeClient: (ctx: BridgeContext) => BrokerClient, log: (line: string) => void) {
    this.#node = node;
    this.spec = spec;
    this.#dialect = dialect;
    this.#log = log;
    this.#backoff = new Backoff(spec.backoffMinMs, spec.backoffMaxMs);
    this.#resendBackoff = new Backoff(spec.backoffMinMs, spec.backoffMaxMs);
    const m = node.metrics;
    const l = { bridge: spec.name };
    this.#c = {
      imported: m.counter('meshgate_bridge_imported_total', 'Events a bridge brought into the mesh (duplicates excluded)', l),
      duplicates: m.counter('meshgate_bridge_duplicates_total', 'Imported messages the mesh already had, by (source, id)', l),
      exported: m.counter('meshgate_bridge_exported_total', 'Events a bridge handed to its broker (acknowledged by it for MQTT QoS 1 and AMQP)', l),
      skipped: m.counter('meshgate_bridge_loop_skipped_total', 'Events not exported because they came from the same broker (loop guard)', l),
      reconnects: m.counter('meshgate_bridge_reconnects_total', 'Connections re-established after a loss', l),
      lost: m.counter('meshgate_bridge_lost_total', 'Exported events known lost (NATS core: sent during or just before an outage)', l),
      dropped: m.counter('meshgate_bridge_dropped_total', 'Exports dropped because more than maxPendingExports were waiting for the broker', l),
      retries: m.counter(
        'meshgate_bridge_export_retries_total',
        'Export sends that failed for a reason that may pass (connection loss, broker nack, unclassified error): the event is held and sent again',
        l,
      ),
      up: m.gauge('meshgate_bridge_up', '1 while the bridge is connected to its broker', l),
      subscriptions: m.gauge('meshgate_bridge_subscriptions', 'Upstream subscriptions (filters or bindings) the bridge holds', l),
      pending: m.gauge('meshgate_bridge_pending_exports', 'Exports waiting for the broker to come back', l),
    };
    this.#ctx = {
      spec,
      dialect,
      importMessage: (msg, decode) => this.#import(msg, decode),
      lost: (n) => this.#c.lost.inc(n),
      log,
    };
    this.#client = makeClient(this.#ctx);
  }

  /** Subscribes the export mappings, starts interest tracking and connects; resolves after the first attempt. */
  async start(): Promise<void> {
    for (const m of this.spec.exports) {
      const problem = this.#node.subscribe(m.meshFilter, this);
      if (problem !== null) this.#log(`bridge ${this.spec.name}: export ${m.meshFilter} refused: ${problem.message}`);
    }
    this.#offInterest = this.#node.onInterestChange(() => this.#recomputeInterest());
    this.#recomputeInterest();
    await this.#connect();
  }

  get state(): BridgeState {
    return this.#state;
  }

  /** The /v1/bridges row. */
  status(): Record<string, unknown> {
    const refused: Record<string, number> = {};
    for (const [code, metric] of this.#refused) refused[code] = metric.value;
    return {
      name: this.spec.name,
      type: this.spec.type,
      url: this.spec.displayUrl,
      broker: this.spec.brokerId,
      state: this.#state,
      lastError: this.#lastError,
      subscriptions: [...this.#subscribed].sort(),
      imported: this.#c.imported.value,
      duplicates: this.#c.duplicates.value,
      exported: this.#c.exported.value,
      loopSkipped: this.#c.skipped.value,
      refused,
      lastRefusal: this.#lastRefusal,
      reconnects: this.#c.reconnects.value,
      lost: this.#c.lost.value,
      dropped: this.#c.dropped.value,
      retries: this.#c.retries.value,
      pending: this.#pending.length,
      inFlight: this.#client.inFlight(),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#setState('closed');
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#cancelResend();
    this.#offInterest?.();
    for (const m of this.spec.exports) this.#node.unsubscribe(m.meshFilter, this);
    // Client first: a (un)subscribe waiting on a silent broker then fails at once instead of holding close() up.
    await this.#client.close().catch(() => undefined);
    await this.#syncing?.catch(() => undefined);
  }

  // --- connection ---------------------------------------------------------

  async #connect(): Promise<void> {
    if (this.#closed) return;
    this.#setState('connecting');
    try {
      await this.#client.connect((err) => this.#onLost(err));
    } catch (err) {
      this.#lastError = (err as Error).message;
      this.#setState('down');
      this.#scheduleReconnect();
      return;
    }
    if (this.#closed) {
      // close() ran while this attempt was in flight: the client may only now hold a connection.
      await this.#client.close().catch(() => undefined);
      return;
    }
    this.#backoff.reset();
    if (this.#everUp) {
      this.#c.reconnects.inc();
      this.#log(`bridge ${this.spec.name}: reconnected to ${this.spec.displayUrl}`);
    }
    this.#everUp = true;
    this.#lastError = null;
    this.#resubscribeAll = true;
    this.#setState('up');
    // A fresh connection is a reason to try at once: a paced resend still waiting is folded into this drain.
    this.#cancelResend();
    this.#drainPending();
    await this.#sync();
  }

  #onLost(err: Error): void {
    if (this.#closed || this.#state !== 'up') return;
    this.#lastError = err.message;
    this.#log(`bridge ${this.spec.name}: lost ${this.spec.displayUrl}: ${err.message}`);
    this.#setState('down');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer !== null) return;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      void this.#connect();
    }, this.#backoff.next());
  }

  #setState(state: BridgeState): void {
    this.#state = state;
    this.#c.up.set(state === 'up' ? 1 : 0);
  }

  // --- interest-driven import -------------------------------------------

  /** Upstream filters = minimal cover of (what the mesh wants ∩ each import mapping), plus `always` imports. */
  #recomputeInterest(): void {
    if (this.#closed) return;
    const wanted = this.#node.wantedFilters(this);
    const brokerSide = new Set<string>();
    for (const { mapping, always } of this.spec.imports) {
      if (always) {
        brokerSide.add(mapping.brokerFilter);
        continue;
      }
      for (const w of wanted) {
        const both = intersectFilters(w, mapping.meshFilter);
        if (both !== null) brokerSide.add(mapping.filterToBroker(both));
      }
    }
    const desired = new Set<string>();
    for (const f of minimalCover(brokerSide)) {
      try {
        desired.add(this.#dialect.filterFromMesh(f));
      } catch (err) {
        if (!(err instanceof TopicError)) throw err;
        this.#refuse(err.code, `import filter ${f}: ${err.message}`);
      }
    }
    this.#desired = desired;
    if (this.#state === 'up') void this.#sync();
  }

  /** Brings upstream subscriptions in line with #desired; one pass at a time, repeated while interest moved meanwhile. */
  #sync(): Promise<void> {
    if (this.#syncing !== null) {
      this.#syncAgain = true;
      return this.#syncing;
    }
    this.#syncing = (async () => {
      do {
        this.#syncAgain = false;
        const all = this.#resubscribeAll;
        this.#resubscribeAll = false;
        try {
          for (const f of this.#desired) {
            if (this.#state !== 'up') return;
            if (!all && this.#subscribed.has(f)) continue;
            await this.#client.subscribe(f);
            this.#subscribed.add(f);
          }
          for (const f of [...this.#subscribed]) {
            if (this.#state !== 'up') return;
            if (this.#desired.has(f)) continue;
            await this.#client.unsubscribe(f);
            this.#subscribed.delete(f);
          }
        } catch (err) {
          // The connection is going down; the reconnect resubscribes everything.
          this.#resubscribeAll = true;
          this.#lastError = (err as Error).message;
          return;
        } finally {
          this.#c.subscriptions.set(this.#subscribed.size);
        }
      } while (this.#syncAgain && !this.#closed);
    })().finally(() => {
      this.#syncing = null;
    });
    return this.#syncing;
  }

  /** Resolves once upstream subscriptions match current interest (tests, start-up). */
  async settled(): Promise<void> {
    while (this.#syncing !== null) await this.#syncing;
  }

  /** Upstream filters currently subscribed. */
  subscriptions(): string[] {
    return [...this.#subscribed].sort();
  }

  // --- import -------------------------------------------------------------

  #import(msg: ReceivedMessage, decode: (meshTopic: string) => EventDecodeResult | null): ImportOutcome {
    const spec = this.spec;
    let meshTopic: string | null = null;
    try {
      const meshSide = this.#dialect.topicToMesh(msg.brokerTopic);
      for (const { mapping } of spec.imports) {
        meshTopic = mapping.toMesh(meshSide);
        if (meshTopic !== null) break;
      }
    } catch (err) {
      if (!(err instanceof TopicError)) throw err;
      return this.#refuse(err.code, err.message);
    }
    if (meshTopic === null) return this.#refuse('MG_ERR_TOPIC_INVALID', `topic ${JSON.stringify(msg.brokerTopic)} is outside every import mapping`);
    const decoded = decode(meshTopic);
    let event: MeshEvent;
    if (decoded === null) {
      event = plainEvent(spec.type, spec.brokerId, msg.brokerTopic, this.#dialect.separator, meshTopic, msg.payload, msg.contentType, msg.stableKey);
    } else if (!decoded.ok) {
      return this.#refuse('MG_ERR_EVENT_INVALID', `${decoded.problem.attribute}: ${decoded.problem.reason}`);
    } else event = decoded.event;
    // The origin topic names the broker too: the loop guard below, on every node, recognises events from this broker.
    const result = this.#node.ingest(event, spec.type, `${spec.brokerId}/${msg.brokerTopic}`);
    if (!result.ok) {
      this.#lastRefusal = `${result.code}: ${result.message}`;
      this.#countRefused(result.code);
      return result;
    }
    if (result.duplicate) {
      this.#c.duplicates.inc();
      return DUPLICATE;
    }
    const durable = result.durable;
    if (durable === undefined) {
      this.#c.imported.inc();
      return ACCEPTED;
    }
    // In a local stream: counted imported once stored, refused if its commit failed; the client acks on this.
    return {
      ok: true,
      duplicate: false,
      durable: durable.then((refusal) => {
        if (refusal === null) this.#c.imported.inc();
        else {
          this.#lastRefusal = `${refusal.code}: ${refusal.message}`;
          this.#countRefused(refusal.code);
        }
        return refusal;
      }),
    };
  }

  #refuse(code: string, message: string): ImportOutcome {
    this.#node.reject(code as Parameters<MeshNode['reject']>[0], `bridge ${this.spec.name}: ${message}`);
    this.#lastRefusal = `${code}: ${message}`;
    this.#countRefused(code);
    return { ok: false, code, message };
  }

  #countRefused(code: string): void {
    let metric = this.#refused.get(code);
    if (metric === undefined) {
      metric = this.#node.metrics.counter('meshgate_bridge_refused_total', 'Messages a bridge could not carry, by error code', {
        bridge: this.spec.name,
        code,
      });
      this.#refused.set(code, metric);
    }
    metric.inc();
  }

  // --- export (Subscriber) ----------------------------------------------

  /** Called by the node's router; never throws, never blocks. */
  deliver(_frame: Uint8Array, event: MeshEvent): void {
    const origin = event.origin;
    // Loop guard: an event that entered the mesh from this broker (through this bridge, or another node's bridge to it) never goes back.
    if (origin !== undefined && origin.protocol === this.spec.type && origin.topic.startsWith(this.spec.brokerId + '/')) {
      this.#c.skipped.inc();
      return;
    }
    let topic: string | null = null;
    try {
      for (const m of this.spec.exports) {
        const brokerSide = m.toBroker(event.topic);
        if (brokerSide !== null) {
          topic = this.#dialect.topicFromMesh(brokerSide);
          break;
        }
      }
    } catch (err) {
      if (!(err instanceof TopicError)) {
        this.#refuse('MG_ERR_INTERNAL', (err as Error).message);
        return;
      }
      this.#refuse(err.code, `export of ${event.topic}: ${err.message}`);
      return;
    }
    if (topic === null) return;
    if (this.#state === 'up' && this.#pending.length === 0) this.#send(topic, event, false);
    else this.#hold([topic, event, false]);
  }

  #send(topic: string, event: MeshEvent, failedBefore: boolean): void {
    // A send span per attempt, ended when the broker has the event (or did not take it).
    const span = event.hopTrace === undefined ? null : this.#node.tracing!.send(event.hopTrace, event, { system: this.#client.messagingSystem, name: topic });
    this.#client.publish(topic, event, (err) => {
      if (span !== null) endSpan(span, err);
      if (err === undefined || err instanceof MeshError) {
        if (err === undefined) this.#c.exported.inc();
        // A MeshError: the broker (or the client for it) can never take this event as it is; sending it again would only fail again.
        else this.#refuse(err.code, `export of ${event.topic} to ${topic}: ${err.message}`);
        // An export that had failed is settled: the next failure starts the pacing afresh. (Another event's success says
        // nothing: events held behind a failing one go out with it on every resend.)
        if (failedBefore) this.#resendBackoff.reset();
      } else if (this.#hold([topic, event, true])) {
        this.#c.retries.inc();
        this.#scheduleResend(topic, err);
      }
    });
  }

  /** Keeps one export for later; false when it is counted lost (NATS core) or dropped (queue full) instead. */
  #hold(held: HeldExport): boolean {
    if (!this.#client.holdsWhileDown) {
      this.#c.lost.inc();
      return false;
    }
    if (this.#pending.length >= this.spec.maxPendingExports) {
      this.#c.dropped.inc();
      return false;
    }
    this.#pending.push(held);
    this.#c.pending.set(this.#pending.length);
    return true;
  }

  /**
   * After a send failed while the bridge is up, the held exports go again
   * after a backoff pause, never in the same turn. An error that does not
   * pass and that no client classifies as a refusal would otherwise loop
   * publish -> fail -> publish: once per broker round trip (an MQTT PUBACK
   * or AMQP nack refusal), or as a microtask loop that starves the event
   * loop (a client that fails synchronously). While the bridge is not up,
   * the reconnect sends them instead.
   */
  #scheduleResend(topic: string, err: Error): void {
    if (this.#state !== 'up' || this.#resendTimer !== null) return;
    const delay = this.#resendBackoff.next();
    this.#lastError = `export to ${topic}: ${err.message}`;
    this.#log(`bridge ${this.spec.name}: export to ${topic} failed (${err.message}); sending ${this.#pending.length} held export(s) again in ${delay} ms`);
    this.#resendTimer = setTimeout(() => {
      this.#resendTimer = null;
      if (this.#state === 'up') this.#drainPending();
    }, delay);
  }

  #cancelResend(): void {
    if (this.#resendTimer === null) return;
    clearTimeout(this.#resendTimer);
    this.#resendTimer = null;
  }

  /**
   * Sends the held exports, oldest first (a new export waits behind held
   * ones: `deliver` holds it while any are pending). Called when the bridge
   * comes up and when a paced resend is due. A send that fails at once
   * (held again, next resend paced) stops the batch there, so the rest
   * stay behind it in order. A failure that comes back after a round trip
   * (PUBACK, nack) cannot keep order: exports sent meanwhile are already
   * ahead of it, as with any at-least-once resend.
   */
  #drainPending(): void {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    for (let i = 0; i < batch.length; i++) {
      if (this.#state !== 'up') {
        this.#pending = this.#pending.concat(batch.slice(i));
        break;
      }
      const [topic, event, failedBefore] = batch[i];
      this.#send(topic, event, failedBefore);
      if (this.#pending.length > 0) {
        // It failed at once and was held again: the rest wait behind it, in order.
        this.#pending = this.#pending.concat(batch.slice(i + 1));
        break;
      }
    }
    this.#c.pending.set(this.#pending.length);
  }
}
