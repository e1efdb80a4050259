/**
 * The node's streams: which events go where, on top of the StreamStore
 * seam. Each stream's filters are interest like any subscription: the
 * manager holds one Subscriber per stream on the MeshNode, so peers
 * forward matching events here, and every matching event is appended once
 * per stream, in arrival order, as it is routed.
 *
 *   MeshNode.ingest ─ route ─> StreamSink.deliver(item) ─ store.append (sync)
 *                 └─ gate.take() ─> store.flushed() ─> ack (pub ok, peer ack)
 *                                                 └─> onAppended listeners
 *
 * What is stored is the event's wire form, the bytes peers exchange
 * (encodePeerEntry: CBOR `[topic, event map]`, provenance included, hop
 * of this node included), behind a one-byte format version:
 *
 *   0        1
 *   ┌────────┬────────────────────────────────────┐
 *   │ 0x01   │ peer entry (cbor-event-writer.ts)  │
 *   └────────┴────────────────────────────────────┘
 *
 * so a replay to a peer sends the bytes as they are, and a later format
 * can be told from this one.
 */
import { Decoder } from 'cbor-x';
import { MeshError, type Metric, type MetricsRegistry } from '../base/mod.js';
import { CBOR_OPTIONS, encodePeerEntry, eventFromMap, type MeshEvent } from '../event/mod.js';
import type { DurabilityGate, EgressFormat, MeshNode, Refusal, Subscriber } from '../pipeline/mod.js';
import type { ConsumerPositionStore } from './consumer-position.js';
import { resolveStreamConfig, sameConfig } from './stream-config.js';
import type { ReadResult, StreamConfig, StreamInfo, StreamStore } from './stream-store.js';

/** The format byte in front of every stored entry. */
export const STORED_FORMAT_V1 = 0x01;

/** The stored form of an event: format byte + peer entry. Encoded once per event for every stream. */
export const STREAM_ENTRY_FORMAT: EgressFormat = Object.freeze({
  name: 'stream-entry-v1',
  binary: true,
  encode(event: MeshEvent): Uint8Array {
    const entry = encodePeerEntry(event); // a view of the writer's slab: copied here
    const out = Buffer.allocUnsafe(entry.length + 1);
    out[0] = STORED_FORMAT_V1;
    out.set(entry, 1);
    return out;
  },
  batch: null,
});

/** The peer entry inside a stored entry (a view, no copy), or null for a format this build does not know. */
export function storedPeerEntry(stored: Uint8Array): Uint8Array | null {
  return stored.length > 1 && stored[0] === STORED_FORMAT_V1 ? stored.subarray(1) : null;
}

const cbor = new Decoder({ ...CBOR_OPTIONS });

/**
 * Decodes stored bytes (StreamEntry.bytes) back to the MeshEvent that was
 * appended, provenance and hops included. null when the bytes are not a
 * stored entry of a known format.
 * @example
 * const r = streams.read('orders', 0, 100);
 * if (r.ok) for (const e of r.entries) console.log(decodeStoredEvent(e.bytes)?.id);
 */
export function decodeStoredEvent(stored: Uint8Array): MeshEvent | null {
  const entry = storedPeerEntry(stored);
  if (entry === null) return null;
  let decoded: unknown;
  try {
    decoded = cbor.decode(entry);
  } catch {
    return null;
  }
  if (!Array.isArray(decoded) || decoded.length !== 2 || typeof decoded[0] !== 'string') return null;
  const r = eventFromMap(decoded[1], decoded[0], { trustProvenance: true });
  return r.ok ? r.event : null;
}

export interface StreamManagerOptions {
  /** The node whose events the streams take (and whose interest they add to). */
  readonly node: MeshNode;
  /**
   * The store, already open; or null to open it on the first create()
   * with `openStore` (a node with no streams writes nothing to disk).
   */
  readonly store: StreamStore | null;
  /** Opens the store when `store` is null. The composition root owns where and how. */
  readonly openStore?: () => StreamStore;
  readonly metrics: MetricsRegistry;
  /** Clock for append times and age retention. @default Date.now */
  readonly now?: () => number;
  /** Longest wait between two age-retention passes, ms. @default 60_000 */
  readonly maxTrimIntervalMs?: number;
}

