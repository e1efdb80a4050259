/**
 * StreamStore on NATS JetStream: for nodes that outgrow one machine's disk.
 * Each meshgate stream is one JetStream stream on a nats-server run with
 * `-js`; replicas and clustering are JetStream's.
 *
 * Mapping (one store = one `storeId`, so two meshgate clusters can share a
 * JetStream account):
 *   JetStream stream   MG_<storeId>_<name>, file storage, discard old
 *   its one subject    mg.<storeId>.<name> (a literal subject, no
 *                      wildcard: nothing of another stream can land in it)
 *   message            payload = the entry bytes; headers Mg-Time (append
 *                      time, ms) and Mg-Topic (the topic, URI-encoded)
 *   description        the meshgate config as JSON (survives restarts)
 *   consumer positions KV bucket MG_<storeId>_consumers (jetstream-consumer-positions.ts)
 *   offset             the JetStream stream sequence (1 for the first
 *                      message; purges keep sequences monotonic)
 *   epoch              hash of the JetStream name and its `created` time:
 *                      kept across nats-server restarts, new when the
 *                      JetStream stream is deleted and recreated
 *
 * The seam wants offsets from append() synchronously, but JetStream assigns
 * them. Rule: ONE meshgate node writes a JetStream-backed stream. The store
 * predicts the next sequence and publishes with Nats-Expected-Last-Sequence,
 * so a second writer makes the server refuse the publish instead of storing
 * it at an offset we did not hand out; that, or a PubAck with another
 * sequence, fails the whole store (MG_ERR_STREAM_IO on every later call).
 *
 * Committed = PubAck received: read(), info().last and seekTime() only show
 * acked entries, and flushed() resolves once every earlier publish is acked.
 * A refused publish (out of space: MG_ERR_STREAM_FULL, or any other error:
 * MG_ERR_STREAM_IO) rejects flushed(); the stream's index is then reloaded
 * from the server, so its unacked offsets are handed out again (a publish
 * whose ack only timed out may have been stored: the reload then shows it).
 *
 * Retention: maxEvents is JetStream's max_msgs. maxBytes (counted as the
 * other engines do: payload + topic + 10 bytes) and maxAgeMs (by the append
 * time callers give, which need not be the server clock) are applied by the
 * store and sent as purges up to a sequence after the entries are acked.
 *
 * Memory: an index of time and size per retained entry plus the newest
 * offset per topic (rebuilt at open() from a headers-only scan), and a
 * bounded cache of entry bytes (`cacheEntries` per stream: recent appends
 * and pages read back). read() answers from the cache; on a miss it returns
 * the entries it has (maybe none) and readable() resolves when the next
 * page is in.
 */
import { createHash } from 'node:crypto';
import {
  connect,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamInfo as JsStreamInfo,
  type NatsConnection,
  type NatsError,
  headers as natsHeaders,
  type PubAck,
  RetentionPolicy,
  StorageType,
} from 'nats';
import { MeshError } from '../base/mod.js';
import type { ConsumerPositionStore } from './consumer-position.js';
import { decodeRecord, encodeRecord, RECORD_HEADER_BYTES } from './entry-record.js';
import { JetStreamConsumerPositions } from './jetstream-consumer-positions.js';
import { checkAppendAt, checkPosition, unknownStream } from './read-position.js';
import { refuseOtherConfig, resolveStreamConfig } from './stream-config.js';
import type { AppendMeta, CreateOptions, ReadResult, StreamConfig, StreamEntry, StreamInfo, StreamStore } from './stream-store.js';

export interface JetStreamStreamStoreOptions {
  /** nats-server URL(s) with JetStream enabled (`-js`). */
  readonly servers: string | string[];
  /** Names this store's JetStream streams (MG_<storeId>_*); 1-32 of `A-Z a-z 0-9 -`. @default 'mg' */
  readonly storeId?: string;
  /** Entries whose bytes each stream keeps in memory for read(). @default 10_000 */
  readonly cacheEntries?: number;
  /** JetStream replicas of each new stream (a clustered JetStream). @default 1 */
  readonly replicas?: number;
}

export const JETSTREAM_STORE_DEFAULTS = Object.freeze({ storeId: 'mg', cacheEntries: 10_000, replicas: 1 });

