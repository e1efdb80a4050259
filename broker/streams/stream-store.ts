/**
 * The StreamStore seam: one interface, several engines (memory for tests,
 * lmdb embedded, NATS JetStream), one contract suite run against each
 * (test/broker/streams/contract.ts).
 *
 * Shape (DESIGN.md, streams): writes are appended synchronously and
 * committed asynchronously in groups; reads are synchronous.
 *
 *   append() ──> offset (sync, no promise per event)
 *        │
 *        ▼  one write transaction per event-loop turn ('group'),
 *           or one fsync'd transaction per append ('sync')
 *   flushed() resolves ──> the entries are on disk AND visible to read()
 *
 * A reader never sees an entry that a crash could take back: read(),
 * info().last and seekTime() only show committed entries, so an offset a
 * consumer has seen is never reassigned to another event.
 *
 * Offsets are per-stream sequence numbers starting at 1 (0 = "before the
 * first"), plain `number`s bounded by Number.MAX_SAFE_INTEGER (2^53-1: 285
 * years at a million events per second), stored as 8-byte big-endian keys.
 * Each stream has an epoch, minted when the stream is created; a position
 * is only meaningful with the epoch it was read in.
 */

import type { ConsumerPositionStore } from './consumer-position.js';

/** A stream's configuration. Limits of 0 mean "no limit". */
export interface StreamConfig {
  /** 1-64 characters of `A-Z a-z 0-9 _ -`. */
  readonly name: string;
  /** Topic filters whose events the owner stores here (matched by the owner, not the store). @default [] */
  readonly filters?: readonly string[];
  /** Drop entries older than this, in ms of append time. @default 0 (keep) */
  readonly maxAgeMs?: number;
  /** Keep at most this many bytes of entries (payload, topic and a 10-byte header each). @default 0 */
  readonly maxBytes?: number;
  /** Keep at most this many entries. @default 0 */
  readonly maxEvents?: number;
}

/** What append() is told about an entry besides its bytes. */
export interface AppendMeta {
  /** Append time, ms since the epoch. Clamped to be non-decreasing per stream, so seekTime() is a binary search and age retention trims a prefix. */
  readonly time: number;
  /** The event's canonical topic. */
  readonly topic: string;
}

export interface StreamEntry {
  readonly offset: number;
  readonly time: number;
  readonly topic: string;
  /** The appended bytes. A view the caller owns; the store keeps its own copy. */
  readonly bytes: Uint8Array;
}

export interface StreamInfo {
  readonly name: string;
  readonly config: Required<StreamConfig>;
  readonly epoch: string;
  /** Offset of the oldest retained entry; last + 1 when empty. */
  readonly first: number;
  /** Offset of the newest committed entry; 0 before the first. */
  readonly last: number;
  readonly events: number;
  readonly bytes: number;
}

export type NotRecoverable = 'pruned' | 'epoch' | 'unknown-stream' | 'beyond-end';

export type ReadResult =
  | { readonly ok: true; readonly entries: StreamEntry[]; readonly last: number; readonly epoch: string }
  | {
      readonly ok: false;
      readonly reason: NotRecoverable;
      /** The MG_ERR_STREAM_* code a caller reports for this reason. */
      readonly code: 'MG_ERR_STREAM_PRUNED' | 'MG_ERR_STREAM_EPOCH' | 'MG_ERR_STREAM_UNKNOWN' | 'MG_ERR_STREAM_BEYOND_END';
      /** Where the stream stands now (0 / '' for an unknown stream), so the caller can resume. */
      readonly first: number;
      readonly last: number;
      readonly epoch: string;
    };

export type Durability = 'group' | 'sync';

export interface CreateOptions {
  /** The epoch of the new stream (16 hex digits as minted, or a source's); omitted: minted. */
  readonly epoch?: string;
}

export interface StreamStore {
  /**
   * Creates a stream; an existing one with the same config is returned as
   * is. `epoch`: the new stream takes this epoch instead of minting one (a
   * mirror follows its source's epoch; engines that derive epochs
   * themselves, JetStream, refuse it with MG_ERR_STREAM_INVALID). Throws
   * MG_ERR_STREAM_INVALID / _EXISTS.
   */
  create(config: StreamConfig, options?: CreateOptions): Promise<StreamInfo>;
  /** Removes a stream and its entries; appends to it are refused at once. No-op for an unknown name. */
  remove(name: string): Promise<void>;
  list(): StreamInfo[];
  info(name: string): StreamInfo | undefined;
  /**
   * Queues an entry and returns its offset. Copies `entry`. Throws a
   * MeshError (MG_ERR_STREAM_UNKNOWN, _FULL, _CLOSED) when refused, in
   * which case nothing was queued.
   */
  append(stream: string, entry: Uint8Array, meta: AppendMeta): number;
  /**
   * Queues an entry AT `offset` (a mirror keeps its source's offsets):
   * `offset` must be the next one (last appended + 1), or, while the
   * stream holds nothing, any later one: the stream then starts there
   * (first = offset), as if retention had dropped what came before. Else
   * MeshError MG_ERR_STREAM_INVALID, nothing queued; otherwise as
   * append(). Engines that number entries themselves accept only the next
   * offset (JetStream).
   */
  appendAt(stream: string, offset: number, entry: Uint8Array, meta: AppendMeta): void;
  /**
   * The durability watermark: resolves once every append made before the
   * call is committed (on disk for persistent engines); rejects with a
   * MeshError (MG_ERR_STREAM_FULL or _IO) if any of them was not stored.
   * One promise per commit group, not per event.
   */
  flushed(): Promise<void>;
  /**
   * Up to `limit` committed entries with offset > `after`. `epoch`, when
   * given, must be the stream's current one.
   */
  read(stream: string, after: number, limit: number, epoch?: string): ReadResult;
  /**
   * Resolves once read(stream, after, limit) can answer from memory. An
   * engine that caches (JetStream) may return fewer entries than exist,
   * even none while `after` < last; a caller pages on after awaiting this.
   * Engines that read locally (memory, lmdb) resolve at once.
   */
  readable(stream: string, after: number, limit: number): Promise<void>;
  /** First offset whose time is >= `time`; last + 1 if none. undefined for an unknown stream. */
  seekTime(stream: string, time: number): number | undefined;
  /** topic -> offset of the newest retained entry on it (optionally only topics `match` accepts). */
  lastPerTopic(stream: string, match?: (topic: string) => boolean): Map<string, number> | undefined;
  /** Applies age retention as of `now` (ms). The owner calls it periodically; resolves when committed. */
  trim(now: number): Promise<void>;
  /** Where durable consumers of this store's streams keep their positions: the same engine, as durable as the streams. One per store. */
  consumerPositions(): ConsumerPositionStore;
  /** Flushes what is queued, then releases the store (and its directory lock). Idempotent. */
  close(): Promise<void>;
}
