/**
 * Ack chaining. An event that arrived from a peer is acknowledged to that
 * peer only once every link it was forwarded on has acknowledged it in
 * turn (or dropped it, counted). So an event in transit through a node is
 * always held by some node that has not yet been told "done": killing the
 * node in the middle loses nothing, its upstream replays.
 *
 *   A --e--> B --e--> C          B acks A only after C acks B
 *        <-ack-  <-ack-
 */
export class Completion {
  #pending = 1; // the arming reference, released by arm()
  #onDone: (() => void) | null;

  constructor(onDone: () => void) {
    this.#onDone = onDone;
  }

  /** One more downstream holder must finish before this completes. */
  hold(): void {
    this.#pending++;
  }

  /** A downstream holder finished (acked, or dropped and counted). */
  release(): void {
    if (--this.#pending === 0) {
      const onDone = this.#onDone;
      this.#onDone = null;
      onDone?.();
    }
  }

  /** Called once the forwarding decision is made: completes now if nothing holds it. */
  arm(): void {
    this.release();
  }

  get done(): boolean {
    return this.#pending === 0;
  }
}

/** What an event that arrived from a peer carries into the pipeline. */
export interface Upstream {
  /** Released when every downstream link has acked the event. */
  readonly completion: Completion;
  /** Origin nodes the sender routed the event for (peer-frames destination list). */
  readonly dests: readonly string[];
  /** The sender's send span (`traceparent`), when it traced the event: this node's receive span is its child. */
  readonly parent?: string;
  /**
   * Replayed to this node after it restarted, from a session with its
   * previous instance: that instance may have delivered it already, so it
   * is not delivered locally again (it is still forwarded).
   */
  readonly inDoubt?: boolean;
}
