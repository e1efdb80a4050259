import type { Lsn } from './lsn.js';

/** One transaction between its Begin and the moment the mesh holds all of it. */
interface Tx {
  /** Changes ingested whose durable write (streams) has not resolved. */
  pending: number;
  /** The Commit message's end LSN, once it arrived. */
  end: Lsn | null;
}

/**
 * Which prefix of the received transactions the mesh holds entirely.
 * A transaction is finished when its Commit arrived and every change of it
 * was accepted (and stored, where a stream matched). The position advances
 * over the contiguous finished prefix only, so a later transaction that
 * finishes first never lets the slot pass an earlier one:
 *
 *   tx:       T1 done   T2 waiting   T3 done
 *   position: end(T1)   (held: T3 waits behind T2)
 */
export class TxTracker {
  readonly #queue: Tx[] = [];
  #open: Tx | null = null;
  /** Changes ingested and not yet stored, across transactions (flow control). */
  inFlight = 0;
  /** Bumped by reset(): a write resolving after it belongs to a stream that is gone. */
  #generation = 0;
  readonly #onAdvance: (position: Lsn) => void;
  /** After each stored change, once `inFlight` counts it out (flow control resumes here). */
  readonly #onStored: () => void;

  constructor(onAdvance: (position: Lsn) => void, onStored: () => void = () => undefined) {
    this.#onAdvance = onAdvance;
    this.#onStored = onStored;
  }

  /** Nothing received is unfinished: a keepalive's position may be confirmed. */
  get idle(): boolean {
    return this.#open === null && this.#queue.length === 0;
  }

  begin(): void {
    this.#open = { pending: 0, end: null };
    this.#queue.push(this.#open);
  }

  /** One change of the open transaction was accepted; `stored` resolves once it is durable. */
  change(stored: Promise<unknown> | undefined): void {
    const tx = this.#open;
    if (tx === null || stored === undefined) return;
    tx.pending++;
    this.inFlight++;
    const generation = this.#generation;
    void stored.then(() => {
      if (generation !== this.#generation) return;
      tx.pending--;
      this.inFlight--;
      this.#onStored();
      this.#advance();
    });
  }

  commit(end: Lsn): void {
    if (this.#open !== null) this.#open.end = end;
    this.#open = null;
    this.#advance();
  }

  /** Forgets everything received (the stream is restarted from the checkpoint). */
  reset(): void {
    this.#generation++;
    this.#queue.length = 0;
    this.#open = null;
    this.inFlight = 0;
  }

  #advance(): void {
    let last: Lsn | null = null;
    while (this.#queue.length > 0 && this.#queue[0].end !== null && this.#queue[0].pending === 0) last = this.#queue.shift()!.end;
    if (last !== null) this.#onAdvance(last);
  }
}
