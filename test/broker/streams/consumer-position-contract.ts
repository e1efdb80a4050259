/**
 * The ConsumerPositionStore contract, run against every engine's
 * positions (StreamStore.consumerPositions()). `open` gives a fresh store
 * for each test; `reopen`, for persistent engines, opens the same store
 * again after close() (positions must survive it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsumerPosition, StreamStore } from '../../../broker/streams/mod.js';

export interface PositionEngine {
  /** Positions outlive the store's close (lmdb, JetStream); memory's do not, as its streams do not. */
  readonly persistent: boolean;
  readonly open: (t: import('node:test').TestContext) => Promise<{ store: StreamStore; reopen?: () => Promise<StreamStore> }>;
}

const position = (name: string, floor: number, acked: number[] = [], stream = 'orders'): ConsumerPosition => ({
  stream,
  name,
  epoch: 'e1',
  config: { filter: name === 'f' ? 'orders.eu.>' : null, ackWaitMs: 30_000, maxInFlight: 1000 },
  floor,
  acked,
  delivered: floor + acked.length + 3,
  created: 1_700_000_000_000,
});

const byKey = (ps: ConsumerPosition[]) => [...ps].sort((a, b) => `${a.stream}.${a.name}`.localeCompare(`${b.stream}.${b.name}`));

export function consumerPositionContract(engine: string, e: PositionEngine): void {
  const open = async (t: import('node:test').TestContext) => {
    const o = await e.open(t);
    t.after(() => o.store.close());
    return o;
  };

  test(`${engine}: a saved position loads back field for field; a save replaces it; remove forgets it`, async (t) => {
    const { store } = await open(t);
    const ps = store.consumerPositions();
    assert.deepEqual(await ps.load(), []);
    await ps.save(position('billing', 10, [12, 15]));
    await ps.save(position('f', 0));
    await ps.save(position('billing', 3, [], 'other'));
    assert.deepEqual(byKey(await ps.load()), byKey([position('billing', 10, [12, 15]), position('f', 0), position('billing', 3, [], 'other')]));
    await ps.save(position('billing', 20));
    const loaded = byKey(await ps.load());
    assert.deepEqual(
      loaded.map((p) => [p.stream, p.name, p.floor, p.acked]),
      [
        ['orders', 'billing', 20, []],
        ['orders', 'f', 0, []],
        ['other', 'billing', 3, []],
      ],
    );
    await ps.remove('orders', 'billing');
    await ps.remove('orders', 'never-saved'); // no-op
    assert.deepEqual(
      byKey(await ps.load()).map((p) => `${p.stream}.${p.name}`),
      ['orders.f', 'other.billing'],
    );
    assert.equal(store.consumerPositions(), ps, 'one positions store per stream store');
  });

  test(`${engine}: back-to-back saves of one consumer, not awaited one by one, leave the last one`, async (t) => {
    const { store } = await open(t);
    const ps = store.consumerPositions();
    await Promise.all(Array.from({ length: 50 }, (_, i) => ps.save(position('c', i + 1))));
    const [p] = await ps.load();
    assert.equal(p?.floor, 50);
  });

  test(`${engine}: a large acked set (5,000 offsets above the floor) round-trips`, async (t) => {
    const { store } = await open(t);
    const ps = store.consumerPositions();
    const acked = Array.from({ length: 5000 }, (_, i) => 100 + 2 * i);
    await ps.save(position('wide', 98, acked));
    const [p] = await ps.load();
    assert.equal(p?.acked.length, 5000);
    assert.deepEqual(p?.acked, acked);
  });

  if (e.persistent)
    test(`${engine}: positions survive close and reopen of the store (the engine's durability)`, async (t) => {
      const o = await e.open(t);
      await o.store.consumerPositions().save(position('c', 7, [9]));
      await o.store.close();
      const again = await o.reopen!();
      t.after(() => again.close());
      assert.deepEqual(await again.consumerPositions().load(), [position('c', 7, [9])]);
    });
}
