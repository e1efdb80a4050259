/**
 * One durable consumer: a named reader of a stream whose acknowledged
 * position (AckWindow: floor + acked offsets above it) outlives its
 * clients and the node. Clients (a /v1/ws `consume`, an in-process sink)
 * attach to it; it hands each matching entry to one attached sink, keeps
 * it in flight until acked, and delivers it again when the ack does not
 * come within ackWaitMs, on a nak, or when its sink detaches.
 *
 *   cursor ─ read(after=cursor) ─> skip acked / auto-ack filter misses
 *                                 └> sink.deliver({offset, event, deliveryCount, redelivered})
 *   in flight (<= maxInFlight) ─ ack ─> AckWindow ─> registry saves the position
 *             └─ ackWait expiry / nak / detach ─> due for redelivery (read again by offset)
 *
 * Fed only from the store, like StreamReader: it holds no entry bytes,
 * only offsets, so memory is bounded by maxInFlight (in flight plus due
 * for redelivery) and by MAX_SPAN (how far the cursor may run ahead of
 * the floor while an old offset stays unacked). A sink gets entries only
 * while its unsent bytes are under a quarter of its maxBufferedBytes.
 *
 * Delivery is at least once: a delivery acked but not yet saved when the
 * node dies is delivered again after the restart (marked redelivered). A
 * client that applies each event and records its offset with it sees
 * every event exactly once by skipping offsets it has applied.
 */

import { filterMatches } from '../../routing/mod.js';
import type { MeshEvent } from '../event/mod.js';
import { AckWindow } from './ack-window.js';
import type { ConsumerConfig, ConsumerPosition } from './consumer-position.js';
import { NextTurn } from './next-turn.js';
import { decodeStoredEvent } from './stream-manager.js';
import type { ReadResult } from './stream-store.js';
import type { TransportState } from './transport-state.js';

/** Most entries read per page. */
const PAGE = 256;
/** How far past the floor the cursor may read while an offset below stays unacked (bounds the acked set). */
const MAX_SPAN = 100_000;
/** Pages one step reads at most before yielding the loop. */
const MAX_PAGES_PER_STEP = 16;
/** Wait before fetching again after a caching engine's fetch failed. */
const REFETCH_MS = 1000;

/** One delivery of an entry to a sink. */
export interface ConsumerDelivery {
  readonly stream: string;
  readonly consumer: string;
  readonly offset: number;
  readonly event: MeshEvent;
  /** 1 for the first delivery of this offset, 2 for the first redelivery, ... */
  readonly deliveryCount: number;
  readonly redelivered: boolean;
}

/** Where a consumer delivers: a transport's session, or an in-process sink (bufferedBytes 0, maxBufferedBytes Infinity). */
export interface ConsumerSink extends TransportState {
  /** Hands over one delivery; returns the bytes it queued (0 in process). */
  deliver(d: ConsumerDelivery): number;
}

/** What a consumer reads through (the StreamManager). */
export interface ConsumerSource {
  read(name: string, after: number, limit: number, epoch?: string): ReadResult;
  readable(name: string, after: number, limit: number): Promise<void>;
  onAppended(name: string, listener: (last: number) => void): () => void;
}

export interface ConsumerHooks {
  /** The acked position moved: save it (coalesced by the caller). */
  changed(): void;
  /** An offset went out again (ackWait, nak, detach, node restart). */
  redelivered(): void;
  /** Retention removed offsets the consumer had not acked (they count as acked). */
  pruned(count: number): void;
  /** The stream is gone or was re-created: the consumer is void. */
  ended(reason: string): void;
}

/** Why an ack or nak was refused: the offsets that were not in flight. */
export type AckResult = { readonly ok: true } | { readonly ok: false; readonly notInFlight: readonly number[] };

interface Flight {
  readonly binding: ConsumerBinding;
  readonly deadline: number;
  readonly count: number;
}

interface Due {
  readonly at: number;
  readonly count: number;
}

