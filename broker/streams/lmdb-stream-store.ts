/**
 * StreamStore on lmdb-js: one lmdb environment per node, under one
 * directory, locked to one process (dir-lock.ts).
 *
 * Layout, per environment:
 *   meta        "stream:<name>" -> { config, epoch, first, last, bytes, lastTime }
 *   e:<name>    8-byte big-endian offset -> entry record (entry-record.ts)
 *   t:<name>    topic -> offset of its newest entry (for `from: last-per-topic`)
 *   consumers   "<stream>.<name>" -> durable consumer position (lmdb-consumer-positions.ts)
 * A stream's state record is written in the same transaction as its
 * entries, so after a crash the two agree. The epoch lives in that record:
 * it stays until the stream is removed or the directory is wiped.
 *
 * Durability:
 * - 'group' (default): appends of one event-loop turn, and of every turn
 *   while a commit is in flight, go into one write transaction (one
 *   promise per group, none per event). flushed() resolves after lmdb
 *   reports the commit synced to disk (overlappingSync: the fsync runs off
 *   the write lock).
 * - 'sync': each append() is its own synchronous transaction, fsync'd
 *   before append() returns (overlappingSync off). Slow; for callers that
 *   must not lose even the current turn.
 * One commit is in flight at a time, so a failed commit fails the groups
 * queued behind it too (their offsets assumed it) and offsets are handed
 * out again from the last stored one: nothing unstored is ever visible.
 */
import fs from 'node:fs';
import { type Database, open, type RootDatabase } from 'lmdb';
import { MeshError } from '../base/mod.js';
import type { ConsumerPositionStore } from './consumer-position.js';
import { lockDirectory } from './dir-lock.js';
import { decodeRecord, encodeRecord, recordTime } from './entry-record.js';
import { mintEpoch } from './epoch.js';
import { LmdbConsumerPositions } from './lmdb-consumer-positions.js';
import { keyOffset, offsetKey } from './offset-key.js';
import { checkAppendAt, checkPosition, unknownStream } from './read-position.js';
import { refuseOtherConfig, resolveStreamConfig } from './stream-config.js';
import type { AppendMeta, CreateOptions, Durability, ReadResult, StreamConfig, StreamEntry, StreamInfo, StreamStore } from './stream-store.js';

export interface LmdbStreamStoreOptions {
  /** Directory of the node's lmdb environment; created if missing. One process at a time. */
  readonly dir: string;
  /** When flushed() may resolve: see the file header. @default 'group' */
  readonly durability?: Durability;
  /** Refuse appends (MG_ERR_STREAM_FULL) once stored and queued entries reach this many bytes; keep it under the disk's free space. @default 0 (no limit: the disk is the limit) */
  readonly maxStoreBytes?: number;
  /** Streams the environment can hold (lmdb opens 2 named databases per stream). @default 64 */
  readonly maxStreams?: number;
}

export const LMDB_STORE_DEFAULTS = Object.freeze({ durability: 'group' as Durability, maxStoreBytes: 0, maxStreams: 64 });

interface Position {
  first: number;
  last: number;
  bytes: number;
  lastTime: number;
}

interface LmdbStream {
  readonly config: Required<StreamConfig>;
  readonly epoch: string;
  readonly entries: Database<Buffer, Buffer>;
  readonly topics: Database<number, string>;
  /** Committed and durable: what readers see. */
  durable: Position;
  /** Last offset and time handed out by append(), committed or not. */
  appendedLast: number;
  appendedTime: number;
  removed: boolean;
}

interface StoredState {
  config: Required<StreamConfig>;
  epoch: string;
  first: number;
  last: number;
  bytes: number;
  lastTime: number;
}

interface Op {
  s: LmdbStream;
  offset: number;
  rec: Buffer;
  topic: string;
}

/** One commit group, with its promise created only if someone asks (no unhandled rejections). */
class Batch {
  ops: Op[] = [];
  bytes = 0;
  trimAt: number | undefined;
  states = new Map<LmdbStream, Position>();
  outcome: null | true | MeshError = null;
  #deferred: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } | undefined;

  get empty(): boolean {
    return this.ops.length === 0 && this.trimAt === undefined;
  }
  promise(): Promise<void> {
    if (this.outcome === true) return Promise.resolve();
    if (this.outcome) return Promise.reject(this.outcome);
    if (!this.#deferred) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.#deferred = { promise, resolve, reject };
    }
    return this.#deferred.promise;
  }
  settle(outcome: true | MeshError): void {
    this.outcome = outcome;
    if (outcome === true) this.#deferred?.resolve();
    else this.#deferred?.reject(outcome);
  }
}

