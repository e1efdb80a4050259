import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MeshEvent } from '../../../broker/event/mod.js';
import { encodePeerEntry } from '../../../broker/event/mod.js';
import {
  type ControlFrame,
  decodeEventEntry,
  decodePeerFrame,
  encodeControl,
  encodeDests,
  encodeEventBatch,
  withHopParent,
} from '../../../broker/peering/internal.js';

const event = (i: number): MeshEvent => ({
  id: `e${i}`,
  source: 'src',
  type: 't',
  topic: `a.b${i}`,
  attrs: { subject: 'x' },
  hops: [{ node: 'n1', region: 'r1', time: 1_700_000_000_000 + i }],
  data: Buffer.from([i, 1, 2, 3]),
});

test('a control frame round-trips through decodePeerFrame()', () => {
  const frame = { t: 'hello', node: 'a', region: 'eu', version: 1, nonce: new Uint8Array(16).fill(3), proof: new Uint8Array(32).fill(9) } as const;
  const decoded = decodePeerFrame(encodeControl(frame));
  assert.equal(decoded.kind, 'control');
  const got = (decoded as { frame: Record<string, unknown> }).frame;
  assert.deepEqual(
    { ...got, nonce: [...(got.nonce as Uint8Array)], proof: [...(got.proof as Uint8Array)] },
    { ...frame, nonce: [...frame.nonce], proof: [...frame.proof] },
  );
});

test('the remote stream read frames round-trip, stored bytes as bytes', () => {
  const bytes = new Uint8Array([1, 0x82, 0x61, 0x74, 0xa0]);
  const frames: ControlFrame[] = [
    { t: 'streams', o: 'a', v: 1_700_000_000_000, s: [{ n: 'orders', e: '0123456789abcdef' }] },
    { t: 'sread', id: 7, n: 'orders', f: 'orders.>', o: 'a', from: { offset: 42 }, e: '0123456789abcdef', c: 1024, b: 262_144 },
    { t: 'sok', id: 7, e: '0123456789abcdef', next: 42, first: 1, last: 99 },
    { t: 'sent', id: 7, x: [[42, 1_700_000_000_000, 'orders.n', bytes]] },
    { t: 'scredit', id: 7, c: 1, b: 5 },
    { t: 'serr', id: 7, code: 'MG_ERR_STREAM_PRUNED', reason: 'pruned', first: 50, last: 99, e: '0123456789abcdef', m: 'trimmed', p: 41 },
    { t: 'sstop', id: 7 },
  ];
  for (const frame of frames) {
    const decoded = decodePeerFrame(encodeControl(frame));
    assert.equal(decoded.kind, 'control', frame.t);
    const got = (decoded as { frame: Record<string, unknown> }).frame;
    if (frame.t !== 'sent') {
      assert.deepEqual(got, frame);
      continue;
    }
    const [entry] = got.x as Array<[number, number, string, Uint8Array]>;
    assert.deepEqual([entry![0], entry![1], entry![2]], [42, 1_700_000_000_000, 'orders.n']);
    assert.ok(entry![3] instanceof Uint8Array);
    assert.deepEqual([...entry![3]], [...bytes]);
  }
});

test('an event batch round-trips with sequence numbers, entries and destination lists', () => {
  const entries = [0, 1, 2].map((i) => encodePeerEntry(event(i)));
  const dests = [encodeDests(['b']), encodeDests([]), encodeDests(['b', 'c', 'dé'])];
  const decoded = decodePeerFrame(encodeEventBatch(41, entries, dests));
  assert.equal(decoded.kind, 'events');
  const batch = (decoded as { batch: { firstSeq: number; entries: Uint8Array[]; dests: string[][] } }).batch;
  assert.equal(batch.firstSeq, 41);
  assert.deepEqual(batch.dests, [['b'], [], ['b', 'c', 'dé']]);
  assert.deepEqual(
    batch.entries.map((e) => decodeEventEntry(e)!.topic),
    ['a.b0', 'a.b1', 'a.b2'],
  );
  assert.equal(decodeEventEntry(batch.entries[2])!.map.id, 'e2');
});

test('a hop parent rides in the routing trailer of the entries that carry one, and only those', () => {
  const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const entries = [0, 1, 2].map((i) => encodePeerEntry(event(i)));
  const dests = [encodeDests(['b']), withHopParent(encodeDests(['b', 'c']), parent), encodeDests([])];
  const decoded = decodePeerFrame(encodeEventBatch(7, entries, dests));
  assert.equal(decoded.kind, 'events');
  const batch = (decoded as { batch: { dests: string[][]; hopParents: Array<string | undefined> | null } }).batch;
  assert.deepEqual(batch.dests, [['b'], ['b', 'c'], []]);
  assert.equal(batch.hopParents?.[0], undefined);
  assert.equal(batch.hopParents?.[1], parent);
  assert.equal(batch.hopParents?.[2], undefined);
  const plain = decodePeerFrame(encodeEventBatch(7, entries, [encodeDests(['b']), encodeDests([]), encodeDests([])]));
  assert.equal((plain as { batch: { hopParents: unknown } }).batch.hopParents, null, 'no entry traced: no per-entry array at all');
});

test('every truncation of a batch frame and of a control frame is reported malformed, never thrown', () => {
  const frames = [
    encodeEventBatch(1, [encodePeerEntry(event(1)), encodePeerEntry(event(2))], [encodeDests(['x']), encodeDests(['y', 'z'])]),
    encodeEventBatch(
      1,
      [encodePeerEntry(event(1)), encodePeerEntry(event(2))],
      [encodeDests(['x']), withHopParent(encodeDests(['y']), '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')],
    ),
    encodeControl({ t: 'interest', full: true, states: [{ o: 'a', v: 3, d: 0, f: ['db.>', 'x.*'] }] }),
  ];
  for (const whole of frames) {
    for (let cut = 0; cut < whole.length; cut++) {
      const decoded = decodePeerFrame(whole.subarray(0, cut));
      assert.equal(decoded.kind, 'malformed', `prefix of ${cut}/${whole.length} bytes`);
    }
    assert.notEqual(decodePeerFrame(whole).kind, 'malformed');
  }
});

test('trailing bytes, unknown frame kinds and random garbage are malformed, never thrown', () => {
  const batch = encodeEventBatch(1, [encodePeerEntry(event(1))], [encodeDests([])]);
  assert.equal(decodePeerFrame(Buffer.concat([batch, Buffer.from([0])])).kind, 'malformed');
  assert.equal(decodePeerFrame(Buffer.from([7, 1, 2])).kind, 'malformed');
  assert.equal(decodePeerFrame(encodeControl({ t: 'bogus' } as never)).kind, 'malformed');
  let seed = 99;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
  for (let i = 0; i < 2000; i++) {
    const bytes = Uint8Array.from({ length: 1 + (i % 64) }, rnd);
    assert.doesNotThrow(() => decodePeerFrame(bytes));
  }
});