/** A sink attached to a consumer. */
export class ConsumerBinding {
  readonly consumer: DurableConsumer;
  readonly sink: ConsumerSink;
  detached = false;
  /** Bytes this binding queued in the current step. */
  queued = 0;
  constructor(consumer: DurableConsumer, sink: ConsumerSink) {
    this.consumer = consumer;
    this.sink = sink;
  }
  /** Stops deliveries here; what was in flight to this sink is delivered again (to another sink, or this one's next attach). */
  detach(): void {
    this.consumer.detach(this);
  }
  /** Calls when the transport drained: reads again. */
  wake(): void {
    this.consumer.wake();
  }
}

export class DurableConsumer {
  readonly stream: string;
  readonly name: string;
  readonly epoch: string;
  readonly config: ConsumerConfig;
  readonly created: number;
  readonly #source: ConsumerSource;
  readonly #hooks: ConsumerHooks;
  readonly #now: () => number;
  readonly #window: AckWindow;
  /** Last offset read past (delivered, skipped as acked or as a filter miss). */
  #cursor: number;
  /** Highest offset ever delivered (persisted: marks redeliveries after a restart). */
  #delivered: number;
  /** Sent, not acked; insertion order is deadline order (one ackWait per consumer). */
  readonly #inFlight = new Map<number, Flight>();
  /** Due for delivery again, by offset, not before `at`. */
  readonly #due = new Map<number, Due>();
  #bindings: ConsumerBinding[] = [];
  #rr = 0;
  readonly #turn = new NextTurn(() => this.#step());
  /** A step stopped at a sink's per-step share, not at its transport's backlog: read on next turn (a backlog waits for the drain). */
  #again = false;
  #fetching = false;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;
  #stopped = false;
  readonly #unlisten: () => void;

  constructor(o: { source: ConsumerSource; position: ConsumerPosition; hooks: ConsumerHooks; now?: () => number }) {
    const p = o.position;
    this.stream = p.stream;
    this.name = p.name;
    this.epoch = p.epoch;
    this.config = p.config;
    this.created = p.created;
    this.#source = o.source;
    this.#hooks = o.hooks;
    this.#now = o.now ?? Date.now;
    this.#window = new AckWindow(p.floor, p.acked);
    this.#cursor = this.#window.floor;
    this.#delivered = Math.max(p.delivered, this.#window.floor);
    this.#unlisten = o.source.onAppended(p.stream, () => this.wake());
  }

  /** Every offset <= ackFloor is acknowledged. */
  get ackFloor(): number {
    return this.#window.floor;
  }

  /** Deliveries sent and not acked (those due for redelivery included). */
  get inFlight(): number {
    return this.#inFlight.size + this.#due.size;
  }

  get bindings(): number {
    return this.#bindings.length;
  }

  /** The record the registry saves. */
  position(): ConsumerPosition {
    return {
      stream: this.stream,
      name: this.name,
      epoch: this.epoch,
      config: this.config,
      floor: this.#window.floor,
      acked: this.#window.acked(),
      delivered: this.#delivered,
      created: this.created,
    };
  }

  /** Attaches a sink: deliveries start on the next turn. */
  attach(sink: ConsumerSink): ConsumerBinding {
    const b = new ConsumerBinding(this, sink);
    this.#bindings.push(b);
    this.wake();
    return b;
  }

  detach(b: ConsumerBinding): void {
    if (b.detached) return;
    b.detached = true;
    this.#bindings = this.#bindings.filter((x) => x !== b);
    const now = this.#now();
    for (const [offset, f] of this.#inFlight) {
      if (f.binding !== b) continue;
      this.#inFlight.delete(offset);
      this.#due.set(offset, { at: now, count: f.count });
    }
    this.wake();
  }

  /** Acknowledges offsets. Those not in flight (never delivered, or acked already) are refused and named; the others are acked. */
  ack(offsets: readonly number[]): AckResult {
    const notInFlight: number[] = [];
    let moved = false;
    for (const o of offsets) {
      if (!this.#inFlight.delete(o) && !this.#due.delete(o)) {
        notInFlight.push(o);
        continue;
      }
      moved = this.#window.ack(o) || moved;
    }
    if (moved) this.#hooks.changed();
    this.wake();
    return notInFlight.length === 0 ? { ok: true } : { ok: false, notInFlight };
  }