/** Called after a commit that stored entries of the stream, with its newest committed offset. Must not throw. */
export type AppendedListener = (last: number) => void;

interface Group {
  readonly raw: Promise<void>;
  readonly mapped: Promise<Refusal | null>;
  readonly names: Set<string>;
}

/** One stream as a node subscriber. */
class StreamSink implements Subscriber {
  readonly format = STREAM_ENTRY_FORMAT;
  /** A replay in doubt is stored again: a repeat its readers dedup beats an entry lost with a killed node. */
  readonly durable = true;
  constructor(
    readonly name: string,
    readonly filters: readonly string[],
    readonly manager: StreamManager,
  ) {}
  deliver(item: Uint8Array, event: MeshEvent): void {
    this.manager.append(this, item, event);
  }
}

/**
 * Streams on a node: creates, removes and lists them, appends what they
 * match, and is the node's DurabilityGate (acks wait for its commits).
 * @example
 * const streams = new StreamManager({ node, store: LmdbStreamStore.open({ dir }), metrics: node.metrics });
 * await streams.create({ name: 'orders', filters: ['orders.>'], maxAgeMs: 86_400_000 });
 * node.setDurability(streams);
 */
export class StreamManager implements DurabilityGate {
  readonly #node: MeshNode;
  #store: StreamStore | null;
  readonly #openStore: (() => StreamStore) | undefined;
  readonly #metrics: MetricsRegistry;
  readonly #now: () => number;
  readonly #maxTrimMs: number;
  readonly #sinks = new Map<string, StreamSink>();
  readonly #listeners = new Map<string, Set<AppendedListener>>();
  readonly #listListeners = new Set<() => void>();
  readonly #appends = new Map<string, Metric>();
  readonly #reads = new Map<string, Metric>();
  readonly #refusedByCode = new Map<string, Metric>();
  /** Streams appended to since the last take(); usually one. */
  #touched: string[] = [];
  #refusal: Refusal | null = null;
  #group: Group | null = null;
  #trimTimer: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #removedListeners = new Set<(name: string) => void>();
  readonly #closingHooks: Array<() => Promise<void>> = [];