const STORE_ID = /^[A-Za-z0-9-]{1,32}$/;
const TIME_HDR = 'Mg-Time';
const TOPIC_HDR = 'Mg-Topic';
/** JetStream API error codes (nats-server errors.json). */
const JS_INSUFFICIENT_RESOURCES = 10023;
const JS_STORE_FAILED = 10077;
const JS_STREAM_LIMITS = 10047; // "insufficient storage resources available"
const JS_WRONG_LAST_SEQUENCE = 10071;
const JS_STREAM_NOT_FOUND = 10059;
const JS_NO_MESSAGE = 10037;
/** JetStream refuses longer stream descriptions. */
const MAX_DESCRIPTION = 4096;

interface JsStream {
  config: Required<StreamConfig>;
  jsName: string;
  subject: string;
  epoch: string;
  first: number;
  /** Last offset handed out by append(). */
  last: number;
  /** Last offset the server acked: what readers see. */
  acked: number;
  /** Time and record size per offset first..last; `head` is the index of `first`. */
  times: number[];
  sizes: number[];
  head: number;
  bytes: number;
  lastTime: number;
  lastPerTopic: Map<string, number>;
  /** offset -> record (entry-record.ts), insertion-ordered so the oldest insert is evicted first. */
  cache: Map<number, Buffer>;
  /** Offset the server has been asked to purge below, and what we want. */
  purgedTo: number;
  purging: Promise<void> | null;
  inflight: number;
  /** Set when a publish failed: appends are refused until the index is reloaded. */
  broken: MeshError | null;
  reloading: Promise<void> | null;
  /** Pending readable() fetches by start offset. */
  fills: Map<number, Promise<void>>;
  removed: boolean;
}

const hex = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);

/** The epoch of a JetStream stream: changes when it is deleted and recreated. */
export function jetStreamEpoch(si: Pick<JsStreamInfo, 'created' | 'config'>): string {
  return hex(`${si.config.name}\0${si.created}`);
}

function apiCode(err: unknown): number | undefined {
  return (err as NatsError)?.api_error?.err_code;
}

function storeError(stream: string, err: unknown): MeshError {
  if (err instanceof MeshError) return err;
  const code = apiCode(err);
  const why = (err as NatsError)?.api_error?.description ?? (err as Error)?.message ?? String(err);
  if (code === JS_STREAM_LIMITS || code === JS_INSUFFICIENT_RESOURCES || /insufficient (storage )?resources|maximum bytes/i.test(why)) {
    return new MeshError('MG_ERR_STREAM_FULL', `stream ${stream}: JetStream is out of space (${why}); append refused, retry after retention frees space`, {
      cause: err,
    });
  }
  return new MeshError(
    'MG_ERR_STREAM_IO',
    `stream ${stream}: JetStream did not confirm the append (${why}${code === JS_STORE_FAILED ? ', store failed' : ''})`,
    {
      cause: err,
    },
  );
}

/** JetStream API calls whose client may retry without end (ordered consumers) get this long. */
const SCAN_TIMEOUT_MS = 10_000;

