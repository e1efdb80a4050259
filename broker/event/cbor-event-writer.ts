import type { MeshEvent } from './event.js';
import { isWritableAttr } from './event-check.js';

/**
 * A CBOR writer for the one shape the hot path encodes: an event map as
 * encodeEventMap() describes it, wrapped as a client item
 * `{topic, event}` or a peer entry `[topic, event]`. Generic encoders
 * (cbor-x) walk arbitrary objects and cost about 1.2 µs per event here;
 * writing known keys straight into a scratch buffer costs a fraction.
 * Output decodes to exactly the maps cbor-x produces from
 * encodeEventMap() (test/broker/cbor-event-writer.test.ts checks it).
 *
 * RFC 8949: major types 0/1 integers, 2 byte string, 3 text string,
 * 4 array, 5 map; 0xf4/0xf5 false/true; 0xfb float64.
 */
/**
 * Events are written straight into a slab and handed out as views of it,
 * the way Buffer.allocUnsafe hands out views of Node's 8 KiB pool, instead
 * of being written to a scratch buffer and copied out into a pooled Buffer
 * (the copy was one more pass over every byte, and Buffer.copy a native
 * call). Writes only move forward, so bytes handed out are never written
 * again; a full slab stays alive for the events that still hold views of
 * it. Slabs are as big as Node's pool, so an item kept long (a parked peer
 * entry, a slow link's unacked window) pins no more memory than the pooled
 * Buffer did: 64 KiB slabs saved another ~8% (a new ArrayBuffer costs
 * about 0.5 µs) but would pin 8 times as much per sparsely held item.
 */
const SLAB = 8 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB);
/** `slab` for word and float stores. */
let slabView = new DataView(slab.buffer, slab.byteOffset, slab.byteLength);
/** Where the event being written starts in `slab`. */
let start = 0;
let at = 0;

function ensure(extra: number): void {
  if (at + extra <= slab.length) return;
  // Move the event written so far to a fresh slab, with room for the rest
  // and for the events after it.
  const size = at - start;
  const fresh = Buffer.allocUnsafeSlow(size + extra + SLAB);
  slab.copy(fresh, 0, start, at);
  slab = fresh;
  slabView = new DataView(fresh.buffer, fresh.byteOffset, fresh.byteLength);
  start = 0;
  at = size;
}

function head(major: number, n: number): void {
  ensure(9);
  const m = major << 5;
  if (n < 24) slab[at++] = m | n;
  else if (n < 0x100) {
    slab[at++] = m | 24;
    slab[at++] = n;
  } else if (n < 0x10000) {
    slab[at++] = m | 25;
    slabView.setUint16(at, n);
    at += 2;
  } else {
    // Lengths and counts here never reach 2^32 (frames are far smaller).
    slab[at++] = m | 26;
    slabView.setUint32(at, n);
    at += 4;
  }
}

function text(s: string): void {
  const n = s.length;
  // Short ASCII strings (ids, topics, node names) are copied in JS: a
  // Buffer.write call per few bytes costs more than the bytes.
  if (n < 128) {
    // Locals, not the module-level `slab` and `at` (context slots): loading
    // and storing those per byte was a fifth of this writer's time.
    ensure(n + 2);
    const buf = slab;
    let p = at;
    if (n < 24) buf[p++] = 0x60 | n;
    else {
      buf[p++] = 0x78;
      buf[p++] = n;
    }
    // Four chars per store while four are left: one DataView store instead
    // of four byte stores, and one ASCII check for the four.
    const view = slabView;
    let i = 0;
    for (; i + 4 <= n; i += 4, p += 4) {
      const c0 = s.charCodeAt(i);
      const c1 = s.charCodeAt(i + 1);
      const c2 = s.charCodeAt(i + 2);
      const c3 = s.charCodeAt(i + 3);
      if ((c0 | c1 | c2 | c3) >= 0x80) break;
      view.setInt32(p, (c0 << 24) | (c1 << 16) | (c2 << 8) | c3);
    }
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[p++] = c;
    }
    if (i === n) {
      at = p;
      return;
    }
    // not ASCII: write it the general way (`at` is unchanged, so nothing of it stays)
  }
  const len = Buffer.byteLength(s, 'utf8');
  head(3, len);
  ensure(len);
  at += slab.write(s, at, len, 'utf8');
}

