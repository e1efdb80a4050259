import { filterMatches, InterestTable, minimalCover } from '../../routing/mod.js';
import type { Metric } from '../base/mod.js';
import { closeReason, codedReason } from '../base/mod.js';
import type { MeshEvent } from '../event/mod.js';
import { encodePeerEntry, eventFromMap } from '../event/mod.js';
import type { MeshNode } from '../pipeline/mod.js';
import { Completion, type Upstream } from '../pipeline/mod.js';
import { MESSAGING_SYSTEM, traceparentOf } from '../telemetry/mod.js';
import type { PeerAdmissionRefusal } from './peer-admission.js';
import { type ControlFrame, decodeEventEntry, decodePeerFrame, encodeDests, type InterestDelta, type InterestState, withHopParent } from './peer-frames.js';
import { PEER_CLOSE } from './peer-handshake.js';
import { type PeerConnection, PeerLink, type PeerLinkOptions } from './peer-link.js';

export interface PeerMeshOptions {
  /** Events whose hop path is this long are not forwarded further. @default 16 */
  readonly maxHops: number;
  readonly link: PeerLinkOptions;
  /** Keepalive ping interval, ms; a link silent for 3 intervals is closed. @default 5000 */
  readonly keepaliveMs: number;
  /** How long an event waits for an origin this node has not heard of yet, ms. @default 30000 */
  readonly parkMs: number;
  /** Most events waiting for unknown origins. @default 100000 */
  readonly maxParked: number;
}

/** An event routed (by an upstream peer) for an origin this node does not know yet. */
interface Parked {
  readonly topic: string;
  readonly entry: Uint8Array;
  readonly hops: readonly string[];
  readonly completion: Completion | null;
  readonly since: number;
}

/** How a link reached us, for /v1/peers. */
export type LinkDirection = 'dial' | 'accept';

interface LinkInfo {
  readonly link: PeerLink;
  direction: LinkDirection;
  url?: string;
  conn: PeerConnection | null;
  lastHeard: number;
}

/**
 * The node's view of the mesh: links to peers, who wants what
 * (InterestTable, one versioned state per origin node), and which link
 * leads to each origin (fewest hops, live links first).
 *
 * Forwarding an event: origins interested in its topic -> next-hop link of
 * each -> minus links to nodes already on its hop path -> enqueue the event,
 * encoded once, on each chosen link.
 */
