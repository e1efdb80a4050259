import type { MeshEvent } from '../event/mod.js';

/**
 * One way of putting events on the wire. The router encodes each event
 * once per format into an item and hands the same bytes to every
 * subscriber of that format; a subscriber then writes the items it has
 * queued in one loop turn as one frame (`batch`), or one frame each when
 * the format has no batch form (the CloudEvents binding: one event per
 * message). A format must not depend on who receives it.
 */
export interface EgressFormat {
  readonly name: string;
  /** True when frames are binary (not text) WebSocket messages. */
  readonly binary: boolean;
  /** The event's item bytes, encoded once and shared. */
  encode(event: MeshEvent): Uint8Array;
  /** One frame carrying `count` items from `items[from]`; null: each item is its own frame. */
  readonly batch: ((items: readonly Uint8Array[], from: number, count: number) => Uint8Array) | null;
}

/** Somewhere events go: a WebSocket session, a bridge. */
export interface Subscriber {
  readonly format: EgressFormat;
  /**
   * Takes one encoded item. `item` is shared with every other subscriber
   * of the same format and is never mutated, so it may be kept (queued)
   * without copying. Must not throw and must not block: a subscriber
   * buffers and applies its own backpressure policy.
   */
  deliver(item: Uint8Array, event: MeshEvent): void;
  /**
   * Keeps what it takes for readers that tolerate a repeat (a stream: its
   * readers dedup or apply idempotently). An event replayed to a restarted
   * node, which its previous instance may or may not have stored, is
   * delivered to these only: to them a repeat is harmless, a loss is not.
   */
  readonly durable?: boolean;
}