/**
 * A constant run of CBOR (keys and what surrounds them), encoded once at
 * load and laid out for raw(): big-endian 32-bit words, the last one padded.
 * A plain array of small integers, not an Int32Array: loading its length
 * and elements is cheaper (the writer measured ~5% faster for it).
 */
interface Run {
  readonly words: readonly number[];
  readonly length: number;
}

/**
 * Copies a constant run a word at a time: one DataView store per 4 bytes
 * halves the cost of copying byte by byte, and copying a run beats a
 * text() call per key (charCodeAt and the ASCII check per char). The
 * padding of the last word lands past `at`, in bytes no event owns yet.
 */
function raw(run: Run): void {
  const words = run.words;
  ensure(words.length * 4);
  const view = slabView;
  let p = at;
  for (let i = 0; i < words.length; i++, p += 4) view.setInt32(p, words[i]);
  at += run.length;
}

/** The run of bytes `write` produces, for raw() to copy. */
function encoded(write: () => void): Run {
  const from = at;
  write();
  const length = at - from;
  slab.fill(0, at, at + 3); // padding of the last word
  const words: number[] = [];
  for (let i = 0; i < length; i += 4) words.push(slabView.getInt32(from + i));
  at = from;
  return { words, length };
}

const CLIENT_ITEM_START = encoded(() => {
  head(5, 2);
  text('topic');
});
const KEY_EVENT = encoded(() => text('event'));
const SPECVERSION_ID = encoded(() => {
  text('specversion');
  text('1.0');
  text('id');
});
const KEY_SOURCE = encoded(() => text('source'));
const KEY_TYPE = encoded(() => text('type'));
const KEY_TRACEPARENT = encoded(() => text('traceparent'));
const KEY_TRACESTATE = encoded(() => text('tracestate'));
const KEY_MGORIGIN = encoded(() => text('mgorigin'));
const KEY_MGPROTOCOL = encoded(() => text('mgprotocol'));
const KEY_MGTOPIC = encoded(() => text('mgtopic'));
const KEY_MGHOPS = encoded(() => text('mghops'));
const KEY_MGHLC = encoded(() => text('mghlc'));
const KEY_DATA = encoded(() => text('data'));
const PEER_ENTRY_START = encoded(() => head(4, 2));

function bytes(b: Uint8Array): void {
  head(2, b.byteLength);
  ensure(b.byteLength);
  slab.set(b, at);
  at += b.byteLength;
}

function number(n: number): void {
  // Integers that fit 32 bits as CBOR integers; beyond, float64 as cbor-x
  // does, since a 64-bit CBOR integer decodes to a BigInt in JavaScript.
  if (Number.isInteger(n) && n >= -0x100000000 && n < 0x100000000) {
    if (n >= 0) head(0, n);
    else head(1, -1 - n);
    return;
  }
  ensure(9);
  slab[at++] = 0xfb;
  slabView.setFloat64(at, n);
  at += 8;
}

function value(v: string | number | boolean): void {
  if (typeof v === 'string') text(v);
  else if (typeof v === 'number') number(v);
  else {
    ensure(1);
    slab[at++] = v ? 0xf5 : 0xf4;
  }
}