  /** Negative ack: deliver `offset` again after `delayMs` (0: at once) instead of waiting out ackWait. */
  nak(offset: number, delayMs = 0): AckResult {
    const f = this.#inFlight.get(offset);
    const d = this.#due.get(offset);
    if (f === undefined && d === undefined) return { ok: false, notInFlight: [offset] };
    this.#inFlight.delete(offset);
    this.#due.set(offset, { at: this.#now() + Math.max(0, delayMs), count: f?.count ?? d!.count });
    this.#arm();
    this.wake();
    return { ok: true };
  }

  /** Stops for good (removed, node closing). Sinks get nothing more. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unlisten();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#bindings = [];
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Reads on the next loop turn (after the transports' flush, so buffered bytes are current). */
  wake(): void {
    if (!this.#stopped) this.#turn.schedule();
  }

  /** A binding with room, round robin; null when none has. */
  #ready(): ConsumerBinding | null {
    const n = this.#bindings.length;
    for (let i = 0; i < n; i++) {
      const b = this.#bindings[(this.#rr + i) % n]!;
      if (b.sink.closed) continue;
      const low = b.sink.maxBufferedBytes / 4;
      if (b.sink.bufferedBytes + b.queued <= low) {
        this.#rr = (this.#rr + i + 1) % n;
        return b;
      }
      // Full only with what this step queued: the transport takes it on its flush, then this step's successor goes on.
      if (b.sink.bufferedBytes <= low) this.#again = true;
    }
    return null;
  }

