import { type MeshEvent, type StreamManager, StreamReader, type StreamReaderSink } from '../../broker/mod.js';

/** How far a sink has applied, as the target stores it: the feed's name, its epoch and the last offset applied. */
export interface FeedPosition {
  readonly feed: string;
  readonly epoch: string;
  readonly offset: number;
}

/** Changes handed over together; the sink applies them in one target transaction, with `position` written in it. */
export interface ChangeBatch {
  readonly events: readonly MeshEvent[];
  readonly position: FeedPosition;
}

/**
 * Where a sink reads from and how its progress is named: the seam a
 * durable consumer can take over later. A feed hands over batches in order,
 * one at a time (the next only after `apply` resolved); progress is not
 * kept by the feed but by the sink, in the target, in the transaction of
 * the batch, and handed back to start().
 */
export interface ChangeFeed {
  readonly name: string;
  /**
   * Starts after `stored` (the position the target holds; null or of
   * another epoch: from the first retained entry, which the row versions
   * make safe). `apply` rejecting stops the feed; `onStop` says why the
   * feed stopped on its own (its stream was trimmed past it, removed, or
   * `apply` failed). The sink restarts it from the target's position.
   */
  start(stored: FeedPosition | null, apply: (batch: ChangeBatch) => Promise<void>, onStop: (why: string) => void): { after: number; note: string | null };
  stop(): void;
  /** Entries in the feed after the last batch handed over. */
  readonly behind: number;
}

/**
 * A ChangeFeed on a stream of this node, read in-process through the
 * StreamReader (replay and live are one sequence). A batch is one read
 * page, at most `batchSize` entries: the reader delivers synchronously,
 * and the batch is taken on the microtask after; while it is applied the
 * sink reports itself full, so the reader waits and is woken after.
 */
export class StreamChangeFeed implements ChangeFeed, StreamReaderSink {
  readonly name: string;
  readonly #streams: StreamManager;
  readonly #filter: string;
  readonly #batchSize: number;
  #reader: StreamReader | null = null;
  #pending: MeshEvent[] = [];
  #lastOffset = 0;
  #epoch = '';
  #applying = false;
  #flushQueued = false;
  #apply: ((batch: ChangeBatch) => Promise<void>) | null = null;
  #onStop: ((why: string) => void) | null = null;

  constructor(streams: StreamManager, stream: string, filter: string, batchSize: number) {
    this.#streams = streams;
    this.name = stream;
    this.#filter = filter;
    this.#batchSize = batchSize;
  }

  get closed(): boolean {
    return this.#reader === null;
  }

  get bufferedBytes(): number {
    return this.#applying ? Number.POSITIVE_INFINITY : this.#pending.length;
  }

  /** Counted in entries, not bytes: a page stops at batchSize entries. */
  get maxBufferedBytes(): number {
    return this.#batchSize * 4;
  }

  get behind(): number {
    const info = this.#streams.info(this.name);
    return info === undefined ? 0 : Math.max(0, info.last - this.#lastOffset);
  }

  start(stored: FeedPosition | null, apply: (batch: ChangeBatch) => Promise<void>, onStop: (why: string) => void): { after: number; note: string | null } {
    this.stop();
    const info = this.#streams.info(this.name);
    if (info === undefined) throw new Error(`stream ${this.name} does not exist`);
    let after = info.first - 1;
    let note: string | null = null;
    if (stored !== null && stored.feed === this.name && stored.epoch === info.epoch) {
      if (stored.offset > info.last) note = `the target's position ${stored.offset} is past the stream's end ${info.last}; reading from the first entry`;
      else if (stored.offset < info.first - 1)
        note = `entries ${stored.offset + 1}..${info.first - 1} were trimmed by retention before they were applied; reading from ${info.first}`;
      else after = stored.offset;
    } else if (stored !== null) {
      note = `the target's position is of another stream or epoch (${stored.feed} ${stored.epoch}); reading stream ${this.name} from its first entry`;
    }
    this.#apply = apply;
    this.#onStop = onStop;
    this.#epoch = info.epoch;
    this.#lastOffset = after;
    this.#pending = [];
    this.#applying = false;
    this.#reader = new StreamReader({
      streams: this.#streams,
      sink: this,
      stream: this.name,
      filter: this.#filter,
      epoch: info.epoch,
      after,
      onEnd: (end) => this.#stopped(`stream read refused (${end.code}, ${end.reason}) at ${end.position}`),
    });
    return { after, note };
  }

  deliverEntry(event: MeshEvent, offset: number): number {
    this.#pending.push(event);
    this.#lastOffset = offset;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
    return 1;
  }

  #flush(): void {
    this.#flushQueued = false;
    const reader = this.#reader;
    if (reader === null || this.#pending.length === 0) return;
    const events = this.#pending;
    this.#pending = [];
    this.#applying = true;
    const position = { feed: this.name, epoch: this.#epoch, offset: this.#lastOffset };
    this.#apply!({ events, position }).then(
      () => {
        if (this.#reader !== reader) return;
        this.#applying = false;
        reader.wake();
      },
      (err: Error) => {
        if (this.#reader === reader) this.#stopped(err.message);
      },
    );
  }

  #stopped(why: string): void {
    const onStop = this.#onStop;
    this.stop();
    onStop?.(why);
  }

  stop(): void {
    this.#reader?.stop();
    this.#reader = null;
    this.#pending = [];
    this.#applying = false;
  }
}
