import { Encoder } from 'cbor-x';
import { CBOR_OPTIONS } from '../event/mod.js';

/**
 * The peer wire: one WebSocket binary message per frame.
 *
 *   byte 0 = 0x00  control frame: the rest is one CBOR map with a `t` key
 *   byte 0 = 0x01  event batch:   u32 BE first sequence number, u32 BE count,
 *                                 then per event: u32 BE length + CBOR bytes
 *                                 of [topic, event map] (cbor-event-writer),
 *                                 then the routing trailer:
 *                                   destination list: u8 count, and per
 *                                     origin node id u8 length + UTF-8;
 *                                   hop parent: u8 length (0: none) +
 *                                     the sender's send-span traceparent
 *
 * The destination list names the origin nodes the sender routed the event
 * for. A receiver that does not know one of them yet (it has just
 * restarted and its table is empty) holds the event for it instead of
 * dropping it.
 *
 * The hop parent is per link (each link gets its own send span), which is
 * why it travels beside the event bytes rather than in them: the event's
 * own `traceparent` is the creation context and never changes.
 *
 * Events are framed by hand so that each event is CBOR-encoded once and the
 * same bytes are batched to every link, and replayed, without re-encoding.
 *
 * Control frames (`t`):
 *   challenge  acceptor -> dialer on open: { nonce }
 *   hello      dialer -> acceptor: { node, region, version, nonce, proof }
 *   welcome    acceptor -> dialer: { node, region, version, proof }
 *   interest   { full?: true, states: [{ o, v, d, f }] } or { deltas: [{ o, b, v, d, a, x }] }
 *   sync       ask the peer for its full interest table
 *   ack        { s }: every event up to sequence s is done (cumulative)
 *   replay     { n }: the first n events of this session were sent on an
 *              earlier session and never acked (sent right after the
 *              session starts, before any event). A receiver that has
 *              restarted since cannot know whether it delivered them, so
 *              it does not deliver them locally again (peer-link.ts)
 *   ping/pong  { ts }: keepalive and round-trip time
 *   schemas    { state }: schema registry state (whole on link up, changed
 *              subjects after a change), merged by the receiver
 *              (registry-sync.ts)
 *
 * Remote stream reads (remote-streams.ts): the reader is the node with the
 * subscriber (or the mirror), the holder the node that stores the stream.
 *   streams    { o, v, s: [{ n, e }] } every stream node o holds (name,
 *              epoch) at version v: o's own list after a change, every
 *              known list on link up; a newer one is passed on to the
 *              other links (flooded once per list version)
 *   sread      reader -> holder: { id, n, f, o, from, e?, c, b } read
 *              stream n of node o for filter f from `from` ('first' |
 *              'last' | 'new' | { offset } | { time }), in epoch e when
 *              given, with c entries and b bytes of credit; id names the
 *              read on this link. A node that is not o relays it toward o
 *   sok        holder -> reader: { id, e, next, first, last } the read
 *              starts at offset next in epoch e
 *   sent       holder -> reader: { id, x: [[offset, time, topic, bytes]] }
 *              matching entries in offset order, bytes as stored; one
 *              entry spends one credit and its length in byte credit
 *   scredit    reader -> holder: { id, c, b } c more entries, b more bytes
 *   serr       holder -> reader: { id, code, reason, first, last, e, m, p }
 *              refused at the start or ended later (MG_ERR_STREAM_*), p
 *              the last offset the holder handed over; the read is gone
 *   sstop      reader -> holder: { id } the reader is done
 */
/**
 * Bumped whenever the wire changes, so nodes of two builds refuse each
 * other at the handshake (4426 MG_ERR_PEER_VERSION) instead of misreading
 * frames. 2: routing trailer with a hop parent; `schemas` control frames.
 * 3: `replay` control frames. 4: remote stream reads (`streams`, `sread`,
 * `sok`, `sent`, `scredit`, `serr`, `sstop`): a version-3 node would close
 * the link as malformed on the first `streams` frame, so the handshake
 * refuses it with the reason instead.
 */
export const PEER_PROTOCOL_VERSION = 4;

