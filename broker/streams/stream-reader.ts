/**
 * Reads a stream for one subscriber, whatever its transport (a /v1/ws
 * stream subscription, a resuming Server-Sent Events stream): the entries
 * that match a filter, from a start position on, each handed over with
 * its offset.
 *
 * It is fed only from the store, never from the live route: a position
 * (the last offset handed over) and a loop that pages read() from it,
 * woken by onAppended after each commit. Every event the stream matches
 * is appended before it is acked, and read() shows committed entries in
 * offset order, so replay and live are one sequence: nothing published
 * during the replay is skipped or sent twice at the seam, because there is
 * no seam.
 *
 *   start ─> position ─ read(after=position, PAGE) ─> sink.deliverEntry ─> position = last read
 *              ^                                                            │
 *              └── onAppended / sink drained (wake) / next turn ────────────┘
 *
 * Backpressure: a page is read only while the sink's unsent bytes are
 * below a quarter of its maxBufferedBytes, and a page stops early once it
 * has queued that much; a reader far behind waits for the transport to
 * drain (the transport calls wake()), so it holds at most about one page
 * in server memory, never the backlog.
 */

import { filterMatches } from '../../routing/mod.js';
import type { MeshEvent } from '../event/mod.js';
import { NextTurn } from './next-turn.js';
import { decodeStoredEvent, type StreamManager } from './stream-manager.js';
import type { ReadResult, StreamEntry } from './stream-store.js';
import type { TransportState } from './transport-state.js';

/** Most entries read per page: one batch frame's worth. */
const PAGE = 256;
/** Wait before fetching again after a caching engine's fetch failed (its server is away). */
const REFETCH_MS = 1000;

/** Where a reader delivers: a transport's session, seen through what the read loop needs. */
export interface StreamReaderSink extends TransportState {
  /** Hands over one matching entry; returns the bytes it queued. */
  deliverEntry(event: MeshEvent, offset: number): number;
  /**
   * Hands over one matching entry as stored, undecoded, for a transport
   * that sends the bytes as they are (a peer reading the stream for a
   * subscriber on its node, a CBOR WebSocket splicing them into its item).
   * Returns the bytes it queued, or -1 when it cannot take this entry: the
   * reader then decodes it for deliverEntry. Absent: always deliverEntry.
   */
  readonly deliverStored?: (entry: StreamEntry) => number;
}

/** A read the store refused (retention overtook the reader, the stream was removed or re-created), and where the reader stood. */
export type StreamReadEnd = Extract<ReadResult, { ok: false }> & { readonly position: number };

export class StreamReader {
  readonly stream: string;
  readonly filter: string;
  readonly #streams: StreamManager;
  readonly #sink: StreamReaderSink;
  readonly #epoch: string;
  readonly #onEnd: (end: StreamReadEnd) => void;
  /** Offset of the last entry handed over (delivered or skipped by the filter). */
  #position: number;
  /** `last-per-topic`: offsets (ascending, all <= the start position) still to hand over before the sequential read. */
  readonly #picks: readonly number[];
  #pick = 0;
  readonly #turn = new NextTurn(() => this.#step());
  #stopped = false;
  readonly #unlisten: () => void;

  constructor(o: {
    streams: StreamManager;
    sink: StreamReaderSink;
    stream: string;
    filter: string;
    /** The epoch the positions belong to: a read in another epoch ends the reader. */
    epoch: string;
    /** Deliver entries with offsets > after. */
    after: number;
    /** Entries to hand over first, ascending offsets <= after (startAfter's `picks` for `last-per-topic`); one pruned meanwhile is skipped. */
    picks?: readonly number[];
    /** Called once when a read is refused; the reader has stopped. */
    onEnd: (end: StreamReadEnd) => void;
  }) {
    this.#streams = o.streams;
    this.#sink = o.sink;
    this.stream = o.stream;
    this.filter = o.filter;
    this.#epoch = o.epoch;
    this.#position = o.after;
    this.#picks = o.picks ?? [];
    this.#onEnd = o.onEnd;
    this.#unlisten = o.streams.onAppended(o.stream, () => this.wake());
    this.wake();
  }

  /** Offset of the last entry handed over. */
  get position(): number {
    return this.#position;
  }

