import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect } from 'nats';
import { MeshError } from '../../../broker/base/mod.js';
import { JetStreamStreamStore } from '../../../broker/streams/mod.js';
import { type NatsServerHandle, startNatsServer } from '../../helpers/brokers.js';
import { streamStoreContract } from './contract.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const isCode = (code: string) => (e: unknown) => e instanceof MeshError && e.code === code;

// One nats-server -js for the file; each store gets its own storeId, so
// each test sees an empty store (and stores on one server stay apart).
let nats: NatsServerHandle;
before(async () => {
  nats = await startNatsServer({ jetstream: true });
});
after(() => nats?.stop());

let stores = 0;
const storeId = () => `t${process.pid}-${++stores}`;

streamStoreContract('JetStreamStreamStore', () => JetStreamStreamStore.open({ servers: nats.url, storeId: storeId() }), { placedEntries: false });

async function jsInfo(name: string) {
  const nc = await connect({ servers: nats.url });
  try {
    return await (await nc.jetstreamManager()).streams.info(name);
  } finally {
    await nc.close();
  }
}

test('JetStreamStreamStore keeps offsets as JetStream sequences: retention by count is max_msgs, and byte trims purge keeping sequences', async (t) => {
  const id = storeId();
  const store = await JetStreamStreamStore.open({ servers: nats.url, storeId: id });
  t.after(() => store.close());
  await store.create({ name: 'c', maxEvents: 3 });
  await store.create({ name: 'b', maxBytes: 250 });
  for (let i = 1; i <= 5; i++) {
    store.append('c', bytes(String(i)), { time: i, topic: 'x' });
    store.append('b', new Uint8Array(89), { time: i, topic: 'x' });
  }
  await store.flushed();
  const c = await jsInfo(`MG_${id}_c`);
  assert.deepEqual([c.config.max_msgs, c.state.first_seq, c.state.last_seq, c.state.messages], [3, 3, 5, 3]);
  const b = await jsInfo(`MG_${id}_b`);
  assert.deepEqual([b.state.first_seq, b.state.last_seq, b.state.messages], [4, 5, 2]);
  // After a trim everything away, the next offset still follows the last.
  await store.create({ name: 'a', maxAgeMs: 10 });
  store.append('a', bytes('old'), { time: 1, topic: 'x' });
  await store.flushed();
  await store.trim(1000);
  assert.deepEqual([store.info('a')!.first, store.info('a')!.last], [2, 1]);
  assert.equal((await jsInfo(`MG_${id}_a`)).state.messages, 0);
  assert.equal(store.append('a', bytes('new'), { time: 1000, topic: 'x' }), 2);
  await store.flushed();
  assert.equal((await jsInfo(`MG_${id}_a`)).state.last_seq, 2);
});

test('JetStreamStreamStore keeps entries and epoch across a nats-server restart, read back through readable()', async (t) => {
  const id = storeId();
  let store = await JetStreamStreamStore.open({ servers: nats.url, storeId: id });
  const { epoch } = await store.create({ name: 's', maxEvents: 100, filters: ['db.>'] });
  for (let i = 1; i <= 3; i++) store.append('s', bytes(`kept${i}`), { time: 100 + i, topic: `db.é.${i}` });
  await store.flushed();
  await store.close();

  await nats.restart();
  store = await JetStreamStreamStore.open({ servers: nats.url, storeId: id });
  t.after(() => store.close());
  const info = store.info('s')!;
  assert.deepEqual([info.epoch, info.first, info.last, info.config.maxEvents, info.config.filters], [epoch, 1, 3, 100, ['db.>']]);
  assert.equal(store.seekTime('s', 102), 2);
  assert.deepEqual(Object.fromEntries(store.lastPerTopic('s')!), { 'db.é.1': 1, 'db.é.2': 2, 'db.é.3': 3 });
  await store.readable('s', 0, 10);
  const r = store.read('s', 0, 10, epoch);
  assert.ok(r.ok);
  assert.deepEqual(
    r.entries.map((e) => [e.offset, e.time, e.topic, text(e.bytes)]),
    [
      [1, 101, 'db.é.1', 'kept1'],
      [2, 102, 'db.é.2', 'kept2'],
      [3, 103, 'db.é.3', 'kept3'],
    ],
  );
  assert.equal(store.append('s', bytes('next'), { time: 200, topic: 'db.x' }), 4);
  await store.flushed();
});