  #step(): void {
    if (this.#stopped) return;
    this.#again = false;
    for (const b of this.#bindings) b.queued = 0;
    const now = this.#now();
    const deliveredBefore = this.#delivered;
    this.#expire(now);
    let progressed = true;
    let pages = 0;
    while (progressed) {
      progressed = false;
      // A long run of filter misses is read over several turns, not in one.
      if (++pages > MAX_PAGES_PER_STEP) {
        this.wake();
        break;
      }
      if (this.#inFlight.size >= this.config.maxInFlight) break;
      if (this.#bindings.length === 0) break;
      // Redeliveries first, oldest offset first: they hold the floor back.
      const redo = this.#nextDue(now);
      if (redo !== undefined) {
        const r = this.#source.read(this.stream, redo - 1, 1, this.epoch);
        if (!r.ok) return this.#refused(r);
        const e = r.entries[0];
        if (e === undefined) return this.#fetch(redo - 1);
        if (e.offset !== redo) {
          // Trimmed by retention since it was delivered.
          this.#due.delete(redo);
          this.#window.ack(redo);
          this.#hooks.pruned(1);
          this.#hooks.changed();
          progressed = true;
          continue;
        }
        const event = decodeStoredEvent(e.bytes);
        const count = this.#due.get(redo)!.count + 1;
        if (event === null) {
          this.#due.delete(redo);
          this.#window.ack(redo);
          this.#hooks.changed();
          progressed = true;
          continue;
        }
        const b = this.#ready();
        if (b === null) break;
        this.#due.delete(redo);
        this.#send(b, redo, event, count, now);
        progressed = true;
        continue;
      }
      if (this.#inFlight.size + this.#due.size >= this.config.maxInFlight) break;
      if (this.#cursor - this.#window.floor >= MAX_SPAN) break;
      // Unfiltered, every entry read is a delivery: read no more than can go out. Filtered, misses are skipped a page at a time.
      const room = this.config.maxInFlight - this.#inFlight.size - this.#due.size;
      const want = this.config.filter === null ? Math.min(PAGE, room) : PAGE;
      const r = this.#source.read(this.stream, this.#cursor, want, this.epoch);
      if (!r.ok) {
        if (r.reason === 'pruned') {
          // Retention overtook the consumer: what is gone counts as done.
          const lost = r.first - 1 - this.#cursor;
          this.#window.skipTo(r.first);
          this.#cursor = r.first - 1;
          this.#hooks.pruned(lost);
          this.#hooks.changed();
          progressed = true;
          continue;
        }
        return this.#refused(r);
      }
      if (r.entries.length === 0) {
        if (this.#cursor < r.last) this.#fetch(this.#cursor);
        break;
      }
      let changed = false;
      const before = this.#cursor;
      for (const e of r.entries) {
        if (this.#window.isAcked(e.offset)) {
          this.#cursor = e.offset;
          continue;
        }
        const filter = this.config.filter;
        const event = filter === null || filterMatches(filter, e.topic) ? decodeStoredEvent(e.bytes) : null;
        if (event === null) {
          // A filter miss, or a format this build cannot read: done, as far as this consumer goes.
          this.#cursor = e.offset;
          changed = this.#window.ack(e.offset) || changed;
          continue;
        }
        const b = this.#ready();
        if (b === null) break;
        this.#cursor = e.offset;
        // Delivered before a restart and not acked: a redelivery.
        this.#send(b, e.offset, event, e.offset <= this.#delivered ? 2 : 1, now);
        progressed = true;
        if (this.#inFlight.size >= this.config.maxInFlight) break;
      }
      if (changed) this.#hooks.changed();
      if (this.#cursor > before) progressed = true; // a page of misses or acked offsets: read on
    }
    this.#arm();
    if (this.#again) this.wake();
    // Saved too (coalesced with the acks' saves), so that after a node restart what went out unacked is marked redelivered.
    if (this.#delivered > deliveredBefore) this.#hooks.changed();
  }

  #send(b: ConsumerBinding, offset: number, event: MeshEvent, count: number, now: number): void {
    this.#inFlight.set(offset, { binding: b, deadline: now + this.config.ackWaitMs, count });
    if (offset > this.#delivered) this.#delivered = offset;
    if (count > 1) this.#hooks.redelivered();
    b.queued += b.sink.deliver({ stream: this.stream, consumer: this.name, offset, event, deliveryCount: count, redelivered: count > 1 });
  }

  /** In-flight deliveries past their deadline become due. */
  #expire(now: number): void {
    for (const [offset, f] of this.#inFlight) {
      if (f.deadline > now) break; // insertion order is deadline order
      this.#inFlight.delete(offset);
      this.#due.set(offset, { at: now, count: f.count });
    }
  }

  #nextDue(now: number): number | undefined {
    let best: number | undefined;
    for (const [offset, d] of this.#due) if (d.at <= now && (best === undefined || offset < best)) best = offset;
    return best;
  }

  /** One timer for the earliest deadline or delayed redelivery. */
  #arm(): void {
    if (this.#stopped) return;
    let at = Infinity;
    const first = this.#inFlight.values().next();
    if (!first.done) at = first.value.deadline;
    // Only future naks: one due now waits for a sink with room, whose attach, drain or ack wakes the consumer (a timer would spin).
    const now = this.#now();
    for (const d of this.#due.values()) if (d.at > now && d.at < at) at = d.at;
    if (at === this.#timerAt && this.#timer !== null) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = at;
    if (at === Infinity) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.#timerAt = Infinity;
        this.#step();
      },
      Math.max(0, at - this.#now()),
    );
    this.#timer.unref();
  }

  /** A caching engine (JetStream) answers from memory only: fetch, then read again. */
  #fetch(after: number): void {
    this.#arm();
    if (this.#fetching) return;
    this.#fetching = true;
    this.#source.readable(this.stream, after, PAGE).then(
      () => {
        this.#fetching = false;
        this.wake();
      },
      () => {
        this.#fetching = false;
        setTimeout(() => this.wake(), REFETCH_MS).unref();
      },
    );
  }

  #refused(r: Extract<ReadResult, { ok: false }>): void {
    // unknown-stream or epoch: the stream this position points into is gone. beyond-end cannot happen (cursor <= last).
    this.stop();
    this.#hooks.ended(r.reason);
  }
}