  /** Reads on the next loop turn (after the transport's flush, so its buffered bytes are current). */
  wake(): void {
    if (!this.#stopped) this.#turn.schedule();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unlisten();
  }

  #step(): void {
    const sink = this.#sink;
    if (this.#stopped) return;
    if (sink.closed) return this.stop();
    const low = sink.maxBufferedBytes / 4;
    // Behind a slow transport: its drain calls wake().
    if (sink.bufferedBytes > low) return;
    if (this.#pick < this.#picks.length) return this.#stepPicks(low);
    const r = this.#read(this.#position, PAGE);
    if (r === null) return;
    let queued = 0;
    let delivered = 0;
    let i = 0;
    for (; i < r.entries.length && queued < low; i++) {
      const entry = r.entries[i]!;
      this.#position = entry.offset;
      if (!filterMatches(this.filter, entry.topic)) continue;
      const n = this.#deliver(entry);
      if (n < 0) continue; // a format this build cannot read: skipped, as a filter miss
      queued += n;
      delivered++;
    }
    if (delivered > 0) this.#streams.countRead(this.stream, delivered);
    if (this.#position < r.last) this.wake();
  }

  /** One entry per pick, each read on its own (they are sparse: one per topic). */
  #stepPicks(low: number): void {
    let queued = 0;
    let delivered = 0;
    while (this.#pick < this.#picks.length && queued < low) {
      const offset = this.#picks[this.#pick]!;
      const info = this.#streams.info(this.stream);
      // Trimmed since the start: that topic has no newer entry up to the start position, so nothing is owed for it.
      if (info !== undefined && info.epoch === this.#epoch && offset < info.first) {
        this.#pick++;
        continue;
      }
      const r = this.#read(offset - 1, 1);
      if (r === null) return;
      this.#pick++;
      const entry = r.entries[0];
      if (entry?.offset !== offset || !filterMatches(this.filter, entry.topic)) continue;
      const n = this.#deliver(entry);
      if (n < 0) continue;
      queued += n;
      delivered++;
    }
    if (delivered > 0) this.#streams.countRead(this.stream, delivered);
    this.wake();
  }

  /** Hands `entry` to the sink, as stored when it can take that; the bytes queued, or -1 for a format this build cannot read. */
  #deliver(entry: StreamEntry): number {
    const spliced = this.#sink.deliverStored?.(entry) ?? -1;
    if (spliced >= 0) return spliced;
    const event = decodeStoredEvent(entry.bytes);
    return event === null ? -1 : this.#sink.deliverEntry(event, entry.offset);
  }

  /**
   * read() from `after`, or null when the reader must wait: the read was
   * refused (the reader has ended) or a caching engine is fetching the page
   * (the reader is woken when it is in).
   */
  #read(after: number, limit: number): Extract<ReadResult, { ok: true }> | null {
    const r = this.#streams.read(this.stream, after, limit, this.#epoch);
    if (!r.ok) {
      this.stop();
      this.#onEnd({ ...r, position: this.#position });
      return null;
    }
    if (r.entries.length === 0 && after < r.last) {
      // A caching engine (JetStream) answers from memory only: fetch, then read again.
      this.#streams.readable(this.stream, after, limit).then(
        () => this.wake(),
        () => setTimeout(() => this.wake(), REFETCH_MS).unref(),
      );
      return null;
    }
    return r;
  }
}

/**
 * Where a reader starts, as a client names it (the /v1/ws `sub` `from`,
 * the SSE `from` parameter): `first` (the oldest retained entry), `last`
 * (the newest entry matching the filter, then live), `last-per-topic` (the
 * newest entry of each matching topic, in offset order, then live), `new`
 * (only entries appended from now on), an offset (start AT it) or a time
 * (ms since the epoch: the first entry appended at or after it).
 */
export type StreamStart = 'first' | 'last' | 'last-per-topic' | 'new' | { readonly offset: number } | { readonly time: number };

/**
 * The offset to read after for `from` on stream `name` (entries > it are
 * delivered), or the refusal when an explicit offset is not recoverable.
 * `last`: the newest entry matching `filter` (none: from new).
 */
export function startAfter(
  streams: StreamManager,
  name: string,
  filter: string,
  from: StreamStart,
):
  | { ok: true; after: number; picks?: number[] }
  | { ok: false; code: 'MG_ERR_STREAM_UNKNOWN' | 'MG_ERR_STREAM_BEYOND_END' | 'MG_ERR_STREAM_PRUNED'; message: string } {
  const info = streams.info(name);
  if (info === undefined) return { ok: false, code: 'MG_ERR_STREAM_UNKNOWN', message: `no stream '${name}'` };
  if (from === 'first') return { ok: true, after: info.first - 1 };
  if (from === 'new') return { ok: true, after: info.last };
  if (from === 'last') {
    const last = streams.lastMatching(name, (topic) => filterMatches(filter, topic)) ?? 0;
    return { ok: true, after: last > 0 ? last - 1 : info.last };
  }
  if (from === 'last-per-topic') {
    const picks = streams.latestPerTopic(name, (topic) => filterMatches(filter, topic)) ?? [];
    return { ok: true, after: info.last, picks: picks.filter((offset) => offset <= info.last) };
  }
  if ('offset' in from) {
    const after = from.offset - 1;
    if (after > info.last)
      return { ok: false, code: 'MG_ERR_STREAM_BEYOND_END', message: `offset ${from.offset} is after the end of stream '${name}' (last ${info.last})` };
    if (after < info.first - 1)
      return { ok: false, code: 'MG_ERR_STREAM_PRUNED', message: `offset ${from.offset} of stream '${name}' was trimmed by retention (first ${info.first})` };
    return { ok: true, after };
  }
  return { ok: true, after: (streams.seekTime(name, from.time) ?? info.last + 1) - 1 };
}