const STATE_PREFIX = 'stream:';

/** LMDB's meta-page magic (0xBEEFC0DE), little-endian at byte 24 of page 0 on 64-bit builds. */
const LMDB_MAGIC = 0xbeefc0de;
const LMDB_MAGIC_AT = 24;

/**
 * lmdb-js crashes the process (SIGSEGV) on a data file that is not LMDB,
 * so the header is checked before lmdb sees it. Damage past the meta pages
 * is not detected here (LMDB keeps no checksums).
 */
function checkDataFile(dir: string): void {
  const file = `${dir}/data.mdb`;
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // a new store
    throw err;
  }
  try {
    const head = Buffer.alloc(LMDB_MAGIC_AT + 4);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (n === 0 && fs.fstatSync(fd).size === 0) return; // created, never written
    if (n < head.length || head.readUInt32LE(LMDB_MAGIC_AT) !== LMDB_MAGIC) throw new Error(`${file} has no LMDB header`);
  } finally {
    fs.closeSync(fd);
  }
}

function writeError(err: unknown): MeshError {
  const msg = (err as Error)?.message ?? String(err);
  if (/MAP_FULL|ENOSPC|No space/i.test(msg)) {
    return new MeshError('MG_ERR_STREAM_FULL', `stream store full (${msg}); the appends of this commit were not stored`, { cause: err });
  }
  return new MeshError('MG_ERR_STREAM_IO', `stream store write failed (${msg}); the appends of this commit were not stored`, { cause: err });
}

export class LmdbStreamStore implements StreamStore {
  readonly dir: string;
  readonly durability: Durability;
  #env: RootDatabase;
  #meta: Database<StoredState, string>;
  #streams = new Map<string, LmdbStream>();
  #release: () => void;
  #maxStoreBytes: number;
  #maxStreams: number;
  #durableBytes = 0;
  #queuedBytes = 0;
  #pending = new Batch();
  #inFlight: Batch | null = null;
  #lastSettled: Batch | null = null;
  #scheduled = false;
  #closed = false;
  #positions: LmdbConsumerPositions | null = null;

  /**
   * Opens (or creates) the store in `options.dir`. Throws MG_ERR_STREAM_LOCKED
   * when another live process holds it, MG_ERR_STREAM_CORRUPT when its files
   * are not a stream store.
   * @example
   * const store = LmdbStreamStore.open({ dir: '/var/lib/meshgate/streams' });
   * await store.create({ name: 'orders', filters: ['db.orders.>'], maxAgeMs: 86_400_000 });
   * const offset = store.append('orders', bytes, { time: Date.now(), topic: 'db.orders.insert' });
   * await store.flushed(); // now ack the publisher
   */
  static open(options: LmdbStreamStoreOptions): LmdbStreamStore {
    return new LmdbStreamStore(options);
  }

  private constructor(options: LmdbStreamStoreOptions) {
    this.dir = options.dir;
    this.durability = options.durability ?? LMDB_STORE_DEFAULTS.durability;
    if (this.durability !== 'group' && this.durability !== 'sync') {
      throw new MeshError('MG_ERR_STREAM_INVALID', `streams.durability: expected 'group' or 'sync', got ${JSON.stringify(this.durability)}`);
    }
    this.#maxStoreBytes = options.maxStoreBytes ?? LMDB_STORE_DEFAULTS.maxStoreBytes;
    this.#maxStreams = options.maxStreams ?? LMDB_STORE_DEFAULTS.maxStreams;
    fs.mkdirSync(this.dir, { recursive: true });
    this.#release = lockDirectory(this.dir);
    let env: RootDatabase | undefined;
    try {
      checkDataFile(this.dir);
      this.#env = env = open({ path: this.dir, maxDbs: 2 + 2 * this.#maxStreams, overlappingSync: this.durability === 'group' });
      this.#meta = this.#env.openDB<StoredState, string>({ name: 'meta' });
      for (const { key, value } of this.#meta.getRange({ start: STATE_PREFIX, end: 'stream;' })) {
        this.#load(key, value);
      }
    } catch (err) {
      this.#release();
      try {
        void env?.close();
      } catch {
        /* half-open */
      }
      if (err instanceof MeshError) throw err;
      throw new MeshError(
        'MG_ERR_STREAM_CORRUPT',
        `streams directory ${this.dir} is not a readable stream store (${(err as Error).message}); ` +
          `move it aside to keep it for inspection, or delete it (streams start over with a new epoch), then restart`,
        { cause: err },
      );
    }
  }

