import type { Completion } from '../pipeline/mod.js';
import { type ControlFrame, encodeControl, encodeEventBatch } from './peer-frames.js';

/** What a link needs of a live WebSocket, whichever side opened it. */
export interface PeerConnection {
  /** Writes one binary message. */
  send(bytes: Uint8Array): void;
  /** Bytes written but not yet on the wire. */
  bufferedAmount(): number;
  close(code: number, reason: string): void;
}

export interface PeerLinkOptions {
  /** Events held for this peer (queued and unacked) before new ones overflow. @default 1_000_000 */
  readonly maxBufferedEvents: number;
  /** Bytes held for this peer before new events overflow. @default 268_435_456 */
  readonly maxBufferedBytes: number;
  /** Events sent but not yet acked before sending pauses. @default 20_000 */
  readonly window: number;
  /** Socket bytes not yet written before sending pauses until drain. @default 1_048_576 */
  readonly highWaterBytes: number;
  /** Most events in one batch frame. @default 512 */
  readonly batchEvents: number;
}

export const PEER_LINK_DEFAULTS: PeerLinkOptions = Object.freeze({
  maxBufferedEvents: 1_000_000,
  maxBufferedBytes: 256 * 1024 * 1024,
  window: 20_000,
  highWaterBytes: 1024 * 1024,
  batchEvents: 512,
});

interface Outbound {
  readonly bytes: Uint8Array;
  /** Encoded routing trailer: destination list and hop parent (peer-frames encodeDests, withHopParent). */
  readonly dests: Uint8Array;
  readonly completion: Completion | null;
  seq: number;
}

/** Counters a link keeps for /v1/peers and /metrics. */
export interface PeerLinkStats {
  sentEvents: number;
  sentFrames: number;
  receivedEvents: number;
  receivedFrames: number;
  replayed: number;
  overflow: number;
  acked: number;
  connects: number;
}

/**
 * Everything this node holds for one peer, across reconnects.
 *
 * Outbound: events wait in `#queue`, move to `#unacked` when sent, and
 * leave when the peer acks them. On reconnect every unacked event goes
 * back to the head of the queue, in order, and is sent again: a link flap
 * loses nothing, and the peer's dedup drops what it already had.
 *
 *   enqueue -> [ queue ] --send--> [ unacked ] --ack--> released
 *                 ^                     |
 *                 +------ reconnect ----+
 *
 * Inbound: each received event gets a sequence number in this session;
 * `done(seq)` marks it finished and the cumulative ack advances over the
 * contiguous finished prefix, sent at most once per loop turn.
 */
export class PeerLink {
  readonly peerId: string;
  region: string;
  readonly stats: PeerLinkStats = { sentEvents: 0, sentFrames: 0, receivedEvents: 0, receivedFrames: 0, replayed: 0, overflow: 0, acked: 0, connects: 0 };
  readonly #options: PeerLinkOptions;
  readonly #onOverflow: () => void;
  #conn: PeerConnection | null = null;
  #session = 0;
  #queue: Outbound[] = [];
  #queueHead = 0;
  #unacked: Outbound[] = [];
  #unackedHead = 0;
  #bytesHeld = 0;
  #nextSeq = 1;
  #flushScheduled = false;
  // inbound
  #inDoneUpTo = 0;
  #inDoneAhead = new Set<number>();
  #lastAckSent = 0;
  #ackScheduled = false;
  /** Inbound events up to this sequence number of this session are in doubt (see replayed()). */
  #inDoubtUpTo = 0;
  /** Last measured round-trip time in ms, or -1. */
  rttMs = -1;
  connectedAt = 0;
  lastDownAt = 0;

  constructor(peerId: string, region: string, options: PeerLinkOptions, onOverflow: () => void) {
    this.peerId = peerId;
    this.region = region;
    this.#options = options;
    this.#onOverflow = onOverflow;
  }

  get up(): boolean {
    return this.#conn !== null;
  }

  /** Events held for the peer: queued plus sent-but-unacked. */
  get buffered(): number {
    return this.#queue.length - this.#queueHead + this.#unacked.length - this.#unackedHead;
  }

  get bufferedBytes(): number {
    return this.#bytesHeld;
  }

  /** Bytes written to the current connection and not yet on the wire (0 when down). */
  get socketBufferedBytes(): number {
    return this.#conn?.bufferedAmount() ?? 0;
  }

  /** The session number; inbound completions from an older session are ignored. */
  get session(): number {
    return this.#session;
  }

  /** Starts a new session on `conn`: unacked events are replayed ahead of queued ones. */
  attach(conn: PeerConnection): void {
    this.#conn = conn;
    this.#session++;
    this.stats.connects++;
    this.connectedAt = Date.now();
    this.#nextSeq = 1;
    this.#inDoneUpTo = 0;
    this.#inDoneAhead.clear();
    this.#lastAckSent = 0;
    this.#inDoubtUpTo = 0;
    const replay = this.#unacked.slice(this.#unackedHead);
    this.stats.replayed += replay.length;
    // Tell the peer which events it may have seen before: if it restarted
    // in between, it alone can tell, and must not deliver them twice.
    if (replay.length > 0) this.control({ t: 'replay', n: replay.length });
    this.#unacked = [];
    this.#unackedHead = 0;
    if (replay.length > 0) {
      this.#queue = replay.concat(this.#queue.slice(this.#queueHead));
      this.#queueHead = 0;
    }
    this.#scheduleFlush();
  }

