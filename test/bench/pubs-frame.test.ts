/**
 * The bench publisher's template-built `pubs` frames (bench/load/meshgate-pubs-frame.ts)
 * are read by the node's own CBOR decoder as the events the old per-event
 * encoding sent: ids from the sequence number, the payload as data, the
 * item count in the head, for frames of 1, 23, 24 and 300 items.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchEventId, PubsFrameBuilder } from '../../bench/load/meshgate-pubs-frame.js';
import { CBOR_CODEC } from '../../broker/ws/internal.js';

function decodePubs(frame: Buffer) {
  const ab = frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) as ArrayBuffer;
  const decoded = CBOR_CODEC.decode(ab);
  assert.ok(decoded.ok, JSON.stringify(decoded));
  assert.equal(decoded.request.op, 'pubs');
  return decoded.request.op === 'pubs' ? decoded.request.items : [];
}

test('a template-built pubs frame decodes on the node to one valid event per item, ids and payloads intact', () => {
  const frames = new PubsFrameBuilder('bench-src-1');
  for (const count of [1, 23, 24, 300]) {
    const payload = new Uint8Array(256);
    for (let i = 0; i < count; i++) {
      payload.fill(i & 0xff);
      frames.add(i % 2 === 0 ? 'bench.load' : 'bench.other', payload, 4_294_967_000 + i);
    }
    assert.equal(frames.count, count);
    const items = decodePubs(frames.take()!);
    assert.equal(items.length, count);
    items.forEach((item, i) => {
      assert.ok(item.ok, JSON.stringify(item));
      if (!item.ok) return;
      assert.equal(item.event.topic, i % 2 === 0 ? 'bench.load' : 'bench.other');
      assert.equal(item.event.id, benchEventId(4_294_967_000 + i));
      assert.equal(item.event.source, 'bench-src-1');
      assert.equal(item.event.type, 'bench');
      assert.deepEqual([...new Uint8Array(item.event.data!)], [...new Uint8Array(256).fill(i & 0xff)]);
    });
    assert.equal(frames.count, 0);
  }
  assert.equal(frames.take(), null, 'an empty frame is not sent');
});

test('fits() keeps a frame within its capacity and an oversized item still goes alone, in a grown buffer', () => {
  const frames = new PubsFrameBuilder('s', 1024);
  const item = frames.itemBytes('t', 300);
  assert.ok(frames.fits(item));
  frames.add('t', new Uint8Array(300), 0);
  frames.add('t', new Uint8Array(300), 1);
  assert.ok(!frames.fits(item), `three items of ${item} B exceed 1024`);
  assert.equal(decodePubs(frames.take()!).length, 2);
  assert.ok(frames.fits(frames.itemBytes('t', 5000)), 'an empty frame takes any item');
  frames.add('t', new Uint8Array(5000).fill(7), 2);
  const [big] = decodePubs(frames.take()!);
  assert.ok(big.ok && big.event.data!.byteLength === 5000 && big.event.id === benchEventId(2));
});
