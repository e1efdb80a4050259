/**
 * StreamStore in memory, for tests and for nodes that keep no history
 * across restarts. Every stream's epoch is minted at create(), and a new
 * store has no streams, so a restart is always a new epoch.
 *
 * Entries are committed (visible) at append(); flushed() resolves at once.
 */
import { MeshError } from '../base/mod.js';
import type { ConsumerPositionStore } from './consumer-position.js';
import { decodeRecord, encodeRecord } from './entry-record.js';
import { mintEpoch } from './epoch.js';
import { MemoryConsumerPositions } from './memory-consumer-positions.js';
import { checkAppendAt, checkPosition, unknownStream } from './read-position.js';
import { refuseOtherConfig, resolveStreamConfig } from './stream-config.js';
import type { AppendMeta, CreateOptions, ReadResult, StreamConfig, StreamEntry, StreamInfo, StreamStore } from './stream-store.js';

interface MemStream {
  config: Required<StreamConfig>;
  epoch: string;
  /** Records of offsets first..last; `head` is the index of `first` (shifted lazily). */
  recs: Buffer[];
  times: number[];
  head: number;
  first: number;
  last: number;
  bytes: number;
  lastTime: number;
  lastPerTopic: Map<string, number>;
}

export interface MemoryStreamStoreOptions {
  /** Refuse appends (MG_ERR_STREAM_FULL) once all streams hold this many bytes. @default 0 (no limit) */
  maxStoreBytes?: number;
}

export class MemoryStreamStore implements StreamStore {
  #streams = new Map<string, MemStream>();
  #closed = false;
  #maxStoreBytes: number;
  #storeBytes = 0;

  constructor(options: MemoryStreamStoreOptions = {}) {
    this.#maxStoreBytes = options.maxStoreBytes ?? 0;
  }

  async create(config: StreamConfig, options: CreateOptions = {}): Promise<StreamInfo> {
    this.#open();
    const c = resolveStreamConfig(config);
    const had = this.#streams.get(c.name);
    if (had) {
      refuseOtherConfig(had.config, c);
      return this.#info(had);
    }
    const s: MemStream = {
      config: c,
      epoch: options.epoch ?? mintEpoch(),
      recs: [],
      times: [],
      head: 0,
      first: 1,
      last: 0,
      bytes: 0,
      lastTime: -Infinity,
      lastPerTopic: new Map(),
    };
    this.#streams.set(c.name, s);
    return this.#info(s);
  }

  async remove(name: string): Promise<void> {
    const s = this.#streams.get(name);
    if (!s) return;
    this.#storeBytes -= s.bytes;
    this.#streams.delete(name);
  }

  list(): StreamInfo[] {
    return [...this.#streams.values()].map((s) => this.#info(s));
  }

  info(name: string): StreamInfo | undefined {
    const s = this.#streams.get(name);
    return s && this.#info(s);
  }

  append(stream: string, entry: Uint8Array, meta: AppendMeta): number {
    return this.#append(this.#stream(stream), entry, meta);
  }

  appendAt(stream: string, offset: number, entry: Uint8Array, meta: AppendMeta): void {
    const s = this.#stream(stream);
    checkAppendAt(stream, offset, s.last, s.first > s.last);
    if (offset > s.last + 1) {
      // Empty: the stream starts at `offset` (the dead prefix is all of recs).
      s.head = s.recs.length;
      s.first = offset;
      s.last = offset - 1;
    }
    this.#append(s, entry, meta);
  }

  #stream(stream: string): MemStream {
    this.#open();
    const s = this.#streams.get(stream);
    if (!s) throw new MeshError('MG_ERR_STREAM_UNKNOWN', `stream ${stream}: no such stream`);
    return s;
  }

  #append(s: MemStream, entry: Uint8Array, meta: AppendMeta): number {
    const stream = s.config.name;
    const time = Math.max(meta.time, s.lastTime);
    const rec = encodeRecord(time, meta.topic, entry);
    if (this.#maxStoreBytes > 0 && this.#storeBytes + rec.length > this.#maxStoreBytes) {
      throw new MeshError(
        'MG_ERR_STREAM_FULL',
        `stream store full: ${this.#storeBytes} of maxStoreBytes ${this.#maxStoreBytes} used; append to ${stream} refused`,
      );
    }
    const offset = ++s.last;
    s.recs.push(rec);
    s.times.push(time);
    s.bytes += rec.length;
    this.#storeBytes += rec.length;
    s.lastTime = time;
    s.lastPerTopic.set(meta.topic, offset);
    this.#retain(s, time);
    return offset;
  }

  flushed(): Promise<void> {
    return Promise.resolve();
  }

  read(stream: string, after: number, limit: number, epoch?: string): ReadResult {
    const s = this.#streams.get(stream);
    if (!s) return unknownStream();
    const refusal = checkPosition(after, s.first, s.last, s.epoch, epoch);
    if (refusal) return refusal;
    const entries: StreamEntry[] = [];
    for (let o = after + 1; o <= s.last && entries.length < limit; o++) {
      entries.push(decodeRecord(o, s.recs[s.head + (o - s.first)]!)!);
    }
    return { ok: true, entries, last: s.last, epoch: s.epoch };
  }

  readable(): Promise<void> {
    return Promise.resolve(); // read() answers from the store itself
  }

  seekTime(stream: string, time: number): number | undefined {
    const s = this.#streams.get(stream);
    if (!s) return undefined;
    let lo = s.head;
    let hi = s.times.length; // first index with times[i] >= time
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
      if (offset >= s.first && (!match || match(topic))) out.set(topic, offset);
    }
    return out;
  }

  async trim(now: number): Promise<void> {
    for (const s of this.#streams.values()) {
      this.#retain(s, now);
      for (const [topic, offset] of s.lastPerTopic) if (offset < s.first) s.lastPerTopic.delete(topic);
    }
  }

  readonly #positions = new MemoryConsumerPositions();
  consumerPositions(): ConsumerPositionStore {
    return this.#positions;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new MeshError('MG_ERR_STREAM_CLOSED', 'stream store is closed');
  }

  /** Drops the oldest entries while a limit is passed. Amortized O(1) per append. */
  #retain(s: MemStream, now: number): void {
    const { maxEvents, maxBytes, maxAgeMs } = s.config;
    while (s.first <= s.last) {
      const over =
        (maxEvents > 0 && s.last - s.first + 1 > maxEvents) || (maxBytes > 0 && s.bytes > maxBytes) || (maxAgeMs > 0 && s.times[s.head]! < now - maxAgeMs);
      if (!over) break;
      const len = s.recs[s.head]!.length;
      s.bytes -= len;
      this.#storeBytes -= len;
      s.recs[s.head] = undefined as unknown as Buffer; // let the record go now
      s.head++;
      s.first++;
    }
    // Compact once the dead prefix outweighs the live part.
    if (s.head > 1024 && s.head > s.recs.length - s.head) {
      s.recs = s.recs.slice(s.head);
      s.times = s.times.slice(s.head);
      s.head = 0;
    }
  }

  #info(s: MemStream): StreamInfo {
    return { name: s.config.name, config: s.config, epoch: s.epoch, first: s.first, last: s.last, events: s.last - s.first + 1, bytes: s.bytes };
  }
}