function bounded<T>(stream: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new MeshError('MG_ERR_STREAM_IO', `stream ${stream}: JetStream did not answer a read within ${SCAN_TIMEOUT_MS} ms; retry open()`)),
      SCAN_TIMEOUT_MS,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class JetStreamStreamStore implements StreamStore {
  #nc: NatsConnection;
  #js: JetStreamClient;
  #jsm: JetStreamManager;
  #storeId: string;
  #cacheEntries: number;
  #replicas: number;
  #streams = new Map<string, JsStream>();
  #pending = new Set<Promise<void>>();
  /** The first failure since the last flushed(), reported by the next one. */
  #failure: MeshError | null = null;
  /** A broken single-writer rule: the store refuses everything from then on. */
  #fatal: MeshError | null = null;
  #closed = false;
  /** Index scans in flight (open(), reloads), stopped by close(). */
  #fetches = new Set<{ close(): Promise<unknown> }>();
  #fills = new Set<Promise<void>>();
  #positions: JetStreamConsumerPositions | null = null;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, o: Required<JetStreamStreamStoreOptions>) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = nc.jetstream();
    this.#storeId = o.storeId;
    this.#cacheEntries = o.cacheEntries;
    this.#replicas = o.replicas;
  }

  /** Connects, then loads this store's streams (a headers-only scan of each). */
  static async open(options: JetStreamStreamStoreOptions): Promise<JetStreamStreamStore> {
    const o = { ...JETSTREAM_STORE_DEFAULTS, ...options };
    if (!STORE_ID.test(o.storeId)) {
      throw new MeshError('MG_ERR_STREAM_INVALID', `storeId: expected 1-32 characters of A-Z a-z 0-9 -, got ${JSON.stringify(o.storeId)}`);
    }
    if (!Number.isSafeInteger(o.cacheEntries) || o.cacheEntries < 1) {
      throw new MeshError('MG_ERR_STREAM_INVALID', `cacheEntries: expected a whole number >= 1, got ${JSON.stringify(o.cacheEntries)}`);
    }
    const nc = await connect({ servers: o.servers, name: `meshgate-streams-${o.storeId}`, maxReconnectAttempts: -1 });
    try {
      const jsm = await nc.jetstreamManager();
      const store = new JetStreamStreamStore(nc, jsm, o);
      for await (const si of jsm.streams.list()) {
        if (si.config.name.startsWith(store.#prefix)) await store.#load(si);
      }
      return store;
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  get #prefix(): string {
    return `MG_${this.#storeId}_`;
  }

  async create(config: StreamConfig, options: CreateOptions = {}): Promise<StreamInfo> {
    this.#open();
    const c = resolveStreamConfig(config);
    if (options.epoch !== undefined) {
      // The epoch is JetStream's (its stream's creation): it cannot be given.
      throw new MeshError(
        'MG_ERR_STREAM_INVALID',
        `stream ${c.name}: the JetStream engine cannot take a given epoch; mirrors need storage.engine lmdb or memory`,
      );
    }
    const had = this.#streams.get(c.name);
    if (had) {
      refuseOtherConfig(had.config, c);
      return this.#info(had);
    }
    const description = JSON.stringify({ meshgate: 1, config: { filters: c.filters, maxAgeMs: c.maxAgeMs, maxBytes: c.maxBytes, maxEvents: c.maxEvents } });
    if (description.length > MAX_DESCRIPTION) {
      throw new MeshError(
        'MG_ERR_STREAM_INVALID',
        `stream.filters: too many for JetStream (config ${description.length} > ${MAX_DESCRIPTION} characters); use fewer, wider filters`,
      );
    }
    let si: JsStreamInfo;
    try {
      si = await this.#jsm.streams.add({
        name: this.#prefix + c.name,
        subjects: [`mg.${this.#storeId}.${c.name}`],
        description,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        max_msgs: c.maxEvents > 0 ? c.maxEvents : -1,
        num_replicas: this.#replicas,
      });
    } catch (err) {
      // Another store's create() of the same name with another config.
      if (/already in use|exists/i.test((err as Error).message))
        throw new MeshError('MG_ERR_STREAM_EXISTS', `stream ${c.name} exists in JetStream with another configuration; remove it first or use the same one`, {
          cause: err,
        });
      throw storeError(c.name, err);
    }
    return this.#info(await this.#load(si));
  }

  async remove(name: string): Promise<void> {
    const s = this.#streams.get(name);
    if (!s) return;
    s.removed = true;
    this.#streams.delete(name);
    try {
      await this.#jsm.streams.delete(s.jsName);
    } catch (err) {
      if (apiCode(err) !== JS_STREAM_NOT_FOUND) throw storeError(name, err);
    }
  }

  list(): StreamInfo[] {
    return [...this.#streams.values()].map((s) => this.#info(s));
  }

  info(name: string): StreamInfo | undefined {
    const s = this.#streams.get(name);
    return s && this.#info(s);
  }

  /** JetStream numbers messages itself: only the next offset (see StreamStore.appendAt). */
  appendAt(stream: string, offset: number, entry: Uint8Array, meta: AppendMeta): void {
    const s = this.#streams.get(stream);
    if (s !== undefined) checkAppendAt(stream, offset, s.last, false);
    this.append(stream, entry, meta); // an unknown stream: refused there
  }

  append(stream: string, entry: Uint8Array, meta: AppendMeta): number {
    this.#open();
    const s = this.#streams.get(stream);
    if (!s) throw new MeshError('MG_ERR_STREAM_UNKNOWN', `stream ${stream}: no such stream`);
    if (s.broken) throw s.broken;
    const time = Math.max(meta.time, s.lastTime);
    const rec = encodeRecord(time, meta.topic, entry);
    const offset = ++s.last;
    const h = natsHeaders();
    h.set(TIME_HDR, String(time));
    h.set(TOPIC_HDR, encodeURIComponent(meta.topic));
    // The server stores it only if the stream's last sequence is the one we
    // predicted: a second writer is refused instead of shifting offsets.
    // The record's tail is our copy of the bytes: the caller may reuse `entry`.
    const published = this.#js.publish(s.subject, rec.subarray(rec.length - entry.length), {
      headers: h,
      expect: { lastSequence: offset - 1, streamName: s.jsName },
    });
    s.inflight++;
    this.#track(
      published.then(
        (ack) => this.#acked(s, offset, ack),
        (err) => this.#failed(s, offset, err),
      ),
    );
    s.times.push(time);
    s.sizes.push(rec.length);
    s.bytes += rec.length;
    s.lastTime = time;
    s.lastPerTopic.set(meta.topic, offset);
    this.#cachePut(s, offset, rec);
    this.#retain(s, time);
    return offset;
  }

  async flushed(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    const failure = this.#fatal ?? this.#failure;
    this.#failure = null;
    if (failure) throw failure;
  }

  read(stream: string, after: number, limit: number, epoch?: string): ReadResult {
    const s = this.#streams.get(stream);
    if (!s) return unknownStream();
    const refusal = checkPosition(after, s.first, s.acked, s.epoch, epoch);
    if (refusal) return refusal;
    const entries: StreamEntry[] = [];
    for (let o = after + 1; o <= s.acked && entries.length < limit; o++) {
      const rec = s.cache.get(o);
      if (!rec) {
        void this.readable(stream, o - 1, limit - entries.length).catch(() => {});
        break;
      }
      entries.push(decodeRecord(o, rec)!);
    }
    return { ok: true, entries, last: s.acked, epoch: s.epoch };
  }

  readable(stream: string, after: number, limit: number): Promise<void> {
    const s = this.#streams.get(stream);
    if (!s || after + 1 < s.first || after >= s.acked || s.cache.has(after + 1)) return Promise.resolve();
    const from = after + 1;
    const busy = s.fills.get(from);
    if (busy) return busy;
    const to = Math.min(s.acked, after + Math.min(limit, this.#cacheEntries));
    const fill = this.#getRange(s, from, to).finally(() => {
      s.fills.delete(from);
      this.#fills.delete(fill);
    });
    s.fills.set(from, fill);
    this.#fills.add(fill);
    return fill;
  }

  seekTime(stream: string, time: number): number | undefined {
    const s = this.#streams.get(stream);
    if (!s) return undefined;
    let lo = s.head;
    let hi = s.head + Math.max(0, s.acked - s.first + 1);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s.times[mid]! < time) lo = mid + 1;
      else hi = mid;
    }
    return s.first + (lo - s.head);
  }

  lastPerTopic(stream: string, match?: (topic: string) => boolean): Map<string, number> | undefined {
    const s = this.#streams.get(stream);
    if (!s) return undefined;
    const out = new Map<string, number>();
    for (const [topic, offset] of s.lastPerTopic) {
      if (offset >= s.first && offset <= s.acked && (!match || match(topic))) out.set(topic, offset);
    }
    return out;
  }

  async trim(now: number): Promise<void> {
    for (const s of this.#streams.values()) {
      this.#retain(s, now);
      for (const [topic, offset] of s.lastPerTopic) if (offset < s.first) s.lastPerTopic.delete(topic);
      this.#purge(s);
    }
    await this.flushed();
  }

  /** Positions in the KV bucket MG_<storeId>_consumers (jetstream-consumer-positions.ts). */
  consumerPositions(): ConsumerPositionStore {
    this.#positions ??= new JetStreamConsumerPositions(this.#js, `${this.#prefix}consumers`, this.#replicas);
    return this.#positions;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.flushed();
    } catch {
      // Reported to whoever awaited flushed(); close() still releases.
    }
    // A fetch left running would keep its expiry timer (and the process) alive.
    await Promise.all([...this.#fetches].map((f) => f.close()));
    await Promise.allSettled([...this.#fills]);
    await this.#nc.close();
  }

  #open(): void {
    if (this.#closed) throw new MeshError('MG_ERR_STREAM_CLOSED', 'stream store is closed');
    if (this.#fatal) throw this.#fatal;
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  #acked(s: JsStream, offset: number, ack: PubAck): void {
    s.inflight--;
    if (ack.seq !== offset) {
      this.#fatal ??= new MeshError(
        'MG_ERR_STREAM_IO',
        `stream ${s.config.name}: JetStream stored the append at sequence ${ack.seq} where ${offset} was predicted; another writer uses ${s.jsName} (only one meshgate node may write a JetStream-backed stream). The store refuses all calls; restart it`,
      );
      return;
    }
    if (offset > s.acked) s.acked = offset;
    this.#purge(s);
  }

  #failed(s: JsStream, offset: number, err: unknown): void {
    s.inflight--;
    if (apiCode(err) === JS_WRONG_LAST_SEQUENCE && !s.broken) {
      this.#fatal ??= new MeshError(
        'MG_ERR_STREAM_IO',
        `stream ${s.config.name}: JetStream refused offset ${offset} (last sequence not the predicted ${offset - 1}); another writer uses ${s.jsName} (only one meshgate node may write a JetStream-backed stream). The store refuses all calls; restart it`,
        { cause: err },
      );
      return;
    }
    // Later pipelined publishes fail too (their expected sequence assumed this one).
    if (!s.broken) {
      s.broken = storeError(s.config.name, err);
      this.#failure ??= s.broken;
    }
    if (s.inflight === 0 && !s.removed) this.#track((s.reloading ??= this.#reload(s)));
  }

  /** After a refused publish: index from the server again; unacked offsets are handed out again. */
  async #reload(s: JsStream): Promise<void> {
    try {
      const si = await this.#jsm.streams.info(s.jsName);
      if (s.removed) return;
      const fresh = await this.#load(si);
      // Keep the bytes of what was stored; drop those of refused offsets.
      for (const [o, rec] of s.cache) if (o >= fresh.first && o <= fresh.last) fresh.cache.set(o, rec);
    } catch (err) {
      this.#failure ??= storeError(s.config.name, err);
    }
  }

  /** Indexes a JetStream stream from its info and a headers-only scan. */
  async #load(si: JsStreamInfo): Promise<JsStream> {
    const name = si.config.name.slice(this.#prefix.length);
    let saved: Partial<StreamConfig> = {};
    try {
      saved = JSON.parse(si.config.description ?? '').config ?? {};
    } catch {
      // Not made by meshgate: take it with default limits but its max_msgs.
      saved = { maxEvents: Math.max(si.config.max_msgs, 0) };
    }
    const { state } = si;
    const last = state.last_seq;
    const first = state.messages === 0 ? last + 1 : state.first_seq;
    const s: JsStream = {
      config: resolveStreamConfig({ ...saved, name }),
      jsName: si.config.name,
      subject: si.config.subjects?.[0] ?? `mg.${this.#storeId}.${name}`,
      epoch: jetStreamEpoch(si),
      first,
      last,
      acked: last,
      times: [],
      sizes: [],
      head: 0,
      bytes: 0,
      lastTime: -Infinity,
      lastPerTopic: new Map(),
      cache: new Map(),
      purgedTo: first,
      purging: null,
      inflight: 0,
      broken: null,
      reloading: null,
      fills: new Map(),
      removed: false,
    };
    if (state.messages > 0) {
      let next = first;
      await this.#scan(s, first, last, true, (seq, time, topic, _data, size) => {
        // Interior gaps are not ours (we only purge prefixes); fill them so offsets stay indices.
        for (; next < seq; next++) {
          s.times.push(s.lastTime);
          s.sizes.push(0);
        }
        const t = Math.max(time, s.lastTime);
        const rec = RECORD_HEADER_BYTES + Buffer.byteLength(topic) + size;
        s.times.push(t);
        s.sizes.push(rec);
        s.bytes += rec;
        s.lastTime = t;
        s.lastPerTopic.set(topic, seq);
        next = seq + 1;
      });
    }
    this.#streams.set(name, s);
    return s;
  }

  /**
   * Caches sequences from..to by message get requests, pipelined. No
   * consumer: creating one can fail (and an ordered one retry without end)
   * when JetStream is out of resources, and a read must not hang on that.
   */
  async #getRange(s: JsStream, from: number, to: number): Promise<void> {
    const PIPELINE = 64;
    for (let lo = from; lo <= to && !this.#closed; lo += PIPELINE) {
      const seqs = Array.from({ length: Math.min(PIPELINE, to - lo + 1) }, (_, i) => lo + i);
      const msgs = await Promise.all(
        seqs.map((seq) =>
          this.#jsm.streams.getMessage(s.jsName, { seq }).catch((err) => {
            if (apiCode(err) === JS_NO_MESSAGE) return null; // purged meanwhile
            throw storeError(s.config.name, err);
          }),
        ),
      );
      for (const m of msgs) {
        if (!m || m.seq < s.first) continue;
        const time = Number(m.header?.get(TIME_HDR) ?? m.time.getTime());
        const topic = decodeURIComponent(m.header?.get(TOPIC_HDR) ?? '');
        this.#cachePut(s, m.seq, encodeRecord(time, topic, m.data));
      }
    }
  }

  /** Reads sequences from..to (inclusive) of `s` through an ordered consumer (headers only: the index). */
  async #scan(
    s: JsStream,
    from: number,
    to: number,
    headersOnly: boolean,
    each: (seq: number, time: number, topic: string, data: Uint8Array, size: number) => void,
  ): Promise<void> {
    if (from > to) return;
    const consumer = await bounded(
      s.config.name,
      this.#js.consumers.get(s.jsName, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from, headers_only: headersOnly }),
    );
    const batch = Math.min(1000, to - from + 1);
    while (!this.#closed) {
      let got = 0;
      let done = false;
      const msgs = await consumer.fetch({ max_messages: batch, expires: 2000 });
      this.#fetches.add(msgs);
      try {
        for await (const m of msgs as AsyncIterable<JsMsg>) {
          got++;
          const seq = m.seq;
          if (seq > to) {
            done = true;
            break;
          }
          const h = m.headers;
          const time = Number(h?.get(TIME_HDR) ?? m.info.timestampNanos / 1e6);
          const topic = decodeURIComponent(h?.get(TOPIC_HDR) ?? '');
          const size = headersOnly ? Number(h?.get('Nats-Msg-Size') ?? 0) : m.data.length;
          each(seq, time, topic, m.data, size);
          if (seq >= to) done = true;
        }
      } finally {
        this.#fetches.delete(msgs);
      }
      if (done || got === 0) break;
    }
  }

  #cachePut(s: JsStream, offset: number, rec: Buffer): void {
    s.cache.set(offset, rec);
    if (s.cache.size > this.#cacheEntries) s.cache.delete(s.cache.keys().next().value!);
  }

  /** Drops the oldest entries from the index while a limit is passed (as the memory engine does). */
  #retain(s: JsStream, now: number): void {
    const { maxEvents, maxBytes, maxAgeMs } = s.config;
    while (s.first <= s.last) {
      const over =
        (maxEvents > 0 && s.last - s.first + 1 > maxEvents) || (maxBytes > 0 && s.bytes > maxBytes) || (maxAgeMs > 0 && s.times[s.head]! < now - maxAgeMs);
      if (!over) break;
      s.bytes -= s.sizes[s.head]!;
      s.cache.delete(s.first);
      s.head++;
      s.first++;
    }
    if (s.head > 1024 && s.head > s.times.length - s.head) {
      s.times = s.times.slice(s.head);
      s.sizes = s.sizes.slice(s.head);
      s.head = 0;
    }
  }

  /** Asks the server to drop what the index dropped, once those entries are acked (one purge in flight per stream). */
  #purge(s: JsStream): void {
    if (s.purging || s.removed) return;
    const to = Math.min(s.first, s.acked + 1);
    if (to <= s.purgedTo) return;
    s.purging = this.#jsm.streams.purge(s.jsName, { seq: to }).then(
      () => {
        s.purgedTo = to;
        s.purging = null;
        this.#purge(s);
      },
      (err) => {
        s.purging = null;
        this.#failure ??= storeError(s.config.name, err);
      },
    );
    this.#track(s.purging);
  }

  #info(s: JsStream): StreamInfo {
    const events = Math.max(0, s.acked - s.first + 1);
    return { name: s.config.name, config: s.config, epoch: s.epoch, first: s.first, last: s.acked, events, bytes: s.bytes };
  }
}
