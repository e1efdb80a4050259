import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MeshEvent } from '../../../broker/event/mod.js';
import { LocalRouter } from '../../../broker/pipeline/internal.js';
import type { EgressFormat, Subscriber } from '../../../broker/pipeline/mod.js';

function countingFormat(name: string): EgressFormat & { calls: number } {
  const f = {
    name,
    binary: false,
    batch: null,
    calls: 0,
    encode(event: MeshEvent) {
      f.calls++;
      return Buffer.from(`${name}:${event.id}`);
    },
  };
  return f;
}

function collector(format: EgressFormat): Subscriber & { frames: Uint8Array[] } {
  const frames: Uint8Array[] = [];
  return { format, frames, deliver: (frame) => void frames.push(frame) };
}

const event: MeshEvent = { id: '1', source: 's', type: 't', topic: 'a.b', attrs: {}, hops: [] };

test('LocalRouter.route() encodes an event once per egress format and shares the bytes', () => {
  const router = new LocalRouter();
  const formats = [countingFormat('f1'), countingFormat('f2'), countingFormat('f3')];
  const subs = Array.from({ length: 90 }, (_, i) => collector(formats[i % 3]));
  for (const [i, s] of subs.entries()) router.add(i % 2 ? 'a.*' : 'a.>', s);
  assert.equal(router.route(event), 90);
  assert.deepEqual(
    formats.map((f) => f.calls),
    [1, 1, 1],
  );
  for (const f of formats) {
    const frames = subs.filter((s) => s.format === f).map((s) => s.frames[0]);
    assert.ok(
      frames.every((fr) => fr === frames[0]),
      `${f.name}: one shared buffer`,
    );
  }
});

test('LocalRouter.route() encodes nothing when no subscriber matches', () => {
  const router = new LocalRouter();
  const f = countingFormat('f');
  router.add('x.>', collector(f));
  assert.equal(router.route(event), 0);
  assert.equal(f.calls, 0);
});

test('LocalRouter.route(event, durableOnly) reaches durable subscribers (streams) only, and counts those', () => {
  const router = new LocalRouter();
  const f = countingFormat('f');
  const live = collector(f);
  const stream = { ...collector(f), durable: true };
  router.add('a.>', live);
  router.add('a.>', stream);
  assert.equal(router.route(event, true), 1);
  assert.equal(live.frames.length, 0, 'a live subscriber may have had it from the previous instance: not again');
  assert.equal(stream.frames.length, 1, 'a stream takes it again: its readers dedup');
  assert.equal(router.route(event), 2);
});
