import type { MeshEvent } from './event.js';

/**
 * One way of putting an event on the wire. The router encodes each event
 * once per format and hands the same bytes to every subscriber of that
 * format, so a format must not depend on who receives it.
 */
export interface EgressFormat {
  readonly name: string;
  /** True when the frame is a binary (not text) WebSocket message. */
  readonly binary: boolean;
  encode(event: MeshEvent): Uint8Array;
}

/** Somewhere events go: a WebSocket session, a peer link, a bridge. */
export interface Subscriber {
  readonly format: EgressFormat;
  /**
   * Takes one encoded event. `frame` is shared with every other subscriber
   * of the same format and is never mutated, so it may be kept (queued)
   * without copying. Must not throw and must not block: a subscriber
   * buffers and applies its own backpressure policy.
   */
  deliver(frame: Uint8Array, event: MeshEvent): void;
}
