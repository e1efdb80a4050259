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
import { decodeStoredEvent, type StreamManager } from './stream-manager.js';
import type { ReadResult, StreamEntry } from './stream-store.js';

/** Most entries read per page: one batch frame's worth. */
const PAGE = 256;
/** Wait before fetching again after a caching engine's fetch failed (its server is away). */
const REFETCH_MS = 1000;

/** Where a reader delivers: a transport's session, seen through what the read loop needs. */
export interface StreamReaderSink {
  /** The transport went away: the reader stops. */
  readonly closed: boolean;
  /** Bytes written to the transport and not yet sent. */
  readonly bufferedBytes: number;
  /** The transport's per-subscriber limit: pages are read only while bufferedBytes is under a quarter of it. */
  readonly maxBufferedBytes: number;
  /** Hands over one matching entry; returns the bytes it queued. */
  deliverEntry(event: MeshEvent, offset: number): number;
  /**
   * When given, matching entries are handed over as stored, undecoded,
   * instead of to deliverEntry (a peer that reads the stream for a
   * subscriber on its node sends the bytes as they are). Returns the
   * bytes it queued; at least a quarter of maxBufferedBytes ends the page.
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
  #scheduled = false;
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
    /** Called once when a read is refused; the reader has stopped. */
    onEnd: (end: StreamReadEnd) => void;
  }) {
    this.#streams = o.streams;
    this.#sink = o.sink;
    this.stream = o.stream;
    this.filter = o.filter;
    this.#epoch = o.epoch;
    this.#position = o.after;
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
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#step();
    });
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
    const r = this.#streams.read(this.stream, this.#position, PAGE, this.#epoch);
    if (!r.ok) {
      this.stop();
      this.#onEnd({ ...r, position: this.#position });
      return;
    }
    if (r.entries.length === 0 && this.#position < r.last) {
      // A caching engine (JetStream) answers from memory only: fetch, then read again.
      this.#streams.readable(this.stream, this.#position, PAGE).then(
        () => this.wake(),
        () => setTimeout(() => this.wake(), REFETCH_MS).unref(),
      );
      return;
    }
    let queued = 0;
    let delivered = 0;
    let i = 0;
    for (; i < r.entries.length && queued < low; i++) {
      const entry = r.entries[i]!;
      this.#position = entry.offset;
      if (!filterMatches(this.filter, entry.topic)) continue;
      if (sink.deliverStored !== undefined) {
        queued += sink.deliverStored(entry);
        delivered++;
        continue;
      }
      const event = decodeStoredEvent(entry.bytes);
      if (event === null) continue; // a format this build cannot read: skipped, as a filter miss
      queued += sink.deliverEntry(event, entry.offset);
      delivered++;
    }
    if (delivered > 0) this.#streams.countRead(this.stream, delivered);
    if (this.#position < r.last) this.wake();
  }
}

/** Where a reader starts, as a client names it (the /v1/ws `sub` `from`, the SSE `from` parameter). */
export type StreamStart = 'first' | 'last' | 'new' | { readonly offset: number } | { readonly time: number };

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
): { ok: true; after: number } | { ok: false; code: 'MG_ERR_STREAM_UNKNOWN' | 'MG_ERR_STREAM_BEYOND_END' | 'MG_ERR_STREAM_PRUNED'; message: string } {
  const info = streams.info(name);
  if (info === undefined) return { ok: false, code: 'MG_ERR_STREAM_UNKNOWN', message: `no stream '${name}'` };
  if (from === 'first') return { ok: true, after: info.first - 1 };
  if (from === 'new') return { ok: true, after: info.last };
  if (from === 'last') {
    const last = streams.lastMatching(name, (topic) => filterMatches(filter, topic)) ?? 0;
    return { ok: true, after: last > 0 ? last - 1 : info.last };
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