export type ControlFrame =
  | { t: 'challenge'; nonce: Uint8Array }
  | { t: 'hello'; node: string; region: string; version: number; nonce: Uint8Array; proof: Uint8Array }
  | { t: 'welcome'; node: string; region: string; version: number; proof: Uint8Array }
  | { t: 'interest'; full?: boolean; states?: InterestState[]; deltas?: InterestDelta[] }
  | { t: 'sync' }
  | { t: 'ack'; s: number }
  | { t: 'replay'; n: number }
  | { t: 'ping'; ts: number }
  | { t: 'pong'; ts: number }
  /** A RegistryState (schemas/registry-state.ts), checked by the receiver's merge. */
  | { t: 'schemas'; state: unknown }
  | { t: 'streams'; o: string; v: number; s: Array<{ n: string; e: string }> }
  | { t: 'sread'; id: number; n: string; f: string; o?: string; from: StreamFromWire; e?: string; c: number; b: number }
  | { t: 'sok'; id: number; e: string; next: number; first: number; last: number }
  | { t: 'sent'; id: number; x: Array<[number, number, string, Uint8Array]> }
  | { t: 'scredit'; id: number; c: number; b: number }
  | { t: 'serr'; id: number; code: string; reason: string; first: number; last: number; e: string; m: string; p: number }
  | { t: 'sstop'; id: number };

/** Where a remote read starts, as a client names it (broker/streams StreamStart). */
export type StreamFromWire = 'first' | 'last' | 'last-per-topic' | 'new' | { offset: number } | { time: number };

/** One origin's whole interest: origin, version, distance in hops from the origin, filters. */
export interface InterestState {
  o: string;
  v: number;
  d: number;
  f: string[];
}
/** A change on top of base version `b`: add `a`, remove `x`. */
export interface InterestDelta {
  o: string;
  b: number;
  v: number;
  d: number;
  a: string[];
  x: string[];
}

export interface EventBatch {
  readonly firstSeq: number;
  /** Encoded [topic, event map] entries, views into the received message. */
  readonly entries: Uint8Array[];
  /** Per entry, the origin nodes it was routed for. */
  readonly dests: string[][];
  /** Per entry, the sender's send span (`traceparent`) when it traced the entry; null when no entry carries one. */
  readonly hopParents: Array<string | undefined> | null;
}

export type DecodedPeerFrame =
  | { readonly kind: 'control'; readonly frame: ControlFrame }
  | { readonly kind: 'events'; readonly batch: EventBatch }
  | { readonly kind: 'malformed'; readonly reason: string };

const cbor = new Encoder({ ...CBOR_OPTIONS });
const CONTROL = 0x00;
const EVENTS = 0x01;
const CONTROL_TYPES = new Set([
  'challenge',
  'hello',
  'welcome',
  'interest',
  'sync',
  'ack',
  'replay',
  'ping',
  'pong',
  'schemas',
  'streams',
  'sread',
  'sok',
  'sent',
  'scredit',
  'serr',
  'sstop',
]);

export function encodeControl(frame: ControlFrame): Uint8Array {
  const body = cbor.encode(frame);
  const out = new Uint8Array(body.length + 1);
  out[0] = CONTROL;
  out.set(body, 1);
  return out;
}

export function decodeEventEntry(entry: Uint8Array): { topic: string; map: Record<string, unknown> } | null {
  let decoded: unknown;
  try {
    decoded = cbor.decode(entry);
  } catch {
    return null;
  }
  if (!Array.isArray(decoded) || decoded.length !== 2 || typeof decoded[0] !== 'string') return null;
  const map = decoded[1] as unknown;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) return null;
  return { topic: decoded[0], map: map as Record<string, unknown> };
}

/**
 * Encodes a routing trailer without a hop parent: u8 count, then u8
 * length + UTF-8 per origin id, then a 0 byte. Shared by every event to
 * the same destinations.
 */
export function encodeDests(origins: readonly string[]): Uint8Array {
  const parts = origins.slice(0, 255).map((o) => Buffer.from(o, 'utf8').subarray(0, 255));
  const out = new Uint8Array(2 + parts.reduce((n, p) => n + 1 + p.byteLength, 0));
  out[0] = parts.length;
  let at = 1;
  for (const p of parts) {
    out[at] = p.byteLength;
    out.set(p, at + 1);
    at += 1 + p.byteLength;
  }
  out[at] = 0;
  return out;
}

