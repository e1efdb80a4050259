/**
 * Durable consumers through the in-process API (consumersOf(streams)):
 * the sink a later PostgreSQL apply or webhook attaches, on a real
 * StreamManager over lmdb and memory stores.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MeshError, MetricsRegistry } from '../../../broker/base/mod.js';
import type { MeshEvent } from '../../../broker/event/mod.js';
import {
  AckWindow,
  type ConsumerDelivery,
  type ConsumerSink,
  consumersOf,
  JetStreamStreamStore,
  LmdbStreamStore,
  MemoryStreamStore,
  StreamManager,
  type StreamStore,
} from '../../../broker/streams/mod.js';
import { type NatsServerHandle, startNatsServer } from '../../helpers/brokers.js';
import { testMeshNode } from '../../helpers/mesh-node.js';
import { testTmpDir } from '../../helpers/tmp.js';

let nats: NatsServerHandle;
before(async () => {
  nats = await startNatsServer({ jetstream: true });
});
after(() => nats?.stop());

/** Per test, a function that opens the same persistent store each call (a node restart is close, then open again). */
const ENGINES = {
  lmdb: (t: import('node:test').TestContext) => {
    const dir = testTmpDir(t, 'durable');
    return async (): Promise<StreamStore> => LmdbStreamStore.open({ dir });
  },
  jetstream: () => {
    const storeId = `dc${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    return (): Promise<StreamStore> => JetStreamStreamStore.open({ servers: nats.url, storeId });
  },
} as const;

const event = (i: number): MeshEvent => ({ id: `e${i}`, source: 'svc', type: 't', topic: i % 2 ? 'orders.eu' : 'orders.us', attrs: {}, hops: [] });

async function manager(t: import('node:test').TestContext, store: StreamStore, maxEvents = 0) {
  const node = testMeshNode();
  const metrics = new MetricsRegistry();
  const streams = new StreamManager({ node, store, metrics });
  streams.start();
  await streams.create({ name: 'orders', filters: ['orders.>'], maxEvents });
  node.setDurability(streams);
  t.after(() => streams.close());
  const publish = async (from: number, count: number) => {
    const acks = [];
    for (let i = from; i < from + count; i++) {
      const r = node.ingest(event(i), 'ws');
      assert.ok(r.ok);
      acks.push(r.durable);
    }
    await Promise.all(acks);
  };
  return { streams, metrics, publish };
}

/** An in-process sink: records deliveries; `next(n)` resolves once n have come. */
function recorder(): ConsumerSink & { got: ConsumerDelivery[]; next(n: number): Promise<void> } {
  const got: ConsumerDelivery[] = [];
  let waiter: { n: number; resolve: () => void } | null = null;
  return {
    closed: false,
    bufferedBytes: 0,
    maxBufferedBytes: Number.POSITIVE_INFINITY,
    got,
    deliver(d) {
      got.push(d);
      if (waiter !== null && got.length >= waiter.n) {
        waiter.resolve();
        waiter = null;
      }
      return 0;
    },
    next(n) {
      if (got.length >= n) return Promise.resolve();
      return new Promise((resolve) => (waiter = { n, resolve }));
    },
  };
}

test('AckWindow: acks in any order close the floor over every finished run; skipTo passes what retention removed', () => {
  const w = new AckWindow(10, [12, 14]);
  assert.deepEqual([w.floor, w.acked()], [10, [12, 14]]);
  assert.equal(w.ack(11), true);
  assert.deepEqual([w.floor, w.acked()], [12, [14]]);
  assert.equal(w.ack(12), false, 'acked already');
  assert.equal(w.isAcked(13), false);
  w.skipTo(14);
  assert.deepEqual([w.floor, w.acked()], [14, []]);
});

for (const [engine, storeOf] of Object.entries(ENGINES)) {
  test(`in process (${engine}): bind creates the consumer, an attached sink gets each entry once with its offset, acks are stored; a new node over the same store continues from them`, async (t) => {
    const open = storeOf(t);
    let { streams, publish } = await manager(t, await open());
    await publish(0, 6);
    let consumers = consumersOf(streams);
    let c = await consumers.bind('orders', 'pg', { start: 'first', ackWaitMs: 60_000 });
    const sink = recorder();
    const binding = c.attach(sink);
    await sink.next(6);
    assert.deepEqual(
      sink.got.map((d) => [d.offset, d.event.id, d.deliveryCount, d.redelivered]),
      [0, 1, 2, 3, 4, 5].map((i) => [i + 1, `e${i}`, 1, false]),
    );
    assert.deepEqual(c.ack([1, 2, 4]), { ok: true });
    assert.deepEqual(c.ack([4, 99]), { ok: false, notInFlight: [4, 99] });
    await consumers.saved(c);
    assert.deepEqual([c.ackFloor, c.inFlight], [2, 3]);
    assert.deepEqual(
      consumers.list('orders').map((i) => [i.name, i.ackFloor, i.inFlight, i.lag, i.bound]),
      [['pg', 2, 3, 4, 1]],
    );
    binding.detach();
    await streams.close();

    ({ streams, publish } = await manager(t, await open()));
    consumers = consumersOf(streams);
    await consumers.ready();
    c = consumers.get('orders', 'pg')!;
    assert.deepEqual([c.ackFloor, c.position().acked], [2, [4]]);
    const again = recorder();
    c.attach(again);
    await publish(6, 1);
    await again.next(4);
    // 3, 5 and 6 went out before the restart and were not acked: redeliveries. 4 was acked. 7 is new.
    assert.deepEqual(
      again.got.map((d) => [d.offset, d.deliveryCount]),
      [
        [3, 2],
        [5, 2],
        [6, 2],
        [7, 1],
      ],
    );
  });
}

test('in process: two sinks share a consumer; one detaching hands what it had in flight to the other', async (t) => {
  const { streams, publish } = await manager(t, new MemoryStreamStore());
  await publish(0, 4);
  const c = await consumersOf(streams).bind('orders', 'shared', { start: 'first' });
  const a = recorder();
  const b = recorder();
  const ba = c.attach(a);
  c.attach(b);
  await Promise.all([a.next(2), b.next(2)]);
  assert.deepEqual([...a.got, ...b.got].map((d) => d.offset).sort(), [1, 2, 3, 4]);
  ba.detach();
  await b.next(4);
  assert.deepEqual(
    b.got
      .slice(2)
      .map((d) => [d.offset, d.redelivered])
      .sort(),
    a.got.map((d) => [d.offset, true]).sort(),
  );
});

test('in process: retention that overtakes a consumer counts the lost offsets and continues from the first kept; removing the stream removes its consumers', async (t) => {
  const { streams, metrics, publish } = await manager(t, new MemoryStreamStore(), 5);
  const consumers = consumersOf(streams);
  const c = await consumers.bind('orders', 'late', { start: 'first' });
  await publish(0, 20);
  const sink = recorder();
  c.attach(sink);
  await sink.next(5);
  assert.deepEqual(
    sink.got.map((d) => d.offset),
    [16, 17, 18, 19, 20],
  );
  assert.match(metrics.render(), /meshgate_stream_consumer_pruned_total\{stream="orders",consumer="late"\} 15/);
  await assert.rejects(consumers.bind('orders', 'late', { maxInFlight: 3 }), (e: unknown) => e instanceof MeshError && e.code === 'MG_ERR_CONSUMER_EXISTS');
  await streams.remove('orders');
  assert.equal(consumers.get('orders', 'late'), undefined);
  assert.equal(c.stopped, true);
  await assert.rejects(consumers.bind('orders', 'late'), (e: unknown) => e instanceof MeshError && e.code === 'MG_ERR_STREAM_UNKNOWN');
});

test('in process: a position the store refuses to save is reported to the ack waiting on it and saved again by itself', async (t) => {
  let refuse = false;
  let savedAgain: (floor: number) => void = () => undefined;
  /** Memory positions whose next save fails while `refuse` is set. */
  class FlakyStore extends MemoryStreamStore {
    override consumerPositions() {
      const positions = super.consumerPositions();
      return {
        load: () => positions.load(),
        remove: (s: string, n: string) => positions.remove(s, n),
        async save(p: Parameters<typeof positions.save>[0]) {
          if (refuse) {
            refuse = false;
            throw new MeshError('MG_ERR_STREAM_IO', 'disk said no');
          }
          await positions.save(p);
          savedAgain(p.floor);
        },
      };
    }
  }
  const store = new FlakyStore();
  const { streams, publish } = await manager(t, store);
  await publish(0, 1);
  const consumers = consumersOf(streams);
  const c = await consumers.bind('orders', 'flaky', { start: 'first' });
  const sink = recorder();
  c.attach(sink);
  await sink.next(1);
  await consumers.saved(c); // the delivery's own save (what went out) is done
  refuse = true;
  const retried = new Promise<number>((resolve) => (savedAgain = (floor) => floor === 1 && resolve(floor)));
  c.ack([1]);
  await assert.rejects(consumers.saved(c), (e: unknown) => e instanceof MeshError && e.code === 'MG_ERR_STREAM_IO');
  assert.equal(await retried, 1);
  assert.deepEqual(
    (await store.consumerPositions().load()).map((p) => [p.name, p.floor]),
    [['flaky', 1]],
  );
});
