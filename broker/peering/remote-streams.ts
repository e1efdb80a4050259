/**
 * Streams read across the mesh (issue 14, item 5). A stream lives on the
 * node that stores it, its holder; a subscriber on any other node, or a
 * mirror, reads it through that node's link to the holder. A remote read
 * is a proxy, not a second store: the holder runs the StreamReader it runs
 * for its own subscribers (store-fed, replay then live with no seam) and
 * sends the matching entries as stored, each with its offset; the reader
 * side hands them on with the same offsets.
 *
 *   reader node B                                   holder node A
 *   RemoteRead ── sread {id, n, f, from, e, c} ──>  StreamReader(after)
 *      <── sok {e, next} ─────────────────────────  (or serr: refused)
 *      <── sent {x: [[offset, time, topic, bytes]]}  one credit per entry
 *      ── scredit {c} ──> (sink released entries)
 *      <── serr (pruned, stream removed, re-created) ended
 *      ── sstop ──>        the subscriber left
 *
 * Who holds what: each node's `streams` list (name, epoch of every stream
 * it holds, versioned from the clock) is flooded to every node, and kept
 * while that node is away, so a stream whose holder is away is
 * "unreachable", not unknown. A read goes along the interest route to its
 * holder (PeerMesh.routeTo); a node on the way relays it: it reads toward
 * the holder itself with the reader's credit and hands back what comes,
 * resuming outages upstream of it on its own.
 *
 * Flow control: a read carries credit, in entries and in bytes of stored
 * entries. The holder hands over entries while it has both (the entry
 * that crosses the byte credit still goes, so one large entry never
 * stalls a read) and reads on only after a `scredit`; the reader grants credit as its sink lets
 * entries go (a WebSocket session drained, a mirror committed). Neither
 * side holds more than the window and one page per read.
 *
 * Outages: when the link drops, the holder stops its readers for that
 * link; the reader keeps its position (the last offset it handed on) and,
 * once the link is back, asks again from position + 1 in the same epoch,
 * so nothing is lost or repeated across a link flap or a holder restart.
 *
 * Rights: the reader's node checks its subscriber's rights exactly as for
 * a local stream before it opens a read; the holder trusts the
 * authenticated peer link and filters nothing more.
 */
import type { Metric, MetricsRegistry } from '../base/mod.js';
import { type StreamEntry, type StreamManager, StreamReader, type StreamStart, startAfter } from '../streams/mod.js';
import type { ControlFrame, StreamFromWire } from './peer-frames.js';
import type { PeerLink } from './peer-link.js';
import type { PeerMesh } from './peer-mesh.js';

/** Entries a read may have in flight or unreleased on the reader's side. */
export const REMOTE_READ_WINDOW = 1024;
/** Bytes of stored entries a read may have in flight or unreleased, unless the reader gives its own window. */
export const REMOTE_READ_WINDOW_BYTES = 8 * 1024 * 1024;
/** Bytes of entries the holder puts in one `sent` frame before sending it. */
const FRAME_BYTES = 1024 * 1024;
/** What the holder's reader sees as its sink's buffer limit: pages stop at a quarter (= FRAME_BYTES). */
const HOLDER_BUFFER_BYTES = 4 * FRAME_BYTES;

/** One entry of a remote read: as the holder stores it. */
export interface RemoteEntry {
  readonly offset: number;
  readonly time: number;
  readonly topic: string;
  /** The stored bytes (format byte + peer entry): decode with decodeStoredEvent. */
  readonly bytes: Uint8Array;
}

/** A read the holder refused or ended, and where the stream stands there. */
export interface RemoteReadEnd {
  readonly code: string;
  readonly reason: string;
  readonly message: string;
  readonly first: number;
  readonly last: number;
  readonly epoch: string;
}

/** Where a remote read delivers (a WebSocket stream subscription, a mirror). */
export interface RemoteReadSink {
  /** The holder accepted the read (on the first start and on each resume after an outage). */
  started(s: { readonly epoch: string; readonly next: number; readonly first: number; readonly last: number }): void;
  /** Entries in offset order, each after the last one handed over. Call read.release(n) once done with them. */
  entries(list: readonly RemoteEntry[]): void;
  /** Refused or ended by the holder; the read has stopped. */
  ended(end: RemoteReadEnd): void;
}