/** A copy of a trailer from `encodeDests` carrying `traceparent` as the hop parent. */
export function withHopParent(trailer: Uint8Array, traceparent: string): Uint8Array {
  const text = Buffer.from(traceparent, 'latin1').subarray(0, 255);
  const out = new Uint8Array(trailer.byteLength + text.byteLength);
  out.set(trailer.subarray(0, trailer.byteLength - 1));
  out[trailer.byteLength - 1] = text.byteLength;
  out.set(text, trailer.byteLength);
  return out;
}

/** Builds one batch frame from already-encoded entries and destination lists. */
export function encodeEventBatch(firstSeq: number, entries: readonly Uint8Array[], dests: readonly Uint8Array[]): Uint8Array {
  let size = 9;
  for (let i = 0; i < entries.length; i++) size += 4 + entries[i].byteLength + dests[i].byteLength;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = EVENTS;
  view.setUint32(1, firstSeq);
  view.setUint32(5, entries.length);
  let at = 9;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    view.setUint32(at, e.byteLength);
    out.set(e, at + 4);
    at += 4 + e.byteLength;
    out.set(dests[i], at);
    at += dests[i].byteLength;
  }
  return out;
}

/** Decodes one received message; never throws. Entries are views: copy what outlives the call. */
export function decodePeerFrame(message: Uint8Array): DecodedPeerFrame {
  if (message.byteLength === 0) return { kind: 'malformed', reason: 'empty frame' };
  if (message[0] === CONTROL) {
    let frame: unknown;
    try {
      frame = cbor.decode(message.subarray(1));
    } catch (err) {
      return { kind: 'malformed', reason: `control frame is not CBOR: ${(err as Error).message}` };
    }
    if (typeof frame !== 'object' || frame === null || !CONTROL_TYPES.has((frame as { t?: unknown }).t as string)) {
      return { kind: 'malformed', reason: 'control frame without a known t' };
    }
    return { kind: 'control', frame: frame as ControlFrame };
  }
  if (message[0] !== EVENTS) return { kind: 'malformed', reason: `unknown frame kind 0x${message[0].toString(16)}` };
  if (message.byteLength < 9) return { kind: 'malformed', reason: 'event batch header truncated' };
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const firstSeq = view.getUint32(1);
  const count = view.getUint32(5);
  const entries: Uint8Array[] = [];
  const dests: string[][] = [];
  let hopParents: Array<string | undefined> | null = null;
  let at = 9;
  for (let i = 0; i < count; i++) {
    if (at + 4 > message.byteLength) return { kind: 'malformed', reason: `event ${i} length truncated` };
    const len = view.getUint32(at);
    if (at + 4 + len + 1 > message.byteLength) return { kind: 'malformed', reason: `event ${i} truncated` };
    entries.push(message.subarray(at + 4, at + 4 + len));
    at += 4 + len;
    const n = message[at++];
    const list: string[] = [];
    for (let j = 0; j < n; j++) {
      if (at >= message.byteLength) return { kind: 'malformed', reason: `event ${i} destination list truncated` };
      const l = message[at];
      if (at + 1 + l > message.byteLength) return { kind: 'malformed', reason: `event ${i} destination truncated` };
      list.push(Buffer.from(message.buffer, message.byteOffset + at + 1, l).toString('utf8'));
      at += 1 + l;
    }
    dests.push(list);
    if (at >= message.byteLength) return { kind: 'malformed', reason: `event ${i} hop parent truncated` };
    const parentLength = message[at++];
    if (parentLength > 0) {
      if (at + parentLength > message.byteLength) return { kind: 'malformed', reason: `event ${i} hop parent truncated` };
      hopParents ??= [];
      hopParents[i] = Buffer.from(message.buffer, message.byteOffset + at, parentLength).toString('latin1');
      at += parentLength;
    }
  }
  if (at !== message.byteLength) return { kind: 'malformed', reason: 'trailing bytes after the last event' };
  return { kind: 'events', batch: { firstSeq, entries, dests, hopParents } };
}