  #load(key: string, v: StoredState): void {
    const ok =
      v &&
      typeof v === 'object' &&
      typeof v.epoch === 'string' &&
      v.config &&
      typeof v.config.name === 'string' &&
      [v.first, v.last, v.bytes, v.lastTime].every((n) => Number.isSafeInteger(n) || Number.isFinite(n));
    if (!ok || key !== STATE_PREFIX + v.config.name) throw new Error(`bad state record ${JSON.stringify(key)}`);
    const config = resolveStreamConfig(v.config);
    const s = this.#openStream(config, v.epoch, { first: v.first, last: v.last, bytes: v.bytes, lastTime: v.lastTime });
    this.#durableBytes += v.bytes;
    this.#streams.set(config.name, s);
  }

  #openStream(config: Required<StreamConfig>, epoch: string, pos: Position): LmdbStream {
    return {
      config,
      epoch,
      entries: this.#env.openDB<Buffer, Buffer>({ name: `e:${config.name}`, keyEncoding: 'binary', encoding: 'binary' }),
      topics: this.#env.openDB<number, string>({ name: `t:${config.name}` }),
      durable: pos,
      appendedLast: pos.last,
      appendedTime: pos.lastTime,
      removed: false,
    };
  }

  async create(config: StreamConfig, options: CreateOptions = {}): Promise<StreamInfo> {
    this.#checkOpen();
    const c = resolveStreamConfig(config);
    const had = this.#streams.get(c.name);
    if (had) {
      refuseOtherConfig(had.config, c);
      return this.#info(had);
    }
    if (this.#streams.size >= this.#maxStreams) {
      throw new MeshError(
        'MG_ERR_STREAM_INVALID',
        `stream ${c.name}: the store holds maxStreams (${this.#maxStreams}) streams; remove one or raise maxStreams`,
      );
    }
    const pos = { first: 1, last: 0, bytes: 0, lastTime: 0 };
    const s = this.#openStream(c, options.epoch ?? mintEpoch(), pos);
    await this.#meta.put(STATE_PREFIX + c.name, { config: c, epoch: s.epoch, ...pos });
    await this.#env.flushed;
    this.#streams.set(c.name, s);
    return this.#info(s);
  }

  async remove(name: string): Promise<void> {
    const s = this.#streams.get(name);
    if (!s || s.removed) return;
    s.removed = true; // appends refused from now on
    await this.flushed().catch(() => undefined); // let its queued entries land first
    await s.entries.drop();
    await s.topics.drop();
    await this.#meta.remove(STATE_PREFIX + name);
    await this.#env.flushed;
    this.#durableBytes -= s.durable.bytes;
    this.#streams.delete(name);
  }

  list(): StreamInfo[] {
    return [...this.#streams.values()].filter((s) => !s.removed).map((s) => this.#info(s));
  }

  info(name: string): StreamInfo | undefined {
    const s = this.#live(name);
    return s && this.#info(s);
  }

  append(stream: string, entry: Uint8Array, meta: AppendMeta): number {
    const s = this.#writable(stream);
    return this.#append(s, s.appendedLast + 1, entry, meta);
  }

  appendAt(stream: string, offset: number, entry: Uint8Array, meta: AppendMeta): void {
    const s = this.#writable(stream);
    const d = s.durable;
    checkAppendAt(stream, offset, s.appendedLast, s.appendedLast === d.last && d.first > d.last);
    this.#append(s, offset, entry, meta); // #write starts an empty stream at `offset`
  }

  #writable(stream: string): LmdbStream {
    this.#checkOpen();
    const s = this.#live(stream);
    if (!s) throw new MeshError('MG_ERR_STREAM_UNKNOWN', `stream ${stream}: no such stream`);
    return s;
  }

  #append(s: LmdbStream, offset: number, entry: Uint8Array, meta: AppendMeta): number {
    const stream = s.config.name;
    const time = Math.max(meta.time, s.appendedTime);
    const rec = encodeRecord(time, meta.topic, entry);
    if (this.#maxStoreBytes > 0 && this.#durableBytes + this.#queuedBytes + rec.length > this.#maxStoreBytes) {
      throw new MeshError(
        'MG_ERR_STREAM_FULL',
        `stream store ${this.dir} full: ${this.#durableBytes + this.#queuedBytes} of maxStoreBytes ${this.#maxStoreBytes} used; append to ${stream} refused`,
      );
    }
    const op: Op = { s, offset, rec, topic: meta.topic };
    if (this.durability === 'sync') {
      const batch = new Batch();
      batch.ops.push(op);
      batch.bytes = rec.length;
      this.#commitSync(batch); // throws MG_ERR_STREAM_FULL / _IO with nothing stored
    } else {
      this.#pending.ops.push(op);
      this.#pending.bytes += rec.length;
      this.#queuedBytes += rec.length;
      this.#schedule();
    }
    s.appendedLast = offset;
    s.appendedTime = time;
    return offset;
  }

  flushed(): Promise<void> {
    const newest = !this.#pending.empty ? this.#pending : (this.#inFlight ?? this.#lastSettled);
    return newest ? newest.promise() : Promise.resolve();
  }

  read(stream: string, after: number, limit: number, epoch?: string): ReadResult {
    const s = this.#live(stream);
    if (!s) return unknownStream();
    const d = s.durable;
    const refusal = checkPosition(after, d.first, d.last, s.epoch, epoch);
    if (refusal) return refusal;
    const end = Math.min(d.last, after + Math.max(0, limit));
    const entries: StreamEntry[] = [];
    if (end > after) {
      for (const { key, value } of s.entries.getRange({ start: offsetKey(after + 1), end: offsetKey(end + 1) })) {
        const e = decodeRecord(keyOffset(key), value);
        if (e) entries.push(e);
      }
      // A commit that trimmed the head can land before its fsync (and so
      // before `durable` moves): never hand out a run that skips entries.
      if (entries.length === 0 || entries[0]!.offset !== after + 1) {
        return { ok: false, reason: 'pruned', code: 'MG_ERR_STREAM_PRUNED', first: entries[0]?.offset ?? d.last + 1, last: d.last, epoch: s.epoch };
      }
    }
    return { ok: true, entries, last: d.last, epoch: s.epoch };
  }

  readable(): Promise<void> {
    return Promise.resolve(); // read() answers from the store itself
  }

  seekTime(stream: string, time: number): number | undefined {
    const s = this.#live(stream);
    if (!s) return undefined;
    let lo = s.durable.first;
    let hi = s.durable.last + 1; // first offset with time >= `time`
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const rec = s.entries.getBinaryFast(offsetKey(mid)); // reused buffer: read it at once
      if (!rec || recordTime(rec) < time) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  lastPerTopic(stream: string, match?: (topic: string) => boolean): Map<string, number> | undefined {
    const s = this.#live(stream);
    if (!s) return undefined;
    const out = new Map<string, number>();
    for (const { key, value } of s.topics.getRange()) {
      if (value >= s.durable.first && value <= s.durable.last && (!match || match(key))) out.set(key, value);
    }
    return out;
  }

  trim(now: number): Promise<void> {
    this.#checkOpen();
    if (this.durability === 'sync') {
      const batch = new Batch();
      batch.trimAt = now;
      this.#commitSync(batch);
      return Promise.resolve();
    }
    this.#pending.trimAt = Math.max(this.#pending.trimAt ?? -Infinity, now);
    this.#schedule();
    return this.#pending.promise();
  }

  consumerPositions(): ConsumerPositionStore {
    this.#positions ??= new LmdbConsumerPositions(this.#env);
    return this.#positions;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#inFlight || !this.#pending.empty) await this.flushed().catch(() => undefined);
    await this.#env.close();
    this.#release();
  }

  #checkOpen(): void {
    if (this.#closed) throw new MeshError('MG_ERR_STREAM_CLOSED', `stream store ${this.dir} is closed`);
  }

  #live(name: string): LmdbStream | undefined {
    const s = this.#streams.get(name);
    return s && !s.removed ? s : undefined;
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight) return;
    this.#scheduled = true;
    // setImmediate, not a microtask: every append of this turn joins the group.
    setImmediate(() => this.#startCommit());
  }

  #startCommit(): void {
    this.#scheduled = false;
    if (this.#inFlight || this.#pending.empty) return;
    const batch = this.#pending;
    this.#pending = new Batch();
    this.#inFlight = batch;
    this.#env
      .transaction(() => this.#write(batch))
      .then(() => this.#env.flushed)
      .then(
        () => this.#settle(batch, true),
        (err: unknown) => this.#settle(batch, writeError(err)),
      );
  }

  #commitSync(batch: Batch): void {
    try {
      this.#env.transactionSync(() => this.#write(batch));
    } catch (err) {
      batch.settle(writeError(err));
      throw batch.outcome;
    }
    this.#queuedBytes += batch.bytes; // #settle takes it off again
    this.#settle(batch, true);
  }

  /** Runs inside the write transaction: entries, topic index, retention, state records. */
  #write(batch: Batch): void {
    batch.states.clear();
    const pos = (s: LmdbStream): Position => {
      let p = batch.states.get(s);
      if (!p) batch.states.set(s, (p = { ...s.durable }));
      return p;
    };
    // The topic index keeps only each topic's newest offset: one put per topic per commit, not per entry.
    const newest = new Map<LmdbStream, Map<string, number>>();
    for (const op of batch.ops) {
      if (op.s.removed) continue;
      const p = pos(op.s);
      if (p.first > p.last && op.offset > p.last + 1) p.first = op.offset; // appendAt() on an empty stream
      op.s.entries.putSync(offsetKey(op.offset), op.rec);
      let topics = newest.get(op.s);
      if (topics === undefined) newest.set(op.s, (topics = new Map()));
      topics.set(op.topic, op.offset);
      p.last = op.offset;
      p.bytes += op.rec.length;
      p.lastTime = recordTime(op.rec);
    }
    for (const [s, topics] of newest) for (const [topic, offset] of topics) s.topics.putSync(topic, offset);
    if (batch.trimAt !== undefined) for (const s of this.#streams.values()) if (!s.removed) pos(s);
    for (const [s, p] of batch.states) {
      this.#retain(s, p, Math.max(batch.trimAt ?? -Infinity, p.lastTime));
      if (batch.trimAt !== undefined) {
        for (const { key, value } of s.topics.getRange()) if (value < p.first) s.topics.removeSync(key);
      }
      this.#meta.putSync(STATE_PREFIX + s.config.name, { config: s.config, epoch: s.epoch, ...p });
    }
  }

  /** Deletes the oldest entries while a limit is passed (in the write transaction). */
  #retain(s: LmdbStream, p: Position, now: number): void {
    const { maxEvents, maxBytes, maxAgeMs } = s.config;
    if (maxEvents === 0 && maxBytes === 0 && maxAgeMs === 0) return;
    while (p.first <= p.last) {
      const key = offsetKey(p.first);
      const rec = s.entries.getBinaryFast(key);
      if (!rec) break;
      const over =
        (maxEvents > 0 && p.last - p.first + 1 > maxEvents) || (maxBytes > 0 && p.bytes > maxBytes) || (maxAgeMs > 0 && recordTime(rec) < now - maxAgeMs);
      if (!over) break;
      p.bytes -= rec.length;
      s.entries.removeSync(key);
      p.first++;
    }
  }

  #settle(batch: Batch, outcome: true | MeshError): void {
    if (this.#inFlight === batch) this.#inFlight = null;
    this.#queuedBytes -= batch.bytes;
    this.#lastSettled = batch;
    if (outcome === true) {
      for (const [s, p] of batch.states) {
        if (s.removed) continue;
        this.#durableBytes += p.bytes - s.durable.bytes;
        s.durable = p;
      }
      batch.settle(true);
    } else {
      // The groups queued behind it numbered their offsets after it: fail them too.
      const queued = this.#pending;
      this.#pending = new Batch();
      this.#queuedBytes -= queued.bytes;
      for (const s of this.#streams.values()) {
        s.appendedLast = s.durable.last;
        s.appendedTime = s.durable.lastTime;
      }
      batch.settle(outcome);
      if (!queued.empty) {
        queued.settle(outcome);
        this.#lastSettled = queued;
      }
    }
    if (!this.#pending.empty) this.#schedule();
  }

  #info(s: LmdbStream): StreamInfo {
    const d = s.durable;
    return { name: s.config.name, config: s.config, epoch: s.epoch, first: d.first, last: d.last, events: d.last - d.first + 1, bytes: d.bytes };
  }
}