/** Where to read a stream, or why not. */
export type HolderLookup =
  | { readonly ok: true; readonly link: PeerLink; readonly origin: string }
  | { readonly ok: false; readonly code: 'MG_ERR_STREAM_UNKNOWN' | 'MG_ERR_STREAM_UNREACHABLE'; readonly message: string };

export interface RemoteStreamsOptions {
  /** This node's id: its own stream list is advertised under it. */
  readonly nodeId: string;
  /** The node's own streams: served to peers, and the names no remote read is needed for. */
  readonly streams: StreamManager;
  readonly metrics: MetricsRegistry;
  /**
   * A stream no peer has advertised is waited for this long after the node
   * started (its links are still coming up), then refused. @default 5000
   */
  readonly lookupGraceMs?: number;
}

/** One read of a remote stream, on the reader's side. */
export class RemoteRead {
  readonly stream: string;
  readonly filter: string;
  readonly holder: string;
  readonly #owner: RemoteStreams;
  readonly #sink: RemoteReadSink;
  readonly #from: StreamStart;
  /** Offset of the last entry handed to the sink; null before the first start. */
  #position: number | null = null;
  #epoch: string | undefined;
  /** The current request id (a new one per (re)start, so late frames of an old one are ignored). */
  id = 0;
  /** The peer the current request went to (the holder, or the next node toward it), and that link's session then. */
  via = '';
  viaSession = 0;
  readonly #window: number;
  readonly #windowBytes: number;
  /** Entries (and their stored bytes) handed to the sink and not yet released. */
  #held = 0;
  #heldBytes = 0;
  /** Released entries (and bytes) not yet granted back to the holder. */
  #owed = 0;
  #owedBytes = 0;
  #creditScheduled = false;
  #stopped = false;

  constructor(
    owner: RemoteStreams,
    o: { stream: string; filter: string; holder: string; from: StreamStart; epoch?: string; window?: number; windowBytes?: number; sink: RemoteReadSink },
  ) {
    this.#owner = owner;
    this.#window = o.window ?? REMOTE_READ_WINDOW;
    this.#windowBytes = o.windowBytes ?? REMOTE_READ_WINDOW_BYTES;
    this.stream = o.stream;
    this.filter = o.filter;
    this.holder = o.holder;
    this.#from = o.from;
    this.#epoch = o.epoch;
    this.#sink = o.sink;
  }

