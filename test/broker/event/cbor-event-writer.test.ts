import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Encoder } from 'cbor-x';
import type { MeshEvent } from '../../../broker/event/mod.js';
import { CBOR_OPTIONS, clientItemFromPeerEntry, encodeClientItem, encodeEventMap, encodePeerEntry } from '../../../broker/event/mod.js';

const cbor = new Encoder({ ...CBOR_OPTIONS });

/** A small seeded PRNG so failures reproduce. */
function prng(seed: number): () => number {
  return () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

function randomEvent(r: () => number, i: number): MeshEvent {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const str = (n: number) => Array.from({ length: Math.floor(r() * n) }, () => pick(['a', 'é', '☃', '𝄞', 'z', '0', ' ', '"'])).join('');
  const attrs: Record<string, string | number | boolean> = {};
  if (r() < 0.5) attrs.subject = `s${str(30)}`;
  if (r() < 0.5) attrs.time = '2026-11-22T21:00:00Z';
  if (r() < 0.5) attrs.datacontenttype = 'application/json';
  if (r() < 0.3) attrs.count = pick([0, 1, 23, 24, 255, 256, 65535, 65536, -1, -24, -25, -256, -2147483648, 2147483647]);
  if (r() < 0.3) attrs.ratio = pick([0.5, -1.25, 1e-7]);
  if (r() < 0.3) attrs.flag = r() < 0.5;
  return {
    id: `id-${i}-${str(40)}`,
    source: `src/${str(300)}`,
    type: 't',
    topic: `topic.${i}`,
    attrs,
    traceparent: r() < 0.5 ? '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' : undefined,
    tracestate: r() < 0.2 ? 'k=v' : undefined,
    origin: r() < 0.7 ? { node: 'n1', protocol: 'ws', topic: `t/${i}` } : undefined,
    hops: Array.from({ length: Math.floor(r() * 4) }, (_, h) => ({ node: `n${h}`, region: `r${h}`, time: 1_700_000_000_000 + h })),
    data: r() < 0.9 ? Buffer.from(Array.from({ length: Math.floor(r() * (r() < 0.1 ? 70_000 : 300)) }, () => Math.floor(r() * 256))) : undefined,
  };
}

test('encodeClientItem() and encodePeerEntry() decode to exactly what cbor-x makes of encodeEventMap()', () => {
  const r = prng(42);
  for (let i = 0; i < 2000; i++) {
    const e = randomEvent(r, i);
    const map = encodeEventMap(e);
    assert.deepEqual(cbor.decode(encodeClientItem(e)), cbor.decode(cbor.encode({ topic: e.topic, event: map })), `event ${i}`);
    assert.deepEqual(cbor.decode(encodePeerEntry(e)), cbor.decode(cbor.encode([e.topic, map])), `event ${i}`);
  }
});

test('encoded items are independent copies: encoding the next event does not change the last', () => {
  const r = prng(7);
  const a = randomEvent(r, 1);
  const first = encodeClientItem(a);
  const copy = Buffer.from(first);
  encodeClientItem(randomEvent(r, 2));
  assert.deepEqual(first, copy);
});

test('clientItemFromPeerEntry() splices a peer entry into the very bytes encodeClientItem() writes, for topics of every length head', () => {
  const r = prng(11);
  for (let i = 0; i < 600; i++) {
    const e = randomEvent(r, i);
    // Topic text heads: 1 byte (< 24), 2 bytes (< 256), 3 bytes (< 65536).
    const topic = ['t', `topic.${i}`, `a.${'b'.repeat(30)}`, `a.${'c'.repeat(300)}`, `a.${'é'.repeat(200)}`][i % 5]!;
    const event = { ...e, topic };
    const entry = Buffer.from(encodePeerEntry(event));
    assert.deepEqual(clientItemFromPeerEntry(entry), Buffer.from(encodeClientItem(event)), `event ${i}`);
  }
  assert.equal(clientItemFromPeerEntry(Buffer.from(cbor.encode({ topic: 't', event: {} }))), null, 'a map is not a peer entry');
  assert.equal(clientItemFromPeerEntry(Buffer.from(cbor.encode([1, {}]))), null, 'nor an array led by a number');
  assert.equal(clientItemFromPeerEntry(Buffer.from([0x82, 0x78])), null, 'nor a cut one');
});