  constructor(options: StreamManagerOptions) {
    this.#node = options.node;
    this.#store = options.store;
    this.#openStore = options.openStore;
    this.#metrics = options.metrics;
    this.#now = options.now ?? Date.now;
    this.#maxTrimMs = options.maxTrimIntervalMs ?? 60_000;
    if (this.#store === null && this.#openStore === undefined) throw new Error('StreamManager: give a store or openStore');
  }

  /** Subscribes the streams the store already holds (kept across restarts). Call once, before traffic. */
  start(): void {
    for (const info of this.#store?.list() ?? []) this.#attach(info);
    this.#scheduleTrim();
  }

  /** Whether the store is open (it opens on the first create() when the node started without one). */
  get opened(): boolean {
    return this.#store !== null;
  }

  /**
   * Creates a stream, or returns it when one with the same config exists.
   * `replace`: an existing stream with another config is removed first (its
   * entries go, a new epoch is minted); config-file streams use it at start.
   * Throws MG_ERR_STREAM_INVALID (a bad name, filter or limit), _EXISTS.
   */
  async create(config: StreamConfig, options: { replace?: boolean; epoch?: string; mirror?: boolean } = {}): Promise<StreamInfo> {
    if (this.#closed) throw new MeshError('MG_ERR_STREAM_CLOSED', 'the node is closing; streams are closed');
    const c = resolveStreamConfig(config);
    for (let i = 0; i < c.filters.length; i++) {
      const problem = this.#node.checkFilter(c.filters[i]!);
      if (problem !== null) throw new MeshError('MG_ERR_STREAM_INVALID', `stream.filters[${i}]: ${problem.message}`);
    }
    // A mirror takes no events of its own: a remote read fills it (appendAt).
    if (options.mirror === true && c.filters.length > 0) throw new MeshError('MG_ERR_STREAM_INVALID', `stream ${c.name}: a mirror has no filters`);
    if (c.filters.length === 0 && options.mirror !== true)
      throw new MeshError('MG_ERR_STREAM_INVALID', 'stream.filters: expected at least one topic filter, e.g. ["orders.>"]');
    const store = this.#ensureStore();
    const had = store.info(c.name);
    if (had !== undefined && !sameConfig(had.config, c) && options.replace === true) await this.remove(c.name);
    const info = await store.create(c, options.epoch === undefined ? {} : { epoch: options.epoch });
    this.#attach(info);
    this.#scheduleTrim();
    this.#listChanged();
    return info;
  }

  /** Removes a stream and its entries; false when there was none. */
  async remove(name: string): Promise<boolean> {
    const store = this.#store;
    if (store === null || store.info(name) === undefined) return false;
    const sink = this.#sinks.get(name);
    if (sink !== undefined) {
      for (const f of sink.filters) this.#node.unsubscribe(f, sink);
      this.#sinks.delete(name);
    }
    await store.remove(name);
    this.#gauges(name, undefined);
    // Wake the stream's readers: their next read is refused (unknown stream) and ends them with that code.
    this.#committed(new Set([name]));
    for (const l of this.#removedListeners) l(name);
    this.#scheduleTrim();
    this.#listChanged();
    return true;
  }

  /** Calls `listener` after each create() or remove() (the mesh advertises the node's streams). Returns the unsubscribe. */
  onListChanged(listener: () => void): () => void {
    this.#listListeners.add(listener);
    return () => this.#listListeners.delete(listener);
  }

  #listChanged(): void {
    for (const l of this.#listListeners) l();
  }

  /**
   * A mirror's write: stores `bytes` (a stored entry as read from the
   * source) at `offset` (StreamStore.appendAt). Throws its MeshError.
   * Readers see it after mirrorFlushed().
   */
  appendAt(name: string, offset: number, bytes: Uint8Array, meta: { time: number; topic: string }): void {
    const store = this.#store;
    if (store === null) throw new MeshError('MG_ERR_STREAM_UNKNOWN', `stream ${name}: no such stream`);
    store.appendAt(name, offset, bytes, meta);
    this.#appendsOf(name).inc();
  }

  /** Resolves once a mirror's appendAt()s are committed, after telling the stream's readers (onAppended). */
  async mirrorFlushed(name: string): Promise<void> {
    try {
      await this.#store?.flushed();
    } finally {
      this.#committed(new Set([name]));
    }
  }

  list(): StreamInfo[] {
    return this.#store?.list() ?? [];
  }

  info(name: string): StreamInfo | undefined {
    return this.#store?.info(name);
  }

  /** Up to `limit` committed entries after offset `after` (decode each with decodeStoredEvent). */
  read(name: string, after: number, limit: number, epoch?: string): ReadResult {
    if (this.#store === null) return { ok: false, reason: 'unknown-stream', code: 'MG_ERR_STREAM_UNKNOWN', first: 0, last: 0, epoch: '' };
    return this.#store.read(name, after, limit, epoch);
  }

  /**
   * Resolves once read(name, after, limit) can answer from memory. The
   * JetStream engine fetches what its cache lacks, and its read() may
   * return fewer entries (even none) before; lmdb and memory resolve at once.
   */
  readable(name: string, after: number, limit: number): Promise<void> {
    return this.#store?.readable(name, after, limit) ?? Promise.resolve();
  }

  /** First offset whose append time is >= `time` (ms); last + 1 if none; undefined for an unknown stream. */
  seekTime(name: string, time: number): number | undefined {
    return this.#store?.seekTime(name, time);
  }

  /** Offset of the newest retained entry whose topic `match` accepts; 0 if none; undefined for an unknown stream. */
  lastMatching(name: string, match: (topic: string) => boolean): number | undefined {
    const perTopic = this.#store?.lastPerTopic(name, match);
    if (perTopic === undefined) return undefined;
    // One pass: a CDC stream may hold a topic per row, too many to sort for one maximum.
    let last = 0;
    for (const offset of perTopic.values()) if (offset > last) last = offset;
    return last;
  }

  /** The offset of the newest retained entry of each topic `match` accepts, ascending; undefined for an unknown stream. */
  latestPerTopic(name: string, match: (topic: string) => boolean): number[] | undefined {
    const perTopic = this.#store?.lastPerTopic(name, match);
    return perTopic === undefined ? undefined : [...perTopic.values()].sort((a, b) => a - b);
  }

  /**
   * Calls `listener` after each commit that stored entries in stream
   * `name` (once per commit group, not per entry), for live tailing:
   * read from your last offset when called; and once when the stream is
   * removed, so a reader learns it at once. Returns the unsubscribe.
   */
  onAppended(name: string, listener: AppendedListener): () => void {
    let set = this.#listeners.get(name);
    if (set === undefined) this.#listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(name) === set) this.#listeners.delete(name);
    };
  }

  /**
   * Seeds the node's dedup window with the (topic, source, id) of the newest
   * stored entries, at most `limit` of them across the streams (newest first
   * per stream, an equal share each) and none older than `windowMs`. Called
   * once at start-up, before traffic. Resolves with how many were seeded.
   */
  async seedDedup(limit: number, windowMs: number): Promise<number> {
    const streams = this.list();
    if (streams.length === 0 || limit <= 0) return 0;
    const share = Math.max(1, Math.floor(limit / streams.length));
    let seeded = 0;
    for (const info of streams) {
      const since = (this.seekTime(info.name, this.#now() - windowMs) ?? info.last + 1) - 1;
      let after = Math.max(info.first - 1, info.last - share, since);
      while (after < info.last) {
        let r = this.read(info.name, after, 1000);
        if (r.ok && r.entries.length === 0) {
          await this.readable(info.name, after, 1000); // a caching engine (JetStream) fetches the page
          r = this.read(info.name, after, 1000);
        }
        if (!r.ok || r.entries.length === 0) break;
        for (const entry of r.entries) {
          const event = decodeStoredEvent(entry.bytes);
          if (event !== null) {
            this.#node.rememberSeen(event.topic, event.source, event.id);
            seeded++;
          }
          after = entry.offset;
        }
      }
    }
    return seeded;
  }

  /** Called by a sink while the node routes `event`; never throws. */
  append(sink: StreamSink, item: Uint8Array, event: MeshEvent): void {
    const store = this.#store;
    if (store === null) return;
    try {
      store.append(sink.name, item, { time: this.#now(), topic: event.topic });
      this.#appendsOf(sink.name).inc();
      this.#touched.push(sink.name);
    } catch (err) {
      const code = err instanceof MeshError ? (err.code as Refusal['code']) : 'MG_ERR_STREAM_IO';
      this.#countRefused(code);
      this.#refusal ??= { code, message: (err as Error).message };
    }
  }

  /** DurabilityGate: see broker/pipeline/durability.ts. */
  take(): Promise<Refusal | null> | Refusal | null {
    const touched = this.#touched;
    const refusal = this.#refusal;
    if (touched.length === 0 && refusal === null) return null;
    this.#refusal = null;
    if (touched.length > 0) this.#touched = [];
    if (refusal !== null) return refusal;
    // One promise per commit group: the store hands out the same flushed()
    // promise for every append of the group, so its mapping is shared too.
    const raw = this.#store!.flushed();
    let group = this.#group;
    if (group === null || group.raw !== raw) {
      const names = new Set<string>();
      const mapped = raw.then(
        () => {
          this.#committed(names);
          return null;
        },
        (err: unknown): Refusal => {
          const code = err instanceof MeshError ? (err.code as Refusal['code']) : 'MG_ERR_STREAM_IO';
          this.#countRefused(code);
          this.#committed(names);
          return { code, message: (err as Error).message };
        },
      );
      this.#group = group = { raw, mapped, names };
    }
    for (let i = 0; i < touched.length; i++) group.names.add(touched[i]!);
    return group.mapped;
  }

  /** Unsubscribes every stream, flushes and closes the store. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#trimTimer !== null) clearTimeout(this.#trimTimer);
    // Readers built on the streams (durable consumers) save their last state while the store is still open.
    for (const hook of this.#closingHooks) await hook().catch(() => {});
    for (const sink of this.#sinks.values()) for (const f of sink.filters) this.#node.unsubscribe(f, sink);
    this.#sinks.clear();
    await this.#store?.close();
  }

  /** The node's metrics, for what is built on the streams (durable consumers). */
  get metrics(): MetricsRegistry {
    return this.#metrics;
  }

  /** The node's topic filter check: the problem's message, or null for a good filter. */
  checkFilter(filter: string): string | null {
    return this.#node.checkFilter(filter)?.message ?? null;
  }

  /** The store's consumer positions (same engine as the streams); null until the store is open. */
  consumerPositions(): ConsumerPositionStore | null {
    return this.#store?.consumerPositions() ?? null;
  }

  /** Calls `listener` with the name of each stream removed. */
  onRemoved(listener: (name: string) => void): void {
    this.#removedListeners.add(listener);
  }

  /** Runs `hook` at close(), before the store closes (awaited; failures ignored). */
  onClosing(hook: () => Promise<void>): void {
    this.#closingHooks.push(hook);
  }

  #ensureStore(): StreamStore {
    this.#store ??= this.#openStore!();
    return this.#store;
  }

  #attach(info: StreamInfo): void {
    const had = this.#sinks.get(info.name);
    if (had !== undefined) {
      if (had.filters.length === info.config.filters.length && had.filters.every((f, i) => f === info.config.filters[i])) return;
      for (const f of had.filters) this.#node.unsubscribe(f, had);
    }
    const sink = new StreamSink(info.name, info.config.filters, this);
    this.#sinks.set(info.name, sink);
    for (const f of sink.filters) {
      const problem = this.#node.subscribe(f, sink);
      if (problem !== null) throw new MeshError('MG_ERR_STREAM_INVALID', `stream ${info.name}: filter ${f}: ${problem.message}`);
    }
    this.#gauges(info.name, info);
  }

  #committed(names: Set<string>): void {
    for (const name of names) {
      this.#gauges(name, this.#store?.info(name));
      const set = this.#listeners.get(name);
      if (set === undefined) continue;
      const last = this.#store?.info(name)?.last ?? 0;
      for (const l of set) l(last);
    }
  }

  /** Counts entries a reader (a stream subscription, a resuming SSE stream) handed to its subscriber from the store. */
  countRead(name: string, entries: number): void {
    let m = this.#reads.get(name);
    if (m === undefined) {
      m = this.#metrics.counter('meshgate_stream_reads_total', 'Entries read from a stream and delivered to a stream subscriber (replay and following)', {
        stream: name,
      });
      this.#reads.set(name, m);
    }
    m.inc(entries);
  }

  #appendsOf(name: string): Metric {
    let m = this.#appends.get(name);
    if (m === undefined) {
      m = this.#metrics.counter('meshgate_stream_appends_total', 'Events appended to a stream (one per stream the event matched)', { stream: name });
      this.#appends.set(name, m);
    }
    return m;
  }

  #countRefused(code: string): void {
    let m = this.#refusedByCode.get(code);
    if (m === undefined) {
      m = this.#metrics.counter(
        'meshgate_stream_append_refused_total',
        'Appends the stream store refused or failed to commit, by error code (the publisher got the code, nothing was acked)',
        { code },
      );
      this.#refusedByCode.set(code, m);
    }
    m.inc();
  }