  /** The connection went away; everything held stays for the next session. */
  detach(conn: PeerConnection): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    this.lastDownAt = Date.now();
    this.rttMs = -1;
  }

  control(frame: ControlFrame): void {
    this.#conn?.send(encodeControl(frame));
  }

  /**
   * Holds one encoded event for the peer. Over the buffer bounds the event
   * is not held: it is counted as overflow and its completion released,
   * so upstream is not blocked forever by a peer that is gone.
   */
  enqueue(bytes: Uint8Array, dests: Uint8Array, completion: Completion | null): boolean {
    if (this.buffered >= this.#options.maxBufferedEvents || this.#bytesHeld + bytes.byteLength > this.#options.maxBufferedBytes) {
      this.stats.overflow++;
      this.#onOverflow();
      return false;
    }
    completion?.hold();
    this.#queue.push({ bytes, dests, completion, seq: 0 });
    this.#bytesHeld += bytes.byteLength;
    this.#scheduleFlush();
    return true;
  }

  /** Resumes sending after the socket drained. */
  drained(): void {
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#conn === null) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    const conn = this.#conn;
    if (conn === null) return;
    const { window, highWaterBytes, batchEvents } = this.#options;
    while (this.#queueHead < this.#queue.length) {
      if (this.#unacked.length - this.#unackedHead >= window) return; // resumes on ack
      if (conn.bufferedAmount() > highWaterBytes) return; // resumes on drain
      const end = Math.min(this.#queue.length, this.#queueHead + batchEvents);
      const firstSeq = this.#nextSeq;
      const batch: Uint8Array[] = [];
      const dests: Uint8Array[] = [];
      for (let i = this.#queueHead; i < end; i++) {
        const entry = this.#queue[i];
        entry.seq = this.#nextSeq++;
        batch.push(entry.bytes);
        dests.push(entry.dests);
        this.#unacked.push(entry);
      }
      this.#queueHead = end;
      conn.send(encodeEventBatch(firstSeq, batch, dests));
      this.stats.sentFrames++;
      this.stats.sentEvents += batch.length;
    }
    // Compact once drained so the array does not grow without bound.
    this.#queue = [];
    this.#queueHead = 0;
  }

  /** The peer finished every event up to `seq` of this session. */
  acked(seq: number): void {
    const list = this.#unacked;
    let head = this.#unackedHead;
    while (head < list.length && list[head].seq <= seq) {
      const entry = list[head++];
      this.#bytesHeld -= entry.bytes.byteLength;
      this.stats.acked++;
      entry.completion?.release();
    }
    if (head === list.length) {
      this.#unacked = [];
      this.#unackedHead = 0;
    } else if (head > 4096 && head * 2 > list.length) {
      this.#unacked = list.slice(head);
      this.#unackedHead = 0;
    } else this.#unackedHead = head;
    this.#scheduleFlush();
  }

  /**
   * The peer says the first `n` events of this session were sent on an
   * earlier one. On this process's first session with the peer, "earlier"
   * means to this node's previous instance, which may have delivered them
   * before it died without acking: they are in doubt. On a later session
   * they went to this very process, whose dedup window knows them.
   */
  replayed(n: number): void {
    if (this.stats.connects === 1) this.#inDoubtUpTo = n;
  }

  /** Whether inbound event `seq` of the current session is in doubt (see replayed()). */
  inDoubt(seq: number): boolean {
    return seq <= this.#inDoubtUpTo;
  }

  /** Sequence numbers for a received batch: the caller reports each with done(). */
  received(count: number): void {
    this.stats.receivedFrames++;
    this.stats.receivedEvents += count;
  }

  /** Inbound event `seq` of `session` is finished here (and downstream). */
  done(session: number, seq: number): void {
    if (session !== this.#session) return; // the peer replays it on the new session
    if (seq === this.#inDoneUpTo + 1) {
      this.#inDoneUpTo = seq;
      while (this.#inDoneAhead.delete(this.#inDoneUpTo + 1)) this.#inDoneUpTo++;
    } else if (seq > this.#inDoneUpTo) this.#inDoneAhead.add(seq);
    if (!this.#ackScheduled && this.#inDoneUpTo > this.#lastAckSent) {
      this.#ackScheduled = true;
      setImmediate(() => {
        this.#ackScheduled = false;
        if (this.#conn !== null && this.#inDoneUpTo > this.#lastAckSent && session === this.#session) {
          this.#lastAckSent = this.#inDoneUpTo;
          this.control({ t: 'ack', s: this.#inDoneUpTo });
        }
      });
    }
  }

  /** Closes the current connection, if any (it reconnects per its dialer). */
  close(code: number, reason: string): void {
    const conn = this.#conn;
    if (conn === null) return;
    // What is finished here is acked before the close rather than on the
    // next turn (done() defers acks), which never comes on a node that
    // is shutting down: otherwise the peer replays events this node
    // already delivered, to its next instance, whose new subscribers
    // would get them twice.
    if (this.#inDoneUpTo > this.#lastAckSent) {
      this.#lastAckSent = this.#inDoneUpTo;
      this.control({ t: 'ack', s: this.#inDoneUpTo });
    }
    this.detach(conn);
    conn.close(code, reason);
  }
}
