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
let scratch = Buffer.allocUnsafe(64 * 1024);
let at = 0;

function ensure(extra: number): void {
  if (at + extra <= scratch.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(scratch.length * 2, at + extra));
  scratch.copy(bigger, 0, 0, at);
  scratch = bigger;
}

function head(major: number, n: number): void {
  ensure(9);
  const m = major << 5;
  if (n < 24) scratch[at++] = m | n;
  else if (n < 0x100) {
    scratch[at++] = m | 24;
    scratch[at++] = n;
  } else if (n < 0x10000) {
    scratch[at++] = m | 25;
    scratch.writeUInt16BE(n, at);
    at += 2;
  } else {
    // Lengths and counts here never reach 2^32 (frames are far smaller).
    scratch[at++] = m | 26;
    scratch.writeUInt32BE(n, at);
    at += 4;
  }
}

function text(s: string): void {
  const n = s.length;
  // Short ASCII strings (keys, ids, topics, node names) are copied char by
  // char: a Buffer.write call per few bytes costs more than the bytes.
  if (n < 128) {
    // Locals, not the module-level `scratch` and `at` (context slots): loading
    // and storing those per byte was a fifth of this writer's time.
    ensure(n + 2);
    const buf = scratch;
    let p = at;
    if (n < 24) buf[p++] = 0x60 | n;
    else {
      buf[p++] = 0x78;
      buf[p++] = n;
    }
    let i = 0;
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
  at += scratch.write(s, at, len, 'utf8');
}

function bytes(b: Uint8Array): void {
  head(2, b.byteLength);
  ensure(b.byteLength);
  scratch.set(b, at);
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
  scratch[at++] = 0xfb;
  scratch.writeDoubleBE(n, at);
  at += 8;
}

function value(v: string | number | boolean): void {
  if (typeof v === 'string') text(v);
  else if (typeof v === 'number') number(v);
  else {
    ensure(1);
    scratch[at++] = v ? 0xf5 : 0xf4;
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
  if (event.data !== undefined) count++;
  head(5, count);
  text('specversion');
  text('1.0');
  text('id');
  text(event.id);
  text('source');
  text(event.source);
  text('type');
  text(event.type);
  for (const name in attrs) {
    if (!isWritableAttr(name)) continue;
    text(name);
    value(attrs[name]);
  }
  if (event.traceparent !== undefined) {
    text('traceparent');
    text(event.traceparent);
  }
  if (event.tracestate !== undefined) {
    text('tracestate');
    text(event.tracestate);
  }
  const origin = event.origin;
  if (origin !== undefined) {
    text('mgorigin');
    text(origin.node);
    text('mgprotocol');
    text(origin.protocol);
    text('mgtopic');
    text(origin.topic);
  }
  const hops = event.hops;
  if (hops.length > 0) {
    text('mghops');
    head(4, hops.length);
    for (const hop of hops) {
      head(4, 3);
      text(hop.node);
      text(hop.region);
      number(hop.time);
    }
  }
  if (event.data !== undefined) {
    text('data');
    bytes(event.data);
  }
}

function take(): Buffer {
  const out = Buffer.allocUnsafe(at);
  scratch.copy(out, 0, 0, at);
  at = 0;
  return out;
}

/** `{topic, event}`: one item of the client protocol's `events` batch. */
export function encodeClientItem(event: MeshEvent): Buffer {
  at = 0;
  head(5, 2);
  text('topic');
  text(event.topic);
  text('event');
  eventMap(event);
  return take();
}

/** `[topic, event]`: one peer-frame event entry. */
export function encodePeerEntry(event: MeshEvent): Buffer {
  at = 0;
  head(4, 2);
  text(event.topic);
  eventMap(event);
  return take();
}