  #gauges(name: string, info: StreamInfo | undefined): void {
    this.#metrics.gauge('meshgate_stream_bytes', 'Bytes a stream holds (entries, topics and record headers)', { stream: name }).set(info?.bytes ?? 0);
    this.#metrics.gauge('meshgate_stream_events', 'Events a stream holds', { stream: name }).set(info?.events ?? 0);
  }

  /** Age retention: a pass as often as the shortest maxAge needs (a quarter of it), at most every maxTrimIntervalMs. */
  #scheduleTrim(): void {
    if (this.#trimTimer !== null) clearTimeout(this.#trimTimer);
    this.#trimTimer = null;
    if (this.#closed || this.#store === null) return;
    const ages = this.#store
      .list()
      .map((s) => s.config.maxAgeMs)
      .filter((a) => a > 0);
    if (ages.length === 0) return;
    const every = Math.max(50, Math.min(this.#maxTrimMs, Math.floor(Math.min(...ages) / 4)));
    this.#trimTimer = setTimeout(() => {
      this.#trimTimer = null;
      const store = this.#store;
      if (this.#closed || store === null) return;
      void store
        .trim(this.#now())
        .catch(() => undefined) // a failed trim is retried on the next pass
        .then(() => {
          for (const s of store.list()) this.#gauges(s.name, s);
          this.#scheduleTrim();
        });
    }, every);
    this.#trimTimer.unref();
  }
}
