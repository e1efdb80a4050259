/**
 * The StreamStore contract, run against every engine (as aedes-persistence's
 * abstract suite is): `factory` gives a fresh, empty store for each test.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MeshError } from '../../../broker/base/mod.js';
import type { StreamStore } from '../../../broker/streams/mod.js';

export type StoreFactory = (t: import('node:test').TestContext) => Promise<StreamStore> | StreamStore;

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** What an engine may lack: JetStream numbers entries and mints epochs itself (StreamStore.appendAt, create). */
export interface ContractOptions {
  /** appendAt() of a later offset on an empty stream, and create() with a given epoch. @default true */
  readonly placedEntries?: boolean;
}

export function streamStoreContract(engine: string, factory: StoreFactory, options: ContractOptions = {}): void {
  const placed = options.placedEntries ?? true;
  const open = async (t: import('node:test').TestContext) => {
    const store = await factory(t);
    t.after(() => store.close());
    return store;
  };

  test(`${engine}: append() returns consecutive offsets from 1, and read() returns them after flushed()`, async (t) => {
    const store = await open(t);
    await store.create({ name: 'orders' });
    const offsets = [0, 1, 2].map((i) => store.append('orders', bytes(`e${i}`), { time: 1000 + i, topic: `db.orders.${i}` }));
    assert.deepEqual(offsets, [1, 2, 3]);
    await store.flushed();
    const r = store.read('orders', 0, 10);
    assert.ok(r.ok);
    assert.deepEqual(
      r.entries.map((e) => [e.offset, e.time, e.topic, text(e.bytes)]),
      [
        [1, 1000, 'db.orders.0', 'e0'],
        [2, 1001, 'db.orders.1', 'e1'],
        [3, 1002, 'db.orders.2', 'e2'],
      ],
    );
    assert.equal(r.last, 3);
    const info = store.info('orders')!;
    assert.deepEqual([info.first, info.last, info.events, info.epoch], [1, 3, 3, r.epoch]);
  });

  test(`${engine}: read() pages with after and limit, and an empty page at the end`, async (t) => {
    const store = await open(t);
    await store.create({ name: 's' });
    for (let i = 1; i <= 25; i++) store.append('s', bytes(String(i)), { time: i, topic: 't' });
    await store.flushed();
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const r = store.read('s', after, 10);
      assert.ok(r.ok);
      if (r.entries.length === 0) break;
      seen.push(...r.entries.map((e) => Number(text(e.bytes))));
      after = r.entries.at(-1)!.offset;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 25 }, (_, i) => i + 1),
    );
  });

  test(`${engine}: readable() resolves once read() can answer that page`, async (t) => {
    const store = await open(t);
    await store.create({ name: 's' });
    for (let i = 1; i <= 5; i++) store.append('s', bytes(String(i)), { time: i, topic: 't' });
    await store.flushed();
    await store.readable('s', 1, 3);
    const r = store.read('s', 1, 3);
    assert.ok(r.ok);
    assert.deepEqual(
      r.entries.map((e) => e.offset),
      [2, 3, 4],
    );
    await store.readable('nope', 0, 1); // nothing to wait for
    await store.readable('s', 5, 10);
  });

  test(`${engine}: read() answers not recoverable for an unknown stream, a position beyond the end, and another epoch`, async (t) => {
    const store = await open(t);
    const { epoch } = await store.create({ name: 's' });
    store.append('s', bytes('x'), { time: 1, topic: 't' });
    await store.flushed();
    assert.deepEqual(store.read('nope', 0, 1), { ok: false, reason: 'unknown-stream', code: 'MG_ERR_STREAM_UNKNOWN', first: 0, last: 0, epoch: '' });
    const beyond = store.read('s', 5, 1);
    assert.ok(!beyond.ok);
    assert.equal(beyond.reason, 'beyond-end');
    assert.equal(beyond.last, 1);
    const other = store.read('s', 0, 1, 'not-' + epoch);
    assert.ok(!other.ok);
    assert.equal(other.reason, 'epoch');
    assert.equal(other.epoch, epoch);
    assert.ok(store.read('s', 1, 1, epoch).ok);
  });

  test(`${engine}: retention by count trims the oldest and a position before first is pruned`, async (t) => {
    const store = await open(t);
    await store.create({ name: 's', maxEvents: 3 });
    for (let i = 1; i <= 5; i++) store.append('s', bytes(String(i)), { time: i, topic: 't' });
    await store.flushed();
    const info = store.info('s')!;
    assert.deepEqual([info.first, info.last, info.events], [3, 5, 3]);
    const r = store.read('s', 0, 10);
    assert.ok(!r.ok);
    assert.deepEqual([r.reason, r.code, r.first], ['pruned', 'MG_ERR_STREAM_PRUNED', 3]);
    const ok = store.read('s', 2, 10);
    assert.ok(ok.ok);
    assert.deepEqual(
      ok.entries.map((e) => e.offset),
      [3, 4, 5],
    );
  });

  test(`${engine}: retention by bytes keeps the stream under maxBytes`, async (t) => {
    const store = await open(t);
    // Each record: 10-byte header + 1-byte topic + 89 bytes = 100 bytes.
    await store.create({ name: 's', maxBytes: 250 });
    for (let i = 0; i < 5; i++) store.append('s', new Uint8Array(89), { time: i, topic: 't' });
    await store.flushed();
    const info = store.info('s')!;
    assert.deepEqual([info.first, info.last, info.bytes], [4, 5, 200]);
  });

  test(`${engine}: retention by age trims on append (as of the newest entry) and at trim(now) with the injected clock`, async (t) => {
    const store = await open(t);
    await store.create({ name: 's', maxAgeMs: 1000 });
    for (const time of [10_000, 10_500, 11_000, 11_500]) store.append('s', bytes('x'), { time, topic: 't' });
    await store.flushed();
    assert.equal(store.info('s')!.first, 2); // 10_000 < 11_500 - 1000
    await store.trim(12_200); // keeps time >= 11_200
    assert.deepEqual([store.info('s')!.first, store.info('s')!.last], [4, 4]);
  });

  test(`${engine}: seekTime() finds the first offset at or after a time; times are kept non-decreasing`, async (t) => {
    const store = await open(t);
    await store.create({ name: 's' });
    for (const time of [100, 200, 150, 300]) store.append('s', bytes('x'), { time, topic: 't' });
    await store.flushed();
    const r = store.read('s', 0, 10);
    assert.ok(r.ok);
    assert.deepEqual(
      r.entries.map((e) => e.time),
      [100, 200, 200, 300],
    );
    assert.equal(store.seekTime('s', 0), 1);
    assert.equal(store.seekTime('s', 150), 2);
    assert.equal(store.seekTime('s', 250), 4);
    assert.equal(store.seekTime('s', 999), 5);
    assert.equal(store.seekTime('nope', 0), undefined);
  });

  test(`${engine}: lastPerTopic() gives each retained topic's newest offset, filtered by a predicate`, async (t) => {
    const store = await open(t);
    await store.create({ name: 's', maxEvents: 4 });
    for (const topic of ['a.1', 'b.1', 'a.1', 'a.2', 'b.2', 'a.2']) store.append('s', bytes(topic), { time: 1, topic });
    await store.flushed();
    await store.trim(1);
    assert.deepEqual(Object.fromEntries(store.lastPerTopic('s')!), { 'a.1': 3, 'a.2': 6, 'b.2': 5 });
    assert.deepEqual(Object.fromEntries(store.lastPerTopic('s', (x) => x.startsWith('a.'))!), { 'a.1': 3, 'a.2': 6 });
  });

  test(`${engine}: create() is idempotent for the same config, refuses another, checks names; list() and remove()`, async (t) => {
    const store = await open(t);
    const a = await store.create({ name: 'a', maxEvents: 5 });
    assert.equal((await store.create({ name: 'a', maxEvents: 5 })).epoch, a.epoch);
    await assert.rejects(store.create({ name: 'a', maxEvents: 6 }), (e: unknown) => e instanceof MeshError && e.code === 'MG_ERR_STREAM_EXISTS');
    await assert.rejects(
      store.create({ name: 'bad name' }),
      (e: unknown) => e instanceof MeshError && e.code === 'MG_ERR_STREAM_INVALID' && /stream\.name/.test(e.message),
    );
    await assert.rejects(store.create({ name: 'x', maxAgeMs: -1 }), (e: unknown) => e instanceof MeshError && /stream\.maxAgeMs/.test(e.message));
    await store.create({ name: 'b' });
    assert.deepEqual(
      store
        .list()
        .map((i) => i.name)
        .sort(),
      ['a', 'b'],
    );
    store.append('a', bytes('x'), { time: 1, topic: 't' });
    await store.remove('a');
    assert.deepEqual(
      store.list().map((i) => i.name),
      ['b'],
    );
    assert.throws(
      () => store.append('a', bytes('x'), { time: 1, topic: 't' }),
      (e: unknown) => e instanceof MeshError && e.code === 'MG_ERR_STREAM_UNKNOWN',
    );
    const again = await store.create({ name: 'a' });
    assert.notEqual(again.epoch, a.epoch);
    assert.deepEqual([again.first, again.last], [1, 0]);
  });

  test(`${engine}: append() after close() is refused with MG_ERR_STREAM_CLOSED`, async (t) => {
    const store = await factory(t);
    await store.create({ name: 's' });
    await store.close();
    assert.throws(
      () => store.append('s', bytes('x'), { time: 1, topic: 't' }),
      (e: unknown) => e instanceof MeshError && e.code === 'MG_ERR_STREAM_CLOSED',
    );
  });

  test(`${engine}: appendAt() takes the next offset and refuses one already used or a gap in a non-empty stream`, async (t) => {
    const store = await open(t);
    await store.create({ name: 's' });
    store.appendAt('s', 1, bytes('a'), { time: 1, topic: 't' });
    store.appendAt('s', 2, bytes('b'), { time: 2, topic: 't' });
    const invalid = (e: unknown) => e instanceof MeshError && e.code === 'MG_ERR_STREAM_INVALID';
    assert.throws(() => store.appendAt('s', 2, bytes('x'), { time: 3, topic: 't' }), invalid);
    assert.throws(() => store.appendAt('s', 5, bytes('x'), { time: 3, topic: 't' }), invalid);
    assert.throws(
      () => store.appendAt('nope', 1, bytes('x'), { time: 3, topic: 't' }),
      (e: unknown) => e instanceof MeshError && e.code === 'MG_ERR_STREAM_UNKNOWN',
    );
    await store.flushed();
    const r = store.read('s', 0, 10);
    assert.ok(r.ok);
    assert.deepEqual(
      r.entries.map((e) => [e.offset, text(e.bytes)]),
      [
        [1, 'a'],
        [2, 'b'],
      ],
    );
    assert.equal(store.append('s', bytes('c'), { time: 4, topic: 't' }), 3, 'append() goes on after appendAt()');
  });

  if (placed) {
    test(`${engine}: appendAt() on an empty stream starts it at that offset; earlier positions are pruned`, async (t) => {
      const store = await open(t);
      await store.create({ name: 's' });
      store.appendAt('s', 17, bytes('q'), { time: 1, topic: 't' });
      store.appendAt('s', 18, bytes('r'), { time: 2, topic: 't' });
      await store.flushed();
      const info = store.info('s')!;
      assert.deepEqual([info.first, info.last, info.events], [17, 18, 2]);
      const r = store.read('s', 16, 10);
      assert.ok(r.ok);
      assert.deepEqual(
        r.entries.map((e) => [e.offset, text(e.bytes)]),
        [
          [17, 'q'],
          [18, 'r'],
        ],
      );
      const before = store.read('s', 3, 10);
      assert.deepEqual([before.ok, !before.ok && before.reason], [false, 'pruned']);
      assert.equal(store.seekTime('s', 2), 18);
    });

    test(`${engine}: create() with an epoch keeps it`, async (t) => {
      const store = await open(t);
      const info = await store.create({ name: 's' }, { epoch: '0123456789abcdef' });
      assert.equal(info.epoch, '0123456789abcdef');
      assert.equal(store.info('s')!.epoch, '0123456789abcdef');
    });
  } else {
    test(`${engine}: appendAt() of a later offset and create() with an epoch are refused with MG_ERR_STREAM_INVALID`, async (t) => {
      const store = await open(t);
      await store.create({ name: 's' });
      const invalid = (e: unknown) => e instanceof MeshError && e.code === 'MG_ERR_STREAM_INVALID';
      assert.throws(() => store.appendAt('s', 17, bytes('q'), { time: 1, topic: 't' }), invalid);
      await assert.rejects(store.create({ name: 'e' }, { epoch: '0123456789abcdef' }), invalid);
    });
  }
}