export class PeerMesh {
  readonly #node: MeshNode;
  readonly #options: PeerMeshOptions;
  readonly #links = new Map<string, LinkInfo>();
  readonly #interest = new InterestTable();
  /** origin -> peer id -> hops from us to the origin via that peer. */
  readonly #dist = new Map<string, Map<string, number>>();
  #nextHopCache = new Map<string, PeerLink | null>();
  readonly #parked = new Map<string, Parked[]>();
  #parkedCount = 0;
  // From the clock: a restarted node's state must replace what it advertised before.
  #ownVersion = Date.now();
  #ownCover = new Set<string>();
  #interestDirty = false;
  /** Protocols riding on the links (registry-sync.ts): see onLinkUp and onControl. */
  readonly #linkUpListeners: Array<(link: PeerLink) => void> = [];
  readonly #linkDownListeners: Array<(link: PeerLink) => void> = [];
  readonly #drainListeners: Array<(link: PeerLink) => void> = [];
  readonly #controlHandlers = new Map<string, (link: PeerLink, frame: ControlFrame) => void>();
  readonly #keepalive: NodeJS.Timeout;
  readonly #m: {
    forwarded: Metric;
    hopLimit: Metric;
    overflow: Metric;
    malformed: Metric;
    adverts: Metric;
    unroutable: Metric;
    refused: (reason: string) => Metric;
  };

  constructor(node: MeshNode, options: PeerMeshOptions) {
    this.#node = node;
    this.#options = options;
    const m = node.metrics;
    this.#m = {
      forwarded: m.counter('meshgate_peer_events_forwarded_total', 'Events enqueued to peer links (one per link)'),
      hopLimit: m.counter('meshgate_peer_hop_limit_drops_total', 'Events not forwarded because their hop path reached mesh.maxHops'),
      overflow: m.counter('meshgate_peer_overflow_total', 'Events not held for a peer because its buffer was full'),
      malformed: m.counter('meshgate_peer_malformed_total', 'Peer frames or events that could not be decoded'),
      adverts: m.counter('meshgate_peer_interest_frames_total', 'Interest frames sent to peers'),
      unroutable: m.counter('meshgate_peer_unroutable_total', 'Events dropped after waiting mesh.parkMs for an origin never heard of, or over mesh.maxParked'),
      refused: (reason) => m.counter('meshgate_peer_refused_total', 'Peer connections refused, by reason', { reason }),
    };
    m.gaugeFn('meshgate_peer_links_up', 'Peer links currently connected', () => [...this.#links.values()].filter((l) => l.link.up).length);
    m.gaugeFn('meshgate_peer_buffered_events', 'Events held for peers (queued and unacked)', () =>
      [...this.#links.values()].reduce((n, l) => n + l.link.buffered, 0),
    );
    m.gaugeFn('meshgate_peer_replayed_total', 'Events replayed to peers after a reconnect', () =>
      [...this.#links.values()].reduce((n, l) => n + l.link.stats.replayed, 0),
    );
    this.#keepalive = setInterval(() => this.#tick(), options.keepaliveMs);
    this.#keepalive.unref();
  }

  /** Counts a refused peer connection. */
  refused(reason: 'auth' | 'version' | 'malformed' | 'duplicate' | 'tls' | PeerAdmissionRefusal): void {
    this.#m.refused(reason).inc();
  }

  /** Calls `listener` each time a link comes up, after the link's interest state is queued. */
  onLinkUp(listener: (link: PeerLink) => void): void {
    this.#linkUpListeners.push(listener);
  }

  /** Calls `listener` each time a link's connection goes away (it may come back: same PeerLink). */
  onLinkDown(listener: (link: PeerLink) => void): void {
    this.#linkDownListeners.push(listener);
  }

  /** Calls `listener` when a link's socket drained (room to send again). */
  onDrained(listener: (link: PeerLink) => void): void {
    this.#drainListeners.push(listener);
  }

  /** The link to peer `peerId` when it is up. */
  upLink(peerId: string): PeerLink | null {
    const link = this.#links.get(peerId)?.link;
    return link?.up === true ? link : null;
  }

  /**
   * The live link on the shortest path to node `origin` (as interest
   * adverts measured it) and the hops over it; null when no live link leads there.
   */
  routeTo(origin: string): { link: PeerLink; hops: number } | null {
    const link = this.#nextHop(origin);
    if (link === null || !link.up) return null;
    return { link, hops: this.#dist.get(origin)?.get(link.peerId) ?? 1 };
  }

  /** Hands received control frames of kind `t` (one the mesh itself does not handle) to `handler`. */
  onControl(t: ControlFrame['t'], handler: (link: PeerLink, frame: ControlFrame) => void): void {
    this.#controlHandlers.set(t, handler);
  }

  /** Links currently connected. */
  upLinks(): PeerLink[] {
    return [...this.#links.values()].filter((l) => l.link.up).map((l) => l.link);
  }

  /**
   * A handshaken connection from `peerId`. Refuses a second live
   * connection to the same peer (both sides dialling each other).
   */
  attach(peerId: string, region: string, conn: PeerConnection, direction: LinkDirection, url?: string): PeerLink | null {
    let info = this.#links.get(peerId);
    if (info?.link.up) {
      this.refused('duplicate');
      return null;
    }
    if (info === undefined) {
      info = { link: new PeerLink(peerId, region, this.#options.link, () => this.#m.overflow.inc()), direction, url, conn: null, lastHeard: Date.now() };
      this.#links.set(peerId, info);
    }
    info.link.region = region;
    info.direction = direction;
    if (url !== undefined) info.url = url;
    info.conn = conn;
    info.lastHeard = Date.now();
    info.link.attach(conn);
    this.#nextHopCache.clear();
    // A fresh session starts with our whole view of the mesh's interest.
    info.link.control({ t: 'interest', full: true, states: this.#fullStates() });
    this.#m.adverts.inc();
    for (const listener of this.#linkUpListeners) listener(info.link);
    return info.link;
  }

  detach(link: PeerLink, conn: PeerConnection): void {
    const info = this.#links.get(link.peerId);
    if (info === undefined || info.conn !== conn) return;
    info.conn = null;
    link.detach(conn);
    this.#nextHopCache.clear();
    for (const listener of this.#linkDownListeners) listener(link);
  }

  /** One binary message from a handshaken peer on `conn`. `message` is only valid during the call. */
  receive(link: PeerLink, conn: PeerConnection, message: Uint8Array): void {
    const info = this.#links.get(link.peerId);
    // A frame still arriving on a connection that is no longer the link's
    // (we closed it, e.g. shutting down, or a new one replaced it): nothing
    // done with it could be acked on it, so the peer sends it again.
    // Handling it anyway would deliver events a second time, after a
    // restart to subscribers that already had them.
    if (info === undefined || info.conn !== conn) return;
    info.lastHeard = Date.now();
    const decoded = decodePeerFrame(message);
    if (decoded.kind === 'malformed') {
      this.#m.malformed.inc();
      link.close(PEER_CLOSE.MALFORMED, closeReason(codedReason('MG_ERR_PEER_MALFORMED', `${decoded.reason}`)));
      return;
    }
    if (decoded.kind === 'events') {
      const { firstSeq, entries, dests, hopParents } = decoded.batch;
      link.received(entries.length);
      const session = link.session;
      for (let i = 0; i < entries.length; i++)
        this.#receiveEvent(link, session, firstSeq + i, entries[i], dests[i], hopParents?.[i], link.inDoubt(firstSeq + i));
      return;
    }
    this.#control(link, decoded.frame);
  }

  #receiveEvent(link: PeerLink, session: number, seq: number, entry: Uint8Array, dests: readonly string[], parent: string | undefined, inDoubt: boolean): void {
    const parsed = decodeEventEntry(entry);
    const decoded = parsed === null ? null : eventFromMap(parsed.map, parsed.topic, { trustProvenance: true });
    if (decoded === null || !decoded.ok) {
      // Acked and counted: a peer must not resend an event no node can read.
      this.#m.malformed.inc();
      link.done(session, seq);
      return;
    }
    const completion = new Completion(() => link.done(session, seq));
    const upstream: Upstream = parent === undefined ? { completion, dests } : { completion, dests, parent };
    this.#node.ingest(decoded.event, 'peer', decoded.event.topic, inDoubt ? { ...upstream, inDoubt } : upstream);
    completion.arm();
  }

  #control(link: PeerLink, frame: ControlFrame): void {
    switch (frame.t) {
      case 'ack':
        if (typeof frame.s === 'number') link.acked(frame.s);
        return;
      case 'replay':
        if (typeof frame.n === 'number') link.replayed(frame.n);
        return;
      case 'interest':
        if (Array.isArray(frame.states)) this.#onStates(link, frame.states);
        if (Array.isArray(frame.deltas)) this.#onDeltas(link, frame.deltas);
        return;
      case 'sync':
        link.control({ t: 'interest', full: true, states: this.#fullStates() });
        this.#m.adverts.inc();
        return;
      case 'ping':
        link.control({ t: 'pong', ts: frame.ts });
        return;
      case 'pong':
        if (typeof frame.ts === 'number') link.rttMs = Math.max(0, performance.now() - frame.ts);
        return;
      default: {
        const handler = this.#controlHandlers.get(frame.t);
        if (handler !== undefined) return handler(link, frame);
        this.#m.malformed.inc();
        link.close(PEER_CLOSE.MALFORMED, codedReason('MG_ERR_PEER_MALFORMED', `unexpected ${frame.t} after the handshake`));
      }
    }
  }

  #onStates(link: PeerLink, states: InterestState[]): void {
    const changed: InterestState[] = [];
    for (const s of states) {
      if (typeof s?.o !== 'string' || s.o === this.#node.nodeId || !Array.isArray(s.f)) continue;
      this.#setDist(s.o, link.peerId, (s.d ?? 0) + 1);
      if (this.#interest.replace(s.o, s.v, s.f)) {
        changed.push({ o: s.o, v: s.v, d: this.#bestDist(s.o), f: s.f });
        this.#unpark(s.o);
      }
    }
    if (changed.length > 0) {
      this.#flood(link, { t: 'interest', states: changed });
      this.#node.interestChanged();
    }
  }

  #onDeltas(link: PeerLink, deltas: InterestDelta[]): void {
    const applied: InterestDelta[] = [];
    for (const d of deltas) {
      if (typeof d?.o !== 'string' || d.o === this.#node.nodeId) continue;
      this.#setDist(d.o, link.peerId, (d.d ?? 0) + 1);
      const outcome = this.#interest.applyDelta(d.o, d.b, d.v, d.a ?? [], d.x ?? []);
      if (outcome === 'applied') {
        applied.push({ ...d, d: this.#bestDist(d.o) });
        this.#unpark(d.o);
      } else if (outcome === 'gap') {
        link.control({ t: 'sync' });
        this.#m.adverts.inc();
      }
    }
    if (applied.length > 0) {
      this.#flood(link, { t: 'interest', deltas: applied });
      this.#node.interestChanged();
    }
  }

  /** Sends an interest change to every live link but the one it came from. */
  #flood(from: PeerLink | null, frame: ControlFrame): void {
    for (const info of this.#links.values()) {
      if (info.link === from || !info.link.up) continue;
      info.link.control(frame);
      this.#m.adverts.inc();
    }
  }

  #setDist(origin: string, peerId: string, d: number): void {
    let byPeer = this.#dist.get(origin);
    if (byPeer === undefined) this.#dist.set(origin, (byPeer = new Map()));
    if (byPeer.get(peerId) !== d) {
      byPeer.set(peerId, d);
      this.#nextHopCache.delete(origin);
    }
    this.#unpark(origin);
  }

  #bestDist(origin: string): number {
    let best = Infinity;
    for (const d of this.#dist.get(origin)?.values() ?? []) best = Math.min(best, d);
    return best === Infinity ? 0 : best;
  }

  /** The link toward `origin`: fewest hops among live links, else among all (events wait there for a reconnect). */
  #nextHop(origin: string): PeerLink | null {
    const cached = this.#nextHopCache.get(origin);
    if (cached !== undefined) return cached;
    let best: PeerLink | null = null;
    let bestKey = Infinity;
    for (const [peerId, d] of this.#dist.get(origin) ?? []) {
      const link = this.#links.get(peerId)?.link;
      if (link === undefined) continue;
      // Live links rank before down ones; ties go to the smaller peer id so every node agrees.
      const key = (link.up ? 0 : 1_000_000) + d;
      if (key < bestKey || (key === bestKey && best !== null && peerId < best.peerId)) {
        best = link;
        bestKey = key;
      }
    }
    this.#nextHopCache.set(origin, best);
    return best;
  }

  /** Local interest changed: re-advertise our cover once this loop turn. */
  localInterestChanged(): void {
    if (this.#interestDirty) return;
    this.#interestDirty = true;
    setImmediate(() => {
      this.#interestDirty = false;
      const cover = new Set(minimalCover(this.#node.localFilters()));
      const add = [...cover].filter((f) => !this.#ownCover.has(f));
      const remove = [...this.#ownCover].filter((f) => !cover.has(f));
      if (add.length === 0 && remove.length === 0) return;
      const base = this.#ownVersion;
      this.#ownVersion = nextVersion(base);
      this.#ownCover = cover;
      this.#flood(null, { t: 'interest', deltas: [{ o: this.#node.nodeId, b: base, v: this.#ownVersion, d: 0, a: add, x: remove }] });
    });
  }

  #fullStates(): InterestState[] {
    const states: InterestState[] = [{ o: this.#node.nodeId, v: this.#ownVersion, d: 0, f: [...this.#ownCover] }];
    for (const origin of this.#interest.origins()) {
      states.push({ o: origin, v: this.#interest.version(origin), d: this.#bestDist(origin), f: [...this.#interest.filtersOf(origin)] });
    }
    return states;
  }

  /**
   * Called by MeshNode after local delivery. Holds the upstream completion
   * once per link the event is enqueued on (and once per origin it is
   * parked for), so upstream is acked only when they finish.
   */
  forward(event: MeshEvent, upstream: Upstream | null): number {
    if (this.#links.size === 0) return 0;
    if (event.hops.length >= this.#options.maxHops) {
      this.#m.hopLimit.inc();
      return 1; // counted as a hop-limit drop, not as unwanted
    }
    const completion = upstream?.completion ?? null;
    // Source routing: the node where an event enters the mesh picks the
    // origins it goes to; nodes on the way serve only those. Each copy then
    // follows one loop-free path, and no node forwards what another node
    // already sent along a different path.
    const wanted = this.#interest.match(event.topic);
    const origins = upstream === null ? wanted : upstream.dests;
    let links: PeerLink[] | undefined;
    let dests: string[][] | undefined;
    let entry: Uint8Array | undefined;
    let taken = 0;
    for (let i = 0; i < origins.length; i++) {
      const origin = origins[i];
      if (origin === this.#node.nodeId) continue;
      const known = this.#interest.version(origin) > 0;
      if (upstream !== null && known && !wanted.includes(origin)) {
        // The destination withdrew its interest (it unsubscribed, or
        // restarted with none) while the event was on the way. Acked
        // upstream like any finished event, so it is counted, not silent.
        this.#node.undelivered('withdrawn');
        continue;
      }
      taken++;
      const link = known ? this.#nextHop(origin) : null;
      if (link === null || onPath(event, link.peerId)) {
        // No usable route yet: we may have just restarted and know the
        // origin only second-hand (back along the path), or not at all.
        // An event a peer handed us waits for a route instead of vanishing.
        if (upstream !== null) {
          entry ??= encodePeerEntry(event);
          this.#park(origin, { topic: event.topic, entry, hops: event.hops.map((h) => h.node), completion, since: Date.now() });
        }
        continue;
      }
      links ??= [];
      dests ??= [];
      const at = links.indexOf(link);
      if (at < 0) {
        links.push(link);
        dests.push([origin]);
      } else dests[at].push(origin);
    }
    if (links !== undefined) {
      entry ??= encodePeerEntry(event);
      const hopTrace = event.hopTrace;
      for (let i = 0; i < links.length; i++) {
        const link = links[i];
        let trailer = destsFor(dests![i]);
        if (hopTrace !== undefined) {
          // One send span per link; the next node's receive span is its child.
          const span = this.#node.tracing!.send(hopTrace, event, { system: MESSAGING_SYSTEM, name: event.topic, peer: link.peerId });
          trailer = withHopParent(trailer, traceparentOf(span));
          span.end();
        }
        if (link.enqueue(entry, trailer, completion)) this.#m.forwarded.inc();
      }
    }
    return taken;
  }

  #park(origin: string, parked: Parked): void {
    if (this.#parkedCount >= this.#options.maxParked) {
      this.#m.unroutable.inc();
      return;
    }
    parked.completion?.hold();
    let list = this.#parked.get(origin);
    if (list === undefined) this.#parked.set(origin, (list = []));
    list.push(parked);
    this.#parkedCount++;
  }

  /** Routes to `origin` changed: send what waited for it, if it still wants it and a route now exists. */
  #unpark(origin: string): void {
    const list = this.#parked.get(origin);
    if (list === undefined) return;
    const link = this.#nextHop(origin);
    const filters = this.#interest.filtersOf(origin);
    const known = this.#interest.version(origin) > 0;
    let keep = 0;
    for (const p of list) {
      if (known && !filters.some((f) => filterMatches(f, p.topic))) {
        this.#node.undelivered('withdrawn'); // it no longer wants this topic
        p.completion?.release();
        continue;
      }
      if (link === null || p.hops.includes(link.peerId)) {
        list[keep++] = p; // still no usable route
        continue;
      }
      if (link.enqueue(p.entry, destsFor([origin]), p.completion)) this.#m.forwarded.inc();
      p.completion?.release();
    }
    this.#parkedCount -= list.length - keep;
    list.length = keep;
    if (keep === 0) this.#parked.delete(origin);
  }

  /** Drops what waited longer than parkMs for an origin that never appeared. */
  #expireParked(now: number): void {
    for (const [origin, list] of this.#parked) {
      let keep = 0;
      for (const p of list) {
        if (now - p.since > this.#options.parkMs) {
          this.#m.unroutable.inc();
          p.completion?.release();
        } else list[keep++] = p;
      }
      this.#parkedCount -= list.length - keep;
      list.length = keep;
      if (keep === 0) this.#parked.delete(origin);
    }
  }

  #tick(): void {
    const now = Date.now();
    this.#expireParked(now);
    for (const info of this.#links.values()) {
      if (!info.link.up) continue;
      if (now - info.lastHeard > this.#options.keepaliveMs * 3) {
        info.link.close(PEER_CLOSE.TIMEOUT, codedReason('MG_ERR_PEER_TIMEOUT', 'no frame for 3 keepalive intervals'));
        continue;
      }
      info.link.control({ t: 'ping', ts: performance.now() });
    }
  }

  /** Ack drained: resume a link waiting for socket buffer space. */
  drained(link: PeerLink): void {
    link.drained();
    for (const listener of this.#drainListeners) listener(link);
  }

  /** /v1/peers rows. */
  peers(): Array<Record<string, unknown>> {
    return [...this.#links.values()].map(({ link, direction, url }) => ({
      node: link.peerId,
      region: link.region,
      state: link.up ? 'up' : 'down',
      direction,
      url: url ?? null,
      rttMs: link.rttMs < 0 ? null : Math.round(link.rttMs * 1000) / 1000,
      buffered: link.buffered,
      bufferedBytes: link.bufferedBytes,
      ...link.stats,
    }));
  }

  /** Events waiting for a node this one has not heard of yet (see #park). */
  get parked(): number {
    return this.#parkedCount;
  }

  /** /v1/routes: our advertised cover, and every origin's interest with the link it is reached by. */
  routes(): Record<string, unknown> {
    return {
      self: { node: this.#node.nodeId, version: this.#ownVersion, filters: [...this.#ownCover].sort() },
      origins: this.#interest
        .origins()
        .sort()
        .map((origin) => ({
          origin,
          version: this.#interest.version(origin),
          filters: [...this.#interest.filtersOf(origin)].sort(),
          via: this.#nextHop(origin)?.peerId ?? null,
          hops: this.#bestDist(origin),
        })),
    };
  }

  /** Filters some other node wants (for bridges' interest-driven import). */
  remoteFilters(): string[] {
    const all = new Set<string>();
    for (const o of this.#interest.origins()) for (const f of this.#interest.filtersOf(o)) all.add(f);
    return [...all];
  }

  close(): void {
    clearInterval(this.#keepalive);
    for (const info of this.#links.values()) info.link.close(PEER_CLOSE.GOING_AWAY, 'node shutting down');
  }
}

/**
 * Encoded destination lists, by their origins: a mesh has few distinct
 * lists, and every event to the same set shares one. Bounded: cleared
 * when it grows past what a sane mesh produces.
 */
const destsCache = new Map<string, Uint8Array>();
function destsFor(origins: readonly string[]): Uint8Array {
  const key = origins.length === 1 ? origins[0] : origins.join('\u0000');
  let bytes = destsCache.get(key);
  if (bytes === undefined) {
    if (destsCache.size >= 4096) destsCache.clear();
    bytes = encodeDests(origins);
    destsCache.set(key, bytes);
  }
  return bytes;
}

function onPath(event: MeshEvent, node: string): boolean {
  const hops = event.hops;
  for (let i = 0; i < hops.length; i++) if (hops[i].node === node) return true;
  return false;
}

/**
 * Versions start from the clock so a restarted node's first advert is
 * newer than anything it sent before the restart.
 */
function nextVersion(current: number): number {
  return Math.max(current + 1, Date.now());
}
