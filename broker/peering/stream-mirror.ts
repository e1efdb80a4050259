/**
 * A mirror: a local stream filled by a remote read of a stream a peer
 * holds (config `streams: [{name, mirror: {stream, node?}}]`), for a
 * region that must read locally. It keeps the source's offsets (each entry
 * is written at its source offset, StreamStore.appendAt) and its epoch
 * (the local stream is created with the source's epoch), so a position
 * read on the mirror is a position on the source and back.
 *
 *   start: local last L, epoch E ── sread from L+1 in E ──> holder
 *          (L = 0, nothing held: from first, no epoch; the mirror takes
 *           the epoch the holder answers with)
 *   sent   ── appendAt(offset) ... ── committed ── release (credit) ──>
 *   outage (link, holder or this node down): resumes from its own last
 *          offset, in its epoch, when the holder is reachable again
 *   the source was re-created (epoch), or trimmed past the mirror's end
 *   while it was away (pruned): the mirror starts over: removed, created
 *   empty, read from the source's first entry, in the source's epoch
 *
 * Entries are acknowledged to the holder (credit) only once committed
 * here, so at most one credit window is in flight or in memory.
 */
import type { Metric } from '../base/mod.js';
import type { MirrorSource, StreamConfig, StreamManager } from '../streams/mod.js';
import type { RemoteEntry, RemoteRead, RemoteReadEnd, RemoteStreams } from './remote-streams.js';

/** Wait before starting over after the source refused the mirror's position, or after a failed local write. */
const RETRY_MS = 1000;

export class StreamMirror {
  readonly name: string;
  readonly source: MirrorSource;
  readonly #remote: RemoteStreams;
  readonly #streams: StreamManager;
  readonly #config: StreamConfig;
  readonly #log: (line: string) => void;
  #read: RemoteRead | null = null;
  /** Writes run one after another: entries, epoch adoption, resets. */
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #stopListening: () => void;
  readonly #resets: Metric;

  constructor(o: { remote: RemoteStreams; streams: StreamManager; config: StreamConfig; source: MirrorSource; resets: Metric; log: (line: string) => void }) {
    this.name = o.config.name;
    this.source = o.source;
    this.#remote = o.remote;
    this.#streams = o.streams;
    this.#config = { ...o.config, filters: [] };
    this.#resets = o.resets;
    this.#log = o.log;
    // A peer's stream list arrived (a link came up, a stream was created): try to open the read.
    this.#stopListening = o.remote.onHoldersChanged(() => this.#open());
    this.#open();
  }

  /** Stops the read; what is committed stays. */
  close(): void {
    this.#closed = true;
    this.#stopListening();
    this.#read?.stop();
    this.#read = null;
  }

  #open(): void {
    if (this.#closed || this.#read !== null) return;
    const found = this.#remote.holder(this.source.stream, this.source.node);
    if (!found.ok) return; // waits for the next stream list
    const info = this.#streams.info(this.name);
    if (info === undefined) return;
    const empty = info.last === 0 || info.first > info.last;
    const read = this.#remote.open(found, {
      stream: this.source.stream,
      filter: '>',
      from: empty ? 'first' : { offset: info.last + 1 },
      ...(empty ? {} : { epoch: info.epoch }),
      sink: {
        started: (s) => this.#then(() => this.#adopt(s.epoch)),
        entries: (list) => this.#then(() => this.#write(read, list)),
        ended: (end) => this.#then(() => this.#ended(read, end)),
      },
    });
    this.#read = read;
  }

  #then(step: () => Promise<void> | void): void {
    this.#chain = this.#chain.then(step).catch((err: unknown) => {
      // A local write failed (disk full, store closing): start over from what is committed.
      this.#log(`mirror ${this.name}: ${(err as Error).message}; resuming from its last committed offset`);
      this.#read?.stop();
      this.#read = null;
      // What was queued before the failure lands first, so the resume starts after it.
      void this.#streams
        .mirrorFlushed(this.name)
        .catch(() => undefined)
        .then(() => this.#restart(RETRY_MS));
    });
  }

  /** An empty mirror takes the source's epoch (it was created before the source was reachable). */
  async #adopt(epoch: string): Promise<void> {
    const info = this.#streams.info(this.name);
    if (info === undefined || info.epoch === epoch) return;
    await this.#streams.remove(this.name);
    await this.#streams.create(this.#config, { mirror: true, epoch });
  }

  async #write(read: RemoteRead, list: readonly RemoteEntry[]): Promise<void> {
    if (read !== this.#read) return;
    for (const e of list) this.#streams.appendAt(this.name, e.offset, e.bytes, { time: e.time, topic: e.topic });
    await this.#streams.mirrorFlushed(this.name);
    let bytes = 0;
    for (const e of list) bytes += e.bytes.byteLength;
    read.release(list.length, bytes);
  }

  async #ended(read: RemoteRead, end: RemoteReadEnd): Promise<void> {
    if (read !== this.#read) return;
    this.#read = null;
    if (end.reason === 'epoch' || end.reason === 'pruned' || end.reason === 'beyond-end') {
      // The source's history is not the mirror's any more: start over from its first entry.
      this.#resets.inc();
      this.#log(`mirror ${this.name}: source ${this.source.stream} refused offset ${this.#streams.info(this.name)?.last ?? 0} (${end.reason}); starting over`);
      await this.#streams.remove(this.name);
      await this.#streams.create(this.#config, { mirror: true, ...(end.epoch === '' ? {} : { epoch: end.epoch }) });
      this.#restart(0);
      return;
    }
    // The source stream is gone (unknown) or ended otherwise: wait for it to be advertised again.
    this.#log(`mirror ${this.name}: source ${this.source.stream}: ${end.code} ${end.message}`);
    this.#restart(RETRY_MS);
  }

  #restart(delayMs: number): void {
    this.#read?.stop();
    this.#read = null;
    if (delayMs === 0) return this.#open();
    setTimeout(() => this.#open(), delayMs).unref();
  }
}
