/**
 * A /v1/ws stream subscription of a stream a peer holds: the same `sub`
 * with `stream`, the same `ok` (epoch, next), the same stream items with
 * top-level offset and stream, the same `err` when it ends; the entries
 * come from the holder over the peer link (broker/peering/remote-streams.ts)
 * instead of this node's store.
 *
 * Flow: entries are released back to the holder (credit) as soon as the
 * session's unsent bytes are under a quarter of its limit, else when it
 * drains (wake()), so a slow subscriber holds the holder, not this
 * node's memory.
 */
import type { MeshEvent } from '../event/mod.js';
import type { PeerLink, RemoteEntry, RemoteRead, RemoteReadEnd, RemoteStreams } from '../peering/mod.js';
import { decodeStoredEvent, type StreamStart } from '../streams/mod.js';
import type { ClientCodec } from './client-protocol.js';
import type { StreamSub } from './connection-data.js';
import type { WsSession } from './ws-session.js';

export class RemoteStreamSubscription implements StreamSub {
  readonly stream: string;
  readonly filter: string;
  readonly #read: RemoteRead;
  readonly #session: WsSession;
  /** Entries (and their stored bytes) delivered to the session and not yet released to the holder. */
  #unreleased = 0;
  #unreleasedBytes = 0;
  #started = false;

  constructor(o: {
    remote: RemoteStreams;
    /** The holder and the link toward it (RemoteStreams.lookup()). */
    holder: { link: PeerLink; origin: string };
    session: WsSession;
    codec: ClientCodec;
    stream: string;
    filter: string;
    from: StreamStart;
    epoch?: string;
    /** The holder accepted: answer the sub. Called once. */
    onStarted: (s: { epoch: string; next: number; last: number }) => void;
    /** The holder refused the start (started: false) or ended the read later. */
    onEnd: (end: RemoteReadEnd, started: boolean, position: number) => void;
    /** Counts entries handed to the subscriber. */
    countRead: (entries: number) => void;
  }) {
    const { session, codec, stream } = o;
    this.stream = stream;
    this.filter = o.filter;
    this.#session = session;
    this.#read = o.remote.open(o.holder, {
      stream,
      filter: o.filter,
      from: o.from,
      ...(o.epoch === undefined ? {} : { epoch: o.epoch }),
      // In flight plus what is buffered when credit is released stays under the session's slow-consumer limit.
      windowBytes: Math.max(1, Math.floor(session.maxBufferedBytes / 4)),
      sink: {
        started: (s) => {
          if (this.#started) return; // a resume after an outage: the client never knew
          this.#started = true;
          o.onStarted(s);
        },
        entries: (list: readonly RemoteEntry[]) => {
          if (session.closed) return this.stop();
          let delivered = 0;
          for (const entry of list) {
            const event: MeshEvent | null = decodeStoredEvent(entry.bytes);
            if (event === null) continue; // a format this build cannot read: skipped, as locally
            session.deliver(codec.streamItem(event, stream, entry.offset), event);
            delivered++;
          }
          if (delivered > 0) o.countRead(delivered);
          this.#unreleased += list.length;
          for (const entry of list) this.#unreleasedBytes += entry.bytes.byteLength;
          this.wake();
        },
        ended: (end) => o.onEnd(end, this.#started, this.#read.position),
      },
    });
  }

  get position(): number {
    return this.#read.position;
  }

  /** Releases what was delivered once the session has room. */
  wake(): void {
    if (this.#unreleased === 0 || this.#session.bufferedBytes > this.#session.maxBufferedBytes / 4) return;
    this.#read.release(this.#unreleased, this.#unreleasedBytes);
    this.#unreleased = 0;
    this.#unreleasedBytes = 0;
  }

  stop(): void {
    this.#read.stop();
  }
}