test('JetStreamStreamStore mints a new epoch when the JetStream stream is deleted and recreated behind it', async (t) => {
  const id = storeId();
  let store = await JetStreamStreamStore.open({ servers: nats.url, storeId: id });
  const { epoch } = await store.create({ name: 's' });
  store.append('s', bytes('x'), { time: 1, topic: 't' });
  await store.flushed();
  await store.close();

  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  const jsm = await nc.jetstreamManager();
  const old = await jsm.streams.info(`MG_${id}_s`);
  await jsm.streams.delete(`MG_${id}_s`);
  await jsm.streams.add({ ...old.config });

  store = await JetStreamStreamStore.open({ servers: nats.url, storeId: id });
  t.after(() => store.close());
  const info = store.info('s')!;
  assert.notEqual(info.epoch, epoch);
  assert.deepEqual([info.first, info.last], [1, 0]);
  const stale = store.read('s', 1, 10, epoch);
  assert.ok(!stale.ok);
  assert.deepEqual([stale.reason, stale.code], ['epoch', 'MG_ERR_STREAM_EPOCH']);
});

test('JetStreamStreamStore pages entries older than its cache in through readable()', async (t) => {
  const store = await JetStreamStreamStore.open({ servers: nats.url, storeId: storeId(), cacheEntries: 4 });
  t.after(() => store.close());
  await store.create({ name: 's' });
  for (let i = 1; i <= 10; i++) store.append('s', bytes(String(i)), { time: i, topic: 't' });
  await store.flushed();
  const miss = store.read('s', 0, 3);
  assert.ok(miss.ok);
  assert.deepEqual([miss.entries.length, miss.last], [0, 10]); // 1..6 were evicted
  const seen: number[] = [];
  let pos = 0;
  while (pos < 10) {
    await store.readable('s', pos, 3);
    const r = store.read('s', pos, 3);
    assert.ok(r.ok);
    assert.ok(r.entries.length > 0, `no entries after ${pos} once readable()`);
    seen.push(...r.entries.map((e) => Number(text(e.bytes))));
    pos = r.entries.at(-1)!.offset;
  }
  assert.deepEqual(
    seen,
    Array.from({ length: 10 }, (_, i) => i + 1),
  );
});

test('JetStreamStreamStore fails loudly with MG_ERR_STREAM_IO when another client writes its stream (one writer per stream)', async (t) => {
  const id = storeId();
  const store = await JetStreamStreamStore.open({ servers: nats.url, storeId: id });
  t.after(() => store.close());
  await store.create({ name: 's' });
  store.append('s', bytes('mine'), { time: 1, topic: 't' });
  await store.flushed();
  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  await nc.jetstream().publish(`mg.${id}.s`, bytes('theirs'));
  assert.equal(store.append('s', bytes('mine too'), { time: 2, topic: 't' }), 2); // predicted, refused by the server
  await assert.rejects(store.flushed(), (e: unknown) => isCode('MG_ERR_STREAM_IO')(e) && /one meshgate node may write/.test((e as Error).message));
  assert.throws(() => store.append('s', bytes('x'), { time: 3, topic: 't' }), isCode('MG_ERR_STREAM_IO'));
  assert.equal(store.info('s')!.last, 1); // the refused offset was never visible
});

test('JetStreamStreamStore reports a JetStream out of space as MG_ERR_STREAM_FULL from flushed(), hands the refused offsets out again, and shows only stored ones', async (t) => {
  const small = await startNatsServer({ jetstream: true, config: ['jetstream {', '  max_file_store: 20000', '}'] });
  t.after(() => small.stop());
  const store = await JetStreamStreamStore.open({ servers: small.url, storeId: 'full' });
  t.after(() => store.close());
  await store.create({ name: 's' });
  for (let i = 0; i < 40; i++) store.append('s', new Uint8Array(1000), { time: i, topic: 't' });
  await assert.rejects(store.flushed(), (e: unknown) => isCode('MG_ERR_STREAM_FULL')(e) && /insufficient resources/.test((e as Error).message));
  const { last } = store.info('s')!;
  assert.ok(last > 0 && last < 40, `last ${last}`);
  const r = store.read('s', 0, 40);
  assert.ok(r.ok);
  assert.equal(r.entries.length, last);
  assert.equal(store.append('s', new Uint8Array(1000), { time: 50, topic: 't' }), last + 1);
  await assert.rejects(store.flushed(), isCode('MG_ERR_STREAM_FULL'));
  assert.equal(store.info('s')!.last, last);
  // A full JetStream still opens: the index scan needs no stored resources.
  await store.close();
  const again = await JetStreamStreamStore.open({ servers: small.url, storeId: 'full' });
  t.after(() => again.close());
  assert.equal(again.info('s')!.last, last);
  await again.readable('s', 0, 40);
  const back = again.read('s', 0, 40);
  assert.ok(back.ok);
  assert.equal(back.entries.length, last);
});

test('JetStreamStreamStore refuses a storeId that could reach other stores', async () => {
  await assert.rejects(
    JetStreamStreamStore.open({ servers: nats.url, storeId: 'a.>' }),
    (e: unknown) => isCode('MG_ERR_STREAM_INVALID')(e) && /storeId/.test((e as Error).message),
  );
});