function eventMap(event: MeshEvent): void {
  const attrs = event.attrs;
  let count = 4;
  for (const name in attrs) if (isWritableAttr(name)) count++;
  if (event.traceparent !== undefined) count++;
  if (event.tracestate !== undefined) count++;
  if (event.origin !== undefined) count += 3;
  if (event.hops.length > 0) count++;
  if (event.hlc !== undefined) count++;
  if (event.data !== undefined) count++;
  head(5, count);
  raw(SPECVERSION_ID);
  text(event.id);
  raw(KEY_SOURCE);
  text(event.source);
  raw(KEY_TYPE);
  text(event.type);
  for (const name in attrs) {
    if (!isWritableAttr(name)) continue;
    text(name);
    value(attrs[name]);
  }
  if (event.traceparent !== undefined) {
    raw(KEY_TRACEPARENT);
    text(event.traceparent);
  }
  if (event.tracestate !== undefined) {
    raw(KEY_TRACESTATE);
    text(event.tracestate);
  }
  const origin = event.origin;
  if (origin !== undefined) {
    raw(KEY_MGORIGIN);
    text(origin.node);
    raw(KEY_MGPROTOCOL);
    text(origin.protocol);
    raw(KEY_MGTOPIC);
    text(origin.topic);
  }
  const hops = event.hops;
  if (hops.length > 0) {
    raw(KEY_MGHOPS);
    head(4, hops.length);
    for (const hop of hops) {
      head(4, 3);
      text(hop.node);
      text(hop.region);
      number(hop.time);
    }
  }
  if (event.hlc !== undefined) {
    raw(KEY_MGHLC);
    text(event.hlc);
  }
  if (event.data !== undefined) {
    raw(KEY_DATA);
    bytes(event.data);
  }
}

/** The event just written, as a view of the slab; the next event starts after it. */
function take(): Buffer {
  const out = Buffer.from(slab.buffer, slab.byteOffset + start, at - start);
  start = at;
  return out;
}

/** `{topic, event}`: one item of the client protocol's `events` batch. */
export function encodeClientItem(event: MeshEvent): Buffer {
  at = start; // drops whatever a throw (out of memory) left of the last event
  raw(CLIENT_ITEM_START);
  text(event.topic);
  raw(KEY_EVENT);
  eventMap(event);
  return take();
}

/** `[topic, event]`: one peer-frame event entry. */
export function encodePeerEntry(event: MeshEvent): Buffer {
  at = start; // as in encodeClientItem
  raw(PEER_ENTRY_START);
  text(event.topic);
  eventMap(event);
  return take();
}

/**
 * The client item `{topic, event}` of a peer entry `[topic, event]`, with
 * the entry's own bytes: its topic and event map are copied as they are,
 * never decoded (a stream replay hands stored peer entries to CBOR
 * subscribers this way). The same bytes as encodeClientItem() of the
 * decoded event, since both wrap one eventMap(). null when `entry` is not
 * a peer entry this writer produced (an array of 2 led by a text string).
 */
export function clientItemFromPeerEntry(entry: Uint8Array): Buffer | null {
  if (entry.length < 3 || entry[0] !== PEER_ENTRY_START_BYTE) return null;
  const h = entry[1]!;
  if (h >> 5 !== 3) return null;
  const info = h & 0x1f;
  let topicEnd: number;
  if (info < 24) topicEnd = 2 + info;
  else if (info === 24) topicEnd = 3 + entry[2]!;
  else if (info === 25 && entry.length > 3) topicEnd = 4 + ((entry[2]! << 8) | entry[3]!);
  else return null;
  if (topicEnd >= entry.length) return null;
  const out = Buffer.allocUnsafe(CLIENT_ITEM_START_BYTES.length + KEY_EVENT_BYTES.length + entry.length - 1);
  let o = CLIENT_ITEM_START_BYTES.copy(out, 0);
  out.set(entry.subarray(1, topicEnd), o);
  o += topicEnd - 1;
  o += KEY_EVENT_BYTES.copy(out, o);
  out.set(entry.subarray(topicEnd), o);
  return out;
}

const PEER_ENTRY_START_BYTE = 0x82;
const CLIENT_ITEM_START_BYTES = Buffer.from([0xa2, 0x65, ...Buffer.from('topic')]);
const KEY_EVENT_BYTES = Buffer.from([0x65, ...Buffer.from('event')]);
