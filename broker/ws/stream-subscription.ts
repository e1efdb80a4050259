/**
 * One stream subscription of a /v1/ws connection (`sub` with `stream`):
 * the entries of a stream that match a filter, from a start position on,
 * each delivered with its offset.
 *
 * It is fed only from the store, never from the live route: a position
 * (the last offset handed over) and a loop that pages read() from it,
 * woken by onAppended after each commit. Every event the stream matches
 * is appended before it is acked, and read() shows committed entries in
 * offset order, so replay and live are one sequence: nothing published
 * during the replay is skipped or sent twice at the seam, because there is
 * no seam.
 *
 *   sub ─> position ─ read(after=position, PAGE) ─> deliver ─> position = last read
 *            ^                                                   │
 *            └── onAppended / drain / next turn ─────────────────┘
 *
 * Backpressure: a page is read only while the socket's unsent bytes are
 * below a quarter of limits.maxBufferedBytes, and a page stops early once
 * it has queued that much; a replay far behind waits for uWS's drain, so
 * it holds at most about one page in server memory, never the backlog.
 */
import { filterMatches } from '../../routing/mod.js';
import type { StreamManager } from '../streams/mod.js';
import { decodeStoredEvent } from '../streams/mod.js';
import type { ClientCodec, Ref } from './client-protocol.js';
import type { WsSession } from './ws-session.js';

/** Most entries read per page: one batch frame's worth. */
const PAGE = 256;
/** Wait before fetching again after a caching engine's fetch failed (its server is away). */
const REFETCH_MS = 1000;

/** Why a stream subscription ended on its own: a read refused (retention overtook it, the stream was removed or re-created). */
export type StreamSubEnd = (frame: Record<string, unknown>) => void;

export class StreamSubscription {
  readonly stream: string;
  readonly filter: string;
  readonly #streams: StreamManager;
  readonly #session: WsSession;
  readonly #codec: ClientCodec;
  readonly #epoch: string;
  readonly #onEnd: StreamSubEnd;
  /** Offset of the last entry handed over (delivered or skipped by the filter). */
  #position: number;
  #scheduled = false;
  #stopped = false;
  readonly #unlisten: () => void;

  constructor(o: {
    streams: StreamManager;
    session: WsSession;
    codec: ClientCodec;
    stream: string;
    filter: string;
    epoch: string;
    /** Deliver entries with offsets > after. */
    after: number;
    onEnd: StreamSubEnd;
  }) {
    this.#streams = o.streams;
    this.#session = o.session;
    this.#codec = o.codec;
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

  /** Reads on the next loop turn (after the session's flush, so its buffered bytes are current). */
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
    const session = this.#session;
    if (this.#stopped) return;
    if (session.closed) return this.stop();
    const low = session.maxBufferedBytes / 4;
    // Behind a slow socket: the endpoint's drain handler wakes us.
    if (session.bufferedBytes > low) return;
    const r = this.#streams.read(this.stream, this.#position, PAGE, this.#epoch);
    if (!r.ok) {
      this.stop();
      this.#onEnd({ code: r.code, reason: r.reason, first: r.first, last: r.last, epoch: r.epoch, position: this.#position });
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
    let i = 0;
    for (; i < r.entries.length && queued < low; i++) {
      const entry = r.entries[i]!;
      this.#position = entry.offset;
      if (!filterMatches(this.filter, entry.topic)) continue;
      const event = decodeStoredEvent(entry.bytes);
      if (event === null) continue; // a format this build cannot read: skipped, as a filter miss
      const item = this.#codec.streamItem(event, this.stream, entry.offset);
      queued += item.byteLength;
      session.deliver(item, event);
    }
    if (this.#position < r.last) this.wake();
  }
}

/** The err frame of a stream subscription that cannot start or go on: the code and where the stream stands now. */
export function streamErrorFrame(
  ref: Ref | undefined,
  stream: string,
  filter: string,
  end: { code: string; reason: string; first: number; last: number; epoch: string },
  message: string,
): Record<string, unknown> {
  const frame: Record<string, unknown> = {
    op: 'err',
    code: end.code,
    message,
    stream,
    filter,
    reason: end.reason,
    first: end.first,
    last: end.last,
    epoch: end.epoch,
  };
  if (ref !== undefined) frame.ref = ref;
  return frame;
}