  /** Offset of the last entry handed to the sink (before the first: the one before the start). */
  get position(): number {
    return this.#position ?? 0;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** The sink is done with `n` entries of `bytes` stored bytes: the holder may send as much more. */
  release(n: number, bytes: number): void {
    this.#held -= n;
    this.#owed += n;
    this.#heldBytes -= bytes;
    this.#owedBytes += bytes;
    if (this.#creditScheduled) return;
    this.#creditScheduled = true;
    setImmediate(() => {
      this.#creditScheduled = false;
      if (this.#stopped || this.#owed === 0) return;
      const link = this.#owner.linkOf(this);
      if (link !== null) link.control({ t: 'scredit', id: this.id, c: this.#owed, b: this.#owedBytes });
      this.#owed = 0;
      this.#owedBytes = 0;
    });
  }

  /** Ends the read; the holder is told. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#owner.linkOf(this)?.control({ t: 'sstop', id: this.id });
    this.#owner.forget(this);
  }

  /** (Re)sends the request on `link`, from the position when there is one. */
  request(link: PeerLink, id: number): void {
    this.id = id;
    this.via = link.peerId;
    this.viaSession = link.session;
    // Owed credit is folded into the new request's window.
    this.#owed = 0;
    this.#owedBytes = 0;
    const from: StreamFromWire = this.#position === null ? wireFrom(this.#from) : { offset: this.#position + 1 };
    const frame: ControlFrame = {
      t: 'sread',
      id,
      n: this.stream,
      f: this.filter,
      o: this.holder,
      from,
      c: Math.max(0, this.#window - this.#held),
      b: Math.max(0, this.#windowBytes - this.#heldBytes),
    };
    if (this.#epoch !== undefined) frame.e = this.#epoch;
    link.control(frame);
  }

  onStarted(f: Extract<ControlFrame, { t: 'sok' }>): void {
    this.#epoch = f.e;
    if (this.#position === null) this.#position = f.next - 1;
    this.#sink.started({ epoch: f.e, next: f.next, first: f.first, last: f.last });
  }

  onEntries(x: Array<[number, number, string, Uint8Array]>): void {
    const list: RemoteEntry[] = [];
    const at = this.#position ?? 0;
    for (const [offset, time, topic, bytes] of x) {
      // Never twice, never backwards: a resume starts after the position.
      if (typeof offset !== 'number' || offset <= (list.at(-1)?.offset ?? at) || !(bytes instanceof Uint8Array)) continue;
      list.push({ offset, time, topic, bytes });
    }
    if (list.length === 0) return;
    this.#position = list.at(-1)!.offset;
    this.#held += list.length;
    for (const e of list) this.#heldBytes += e.bytes.byteLength;
    this.#sink.entries(list);
  }

  onEnded(f: Extract<ControlFrame, { t: 'serr' }>): void {
    this.#stopped = true;
    this.#owner.forget(this);
    this.#sink.ended({ code: f.code, reason: f.reason, message: f.m, first: f.first, last: f.last, epoch: f.e });
  }
}

/** A read a peer asked this node for: served from the store here, or relayed toward its holder. */
interface Served {
  readonly id: number;
  grant(c: number, b: number): void;
  stop(): void;
}

/** One read a peer asked this node, as the holder. */
class ServedRead implements Served {
  readonly reader: StreamReader;
  credit: number;
  byteCredit: number;
  #pending: Array<[number, number, string, Uint8Array]> = [];
  #pendingBytes = 0;
  #flushScheduled = false;
  readonly #onSent: (entries: number) => void;
  stopped = false;

  constructor(
    readonly link: PeerLink,
    readonly session: number,
    readonly id: number,
    o: {
      streams: StreamManager;
      stream: string;
      filter: string;
      epoch: string;
      after: number;
      /** `last-per-topic`: entries handed over first (see StreamReader). */
      picks?: readonly number[];
      credit: number;
      byteCredit: number;
      onSent: (entries: number) => void;
      onEnd: (r: ServedRead, end: Record<string, unknown>) => void;
    },
  ) {
    this.credit = o.credit;
    this.byteCredit = o.byteCredit;
    this.#onSent = o.onSent;
    const self = this;
    this.reader = new StreamReader({
      streams: o.streams,
      stream: o.stream,
      filter: o.filter,
      epoch: o.epoch,
      after: o.after,
      picks: o.picks,
      sink: {
        get closed() {
          return self.stopped || link.session !== session || !link.up;
        },
        get bufferedBytes() {
          return self.#out ? Number.POSITIVE_INFINITY : link.socketBufferedBytes + self.#pendingBytes;
        },
        maxBufferedBytes: HOLDER_BUFFER_BYTES,
        deliverEntry: () => 0, // not used: deliverStored takes every entry
        deliverStored: (entry: StreamEntry) => this.#add(entry),
      },
      onEnd: (end) => {
        this.#flush();
        o.onEnd(this, {
          code: end.code,
          reason: end.reason,
          first: end.first,
          last: end.last,
          e: end.epoch,
          m: `read of stream '${o.stream}' ended at offset ${end.position}: ${end.reason}`,
          p: end.position,
        });
      },
    });
  }

  #add(entry: StreamEntry): number {
    const size = entry.bytes.byteLength + entry.topic.length + 24;
    this.#pending.push([entry.offset, entry.time, entry.topic, Buffer.from(entry.bytes)]);
    this.#pendingBytes += size;
    this.credit--;
    // An entry bigger than what is left still goes: a window never stalls on one large entry.
    this.byteCredit -= entry.bytes.byteLength;
    if (this.#pendingBytes >= FRAME_BYTES) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        this.#flush();
      });
    }
    // Out of credit: report a full buffer, which ends the page here.
    return this.#out ? HOLDER_BUFFER_BYTES : size;
  }

  /** Out of credit, in entries or bytes. */
  get #out(): boolean {
    return this.credit <= 0 || this.byteCredit <= 0;
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    const x = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    if (this.stopped || this.link.session !== this.session) return;
    this.link.control({ t: 'sent', id: this.id, x });
    this.#onSent(x.length);
  }

  grant(c: number, b: number): void {
    this.credit += c;
    this.byteCredit += b;
    this.reader.wake();
  }

  stop(): void {
    this.stopped = true;
    this.reader.stop();
  }
}

/**
 * Both sides of remote stream reads on one node: advertises its streams,
 * serves reads peers ask for, and opens reads of streams its peers hold.
 */
export class RemoteStreams {
  readonly #mesh: PeerMesh;
  readonly #streams: StreamManager;
  readonly #graceUntil: number;
  readonly #nodeId: string;
  /** Version of this node's own list: from the clock, so a restarted node's list replaces its old one everywhere. */
  #ownVersion = Date.now();
  /** node id -> the streams it holds (name -> epoch) at version v; kept while it is away (then "unreachable"). */
  readonly #held = new Map<string, { v: number; s: Map<string, string> }>();
  /** Reads served, per link: id -> read. */
  readonly #served = new Map<PeerLink, Map<number, Served>>();
  /** Reads opened here, by request id. */
  readonly #reads = new Map<number, RemoteRead>();
  #nextId = 1;
  readonly #advertWaiters = new Set<() => void>();
  readonly #holderListeners = new Set<() => void>();
  #advertScheduled = false;
  #closed = false;
  readonly #stopListening: () => void;
  readonly #m: { served: Metric; opened: Metric; entriesSent: Metric; entriesReceived: Metric; refused: (code: string) => Metric };

  constructor(mesh: PeerMesh, options: RemoteStreamsOptions) {
    this.#mesh = mesh;
    this.#streams = options.streams;
    this.#nodeId = options.nodeId;
    this.#graceUntil = Date.now() + (options.lookupGraceMs ?? 5000);
    const m = options.metrics;
    this.#m = {
      served: m.counter('meshgate_remote_stream_reads_served_total', 'Stream reads peers asked this node for (each start and resume)'),
      opened: m.counter('meshgate_remote_stream_reads_total', 'Reads of streams held by a peer this node sent (each start and resume)'),
      entriesSent: m.counter('meshgate_remote_stream_entries_sent_total', 'Stream entries sent to peers reading a stream held here'),
      entriesReceived: m.counter('meshgate_remote_stream_entries_received_total', 'Stream entries received from peers holding a stream read here'),
      refused: (code) => m.counter('meshgate_remote_stream_refused_total', 'Remote stream reads refused or ended, by code', { code }),
    };
    m.gaugeFn('meshgate_remote_stream_reads_open', 'Reads of remote streams open on this node (subscribers and mirrors)', () => this.#reads.size);
    mesh.onLinkUp((link) => this.#linkUp(link));
    mesh.onLinkDown((link) => this.#linkDown(link));
    mesh.onDrained((link) => {
      for (const r of this.#served.get(link)?.values() ?? []) if (r instanceof ServedRead) r.reader.wake();
    });
    mesh.onControl('streams', (link, f) => this.#onStreams(link, f as Extract<ControlFrame, { t: 'streams' }>));
    mesh.onControl('sread', (link, f) => this.#onRead(link, f as Extract<ControlFrame, { t: 'sread' }>));
    mesh.onControl('scredit', (link, f) => {
      const { id, c, b } = f as Extract<ControlFrame, { t: 'scredit' }>;
      if (typeof c === 'number' && c >= 0 && typeof b === 'number' && b >= 0) this.#served.get(link)?.get(id)?.grant(c, b);
    });
    mesh.onControl('sstop', (link, f) => this.#stopServed(link, (f as { id: number }).id));
    mesh.onControl('sok', (link, f) => this.#readOf(link, f)?.onStarted(f as Extract<ControlFrame, { t: 'sok' }>));
    mesh.onControl('sent', (link, f) => {
      const x = (f as Extract<ControlFrame, { t: 'sent' }>).x;
      const read = this.#readOf(link, f);
      if (read === undefined || !Array.isArray(x)) return;
      this.#m.entriesReceived.inc(x.length);
      read.onEntries(x);
    });
    mesh.onControl('serr', (link, f) => {
      const read = this.#readOf(link, f);
      if (read === undefined) return;
      const e = f as Extract<ControlFrame, { t: 'serr' }>;
      this.#m.refused(String(e.code)).inc();
      read.onEnded(e);
    });
    this.#stopListening = this.#streams.onListChanged(() => this.#advertiseSoon());
  }

  /** Calls `listener` after each peer stream list received (a link came up, a peer created or removed a stream). Returns the unsubscribe. */
  onHoldersChanged(listener: () => void): () => void {
    this.#holderListeners.add(listener);
    return () => this.#holderListeners.delete(listener);
  }

  /**
   * The node to read stream `name` from (only `node`, when given) and the
   * live link toward it: the nearest holder, ties to the smaller node id.
   * A holder no live link leads to is unreachable.
   */
  holder(name: string, node?: string): HolderLookup {
    const holders = [...this.#held].filter(([origin, h]) => h.s.has(name) && (node === undefined || origin === node)).map(([origin]) => origin);
    holders.sort();
    let best: { link: PeerLink; hops: number; origin: string } | null = null;
    for (const origin of holders) {
      const route = this.#mesh.routeTo(origin);
      if (route !== null && (best === null || route.hops < best.hops)) best = { ...route, origin };
    }
    if (best !== null) return { ok: true, link: best.link, origin: best.origin };
    if (holders.length > 0)
      return { ok: false, code: 'MG_ERR_STREAM_UNREACHABLE', message: `stream '${name}' is held by ${holders.join(', ')}, and no live link leads there` };
    return { ok: false, code: 'MG_ERR_STREAM_UNKNOWN', message: `no stream '${name}' on this node or on any peer` };
  }

  /**
   * holder(), but while the node has just started (its links are still
   * coming up: lookupGraceMs) a stream no peer advertised yet is waited for.
   */
  async lookup(name: string): Promise<HolderLookup> {
    for (;;) {
      const found = this.holder(name);
      const left = this.#graceUntil - Date.now();
      if (found.ok || left <= 0 || this.#closed) return found;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#advertWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#advertWaiters.add(done);
      });
    }
  }

  /** Opens a read of `stream` held by `found.origin`, on the link toward it (both from holder() or lookup()). */
  open(
    found: { link: PeerLink; origin: string },
    o: { stream: string; filter: string; from: StreamStart; epoch?: string; window?: number; windowBytes?: number; sink: RemoteReadSink },
  ): RemoteRead {
    const read = new RemoteRead(this, { ...o, holder: found.origin });
    this.#start(read, found.link);
    return read;
  }

  /** The link a read's current request went on, while that session is up. */
  linkOf(read: RemoteRead): PeerLink | null {
    const link = this.#mesh.upLink(read.via);
    return link !== null && link.session === read.viaSession ? link : null;
  }

  /** A read that stopped: its id is no longer answered. */
  forget(read: RemoteRead): void {
    if (this.#reads.get(read.id) === read) this.#reads.delete(read.id);
  }

  close(): void {
    this.#closed = true;
    this.#stopListening();
    this.#holderListeners.clear();
    for (const done of [...this.#advertWaiters]) done();
    for (const reads of this.#served.values()) for (const r of reads.values()) r.stop();
    this.#served.clear();
  }

  #start(read: RemoteRead, link: PeerLink): void {
    this.forget(read);
    const id = this.#nextId++;
    this.#reads.set(id, read);
    this.#m.opened.inc();
    read.request(link, id);
  }

  #readOf(link: PeerLink, f: ControlFrame): RemoteRead | undefined {
    const read = this.#reads.get((f as { id?: number }).id ?? -1);
    return read !== undefined && read.via === link.peerId ? read : undefined;
  }

  #linkUp(link: PeerLink): void {
    // Our list and every list we know: a node that joins late, or restarted, learns them all here.
    link.control(this.#ownList());
    for (const [o, h] of this.#held) link.control({ t: 'streams', o, v: h.v, s: [...h.s].map(([n, e]) => ({ n, e })) });
    this.#resumeWaiting();
  }

  #linkDown(link: PeerLink): void {
    const reads = this.#served.get(link);
    if (reads !== undefined) {
      for (const r of reads.values()) r.stop();
      this.#served.delete(link);
    }
    this.#resumeWaiting(); // another live link may lead to the holder
  }

  /** Reads whose request went on a session that is gone go on, from where they stood, on the route to their holder now. */
  #resumeWaiting(): void {
    for (const read of [...this.#reads.values()]) {
      if (read.stopped || this.linkOf(read) !== null) continue;
      const route = this.#mesh.routeTo(read.holder);
      if (route !== null) this.#start(read, route.link);
    }
  }

  #ownList(): Extract<ControlFrame, { t: 'streams' }> {
    return { t: 'streams', o: this.#nodeId, v: this.#ownVersion, s: this.#streams.list().map((s) => ({ n: s.name, e: s.epoch })) };
  }

  #advertiseSoon(): void {
    if (this.#advertScheduled) return;
    this.#advertScheduled = true;
    setImmediate(() => {
      this.#advertScheduled = false;
      if (this.#closed) return;
      this.#ownVersion = Math.max(this.#ownVersion + 1, Date.now());
      const list = this.#ownList();
      for (const link of this.#mesh.upLinks()) link.control(list);
    });
  }

  /** A node's stream list: kept when newer than what we had, and passed on to every other live link (so every node learns every list once). */
  #onStreams(link: PeerLink, f: Extract<ControlFrame, { t: 'streams' }>): void {
    if (!Array.isArray(f.s) || typeof f.o !== 'string' || typeof f.v !== 'number' || f.o === this.#nodeId) return;
    const had = this.#held.get(f.o);
    if (had === undefined || f.v > had.v) {
      const held = new Map<string, string>();
      for (const s of f.s) if (typeof s?.n === 'string' && typeof s.e === 'string') held.set(s.n, s.e);
      this.#held.set(f.o, { v: f.v, s: held });
      for (const other of this.#mesh.upLinks()) if (other !== link) other.control(f);
    }
    // The sender's interest states came before this frame on its link: routes through it are known now.
    this.#resumeWaiting();
    for (const done of [...this.#advertWaiters]) done();
    for (const l of [...this.#holderListeners]) l();
  }

  #onRead(link: PeerLink, f: Extract<ControlFrame, { t: 'sread' }>): void {
    const refuse = (code: string, reason: string, m: string, info?: { first: number; last: number; epoch: string }) => {
      this.#m.refused(code).inc();
      link.control({ t: 'serr', id: f.id, code, reason, first: info?.first ?? 0, last: info?.last ?? 0, e: info?.epoch ?? '', m, p: 0 });
    };
    if (typeof f.id !== 'number' || typeof f.n !== 'string' || typeof f.f !== 'string')
      return refuse('MG_ERR_PEER_MALFORMED', 'malformed', 'sread needs id, n and f');
    this.#m.served.inc();
    if (typeof f.o === 'string' && f.o !== this.#nodeId) return this.#relay(link, f, refuse);
    const info = this.#streams.info(f.n);
    if (info === undefined) return refuse('MG_ERR_STREAM_UNKNOWN', 'unknown-stream', `no stream '${f.n}' on node holding it`);
    if (f.e !== undefined && f.e !== info.epoch)
      return refuse('MG_ERR_STREAM_EPOCH', 'epoch', `stream '${f.n}' has epoch ${info.epoch}, not ${f.e}: its history was reset`, info);
    const start = startAfter(this.#streams, f.n, f.f, streamStart(f.from));
    if (!start.ok) return refuse(start.code, reasonOf(start.code), start.message, info);
    this.#stopServed(link, f.id);
    let reads = this.#served.get(link);
    if (reads === undefined) this.#served.set(link, (reads = new Map()));
    link.control({ t: 'sok', id: f.id, e: info.epoch, next: start.picks?.[0] ?? start.after + 1, first: info.first, last: info.last });
    const served = new ServedRead(link, link.session, f.id, {
      streams: this.#streams,
      stream: f.n,
      filter: f.f,
      epoch: info.epoch,
      after: start.after,
      picks: start.picks,
      credit: typeof f.c === 'number' && f.c >= 0 ? f.c : 0,
      byteCredit: typeof f.b === 'number' && f.b >= 0 ? f.b : 0,
      onSent: (n) => this.#m.entriesSent.inc(n),
      onEnd: (r, end) => {
        if (this.#served.get(link)?.get(r.id) === r) this.#served.get(link)!.delete(r.id);
        this.#m.refused(String(end.code)).inc();
        link.control({ t: 'serr', id: r.id, ...(end as Omit<Extract<ControlFrame, { t: 'serr' }>, 't' | 'id'>) });
      },
    });
    reads.set(f.id, served);
  }

  /**
   * A read of a stream another node holds, asked by a peer for which this
   * node is on the way: read it toward the holder with the peer's credit,
   * hand on what comes back, and pass the peer's credit upstream. An
   * outage upstream resumes here, unseen by the peer.
   */
  #relay(link: PeerLink, f: Extract<ControlFrame, { t: 'sread' }>, refuse: (code: string, reason: string, m: string) => void): void {
    const holder = f.o!;
    const route = this.#mesh.routeTo(holder);
    // Never back where it came from: the two nodes disagree on the route for now.
    if (route === null || route.link === link)
      return refuse('MG_ERR_STREAM_UNREACHABLE', 'unreachable', `stream '${f.n}' is held by ${holder}, and no live link leads there from ${this.#nodeId}`);
    this.#stopServed(link, f.id);
    let reads = this.#served.get(link);
    if (reads === undefined) this.#served.set(link, (reads = new Map()));
    const served = reads;
    const session = link.session;
    const down = () => !link.up || link.session !== session;
    let started = false;
    const read: RemoteRead = this.open(
      { link: route.link, origin: holder },
      {
        stream: f.n,
        filter: f.f,
        from: streamStart(f.from),
        ...(typeof f.e === 'string' ? { epoch: f.e } : {}),
        window: typeof f.c === 'number' && f.c >= 0 ? f.c : 0,
        windowBytes: typeof f.b === 'number' && f.b >= 0 ? f.b : 0,
        sink: {
          started: (s) => {
            if (started || down()) return;
            started = true;
            link.control({ t: 'sok', id: f.id, e: s.epoch, next: s.next, first: s.first, last: s.last });
          },
          entries: (list) => {
            if (down()) return read.stop();
            link.control({ t: 'sent', id: f.id, x: list.map((e): [number, number, string, Uint8Array] => [e.offset, e.time, e.topic, e.bytes]) });
            this.#m.entriesSent.inc(list.length);
          },
          ended: (end) => {
            if (served.get(f.id) === relayed) served.delete(f.id);
            if (down()) return;
            link.control({
              t: 'serr',
              id: f.id,
              code: end.code,
              reason: end.reason,
              first: end.first,
              last: end.last,
              e: end.epoch,
              m: end.message,
              p: read.position,
            });
          },
        },
      },
    );
    const relayed: Served = { id: f.id, grant: (c, b) => read.release(c, b), stop: () => read.stop() };
    served.set(f.id, relayed);
  }

  #stopServed(link: PeerLink, id: number): void {
    const reads = this.#served.get(link);
    const r = reads?.get(id);
    if (r === undefined) return;
    r.stop();
    reads!.delete(id);
  }
}

function wireFrom(from: StreamStart): StreamFromWire {
  return typeof from === 'string' ? from : 'offset' in from ? { offset: from.offset } : { time: from.time };
}

/** A wire `from` to a StreamStart; anything else reads from new. */
function streamStart(from: unknown): StreamStart {
  if (from === 'first' || from === 'last' || from === 'last-per-topic' || from === 'new') return from;
  if (typeof from === 'object' && from !== null) {
    const o = from as { offset?: unknown; time?: unknown };
    if (typeof o.offset === 'number') return { offset: o.offset };
    if (typeof o.time === 'number') return { time: o.time };
  }
  return 'new';
}

function reasonOf(code: string): string {
  return code === 'MG_ERR_STREAM_PRUNED' ? 'pruned' : code === 'MG_ERR_STREAM_BEYOND_END' ? 'beyond-end' : 'unknown-stream';
}
