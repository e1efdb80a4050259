/**
 * One stream subscription of a /v1/ws connection (`sub` with `stream`):
 * the entries of a stream that match a filter, from a start position on,
 * each delivered with its offset as a stream item of the connection's
 * codec.
 *
 * The read loop (store-fed, no seam between replay and live, paged under
 * a quarter of limits.maxBufferedBytes, woken by uWS's drain) is
 * broker/streams/stream-reader.ts, shared with the resuming SSE stream;
 * this file is the WebSocket side of it: the session as the reader's sink.
 */

import type { MeshEvent } from '../event/mod.js';
import type { StreamManager } from '../streams/mod.js';
import { type StreamEntry, type StreamReadEnd, StreamReader, sinkOn, storedPeerEntry } from '../streams/mod.js';
import type { ClientCodec, Ref } from './client-protocol.js';
import type { WsSession } from './ws-session.js';

/** Why a stream subscription ended on its own: a read refused (retention overtook it, the stream was removed or re-created). */
export type StreamSubEnd = (frame: Record<string, unknown>) => void;

export class StreamSubscription {
  readonly stream: string;
  readonly filter: string;
  readonly #reader: StreamReader;

  constructor(o: {
    streams: StreamManager;
    session: WsSession;
    codec: ClientCodec;
    stream: string;
    filter: string;
    epoch: string;
    /** Deliver entries with offsets > after. */
    after: number;
    /** Entries to deliver first (`last-per-topic`), see StreamReader. */
    picks?: readonly number[];
    onEnd: StreamSubEnd;
  }) {
    const { session, codec, stream } = o;
    this.stream = stream;
    this.filter = o.filter;
    this.#reader = new StreamReader({
      streams: o.streams,
      stream,
      filter: o.filter,
      epoch: o.epoch,
      after: o.after,
      picks: o.picks,
      sink: sinkOn(session, {
        deliverEntry: (event: MeshEvent, offset: number) => {
          const item = codec.streamItem(event, stream, offset);
          session.deliver(item, event);
          return item.byteLength;
        },
        deliverStored: (entry: StreamEntry) => {
          const peerEntry = codec.storedStreamItem === undefined ? null : storedPeerEntry(entry.bytes);
          const item = peerEntry === null ? null : codec.storedStreamItem!(peerEntry, stream, entry.offset);
          if (item === null) return -1;
          session.deliverItem(item, entry.topic);
          return item.byteLength;
        },
      }),
      onEnd: (end: StreamReadEnd) =>
        o.onEnd({ code: end.code, reason: end.reason, first: end.first, last: end.last, epoch: end.epoch, position: end.position }),
    });
  }

  /** Offset of the last entry handed over. */
  get position(): number {
    return this.#reader.position;
  }

  /** Reads on the next loop turn (after the session's flush, so its buffered bytes are current). */
  wake(): void {
    this.#reader.wake();
  }

  stop(): void {
    this.#reader.stop();
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
