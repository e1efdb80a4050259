import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { connect } from 'nats';
import { JetStreamStreamStore, LmdbStreamStore, MemoryStreamStore } from '../../../broker/streams/mod.js';
import { type NatsServerHandle, startNatsServer } from '../../helpers/brokers.js';
import { testTmpDir } from '../../helpers/tmp.js';
import { consumerPositionContract } from './consumer-position-contract.js';

let nats: NatsServerHandle;
before(async () => {
  nats = await startNatsServer({ jetstream: true });
});
after(() => nats?.stop());
let stores = 0;
const storeId = () => `cp${process.pid}-${++stores}`;

consumerPositionContract('memory', { persistent: false, open: async () => ({ store: new MemoryStreamStore() }) });

consumerPositionContract('lmdb', {
  persistent: true,
  open: async (t) => {
    const dir = testTmpDir(t, 'positions');
    return { store: LmdbStreamStore.open({ dir }), reopen: async () => LmdbStreamStore.open({ dir }) };
  },
});

consumerPositionContract('jetstream', {
  persistent: true,
  open: async () => {
    const id = storeId();
    return {
      store: await JetStreamStreamStore.open({ servers: nats.url, storeId: id }),
      reopen: () => JetStreamStreamStore.open({ servers: nats.url, storeId: id }),
    };
  },
});

test('lmdb keeps positions in the streams environment itself: no other file appears in its directory', async (t) => {
  const dir = testTmpDir(t, 'positions');
  const store = LmdbStreamStore.open({ dir });
  await store.create({ name: 's' });
  const before = fs.readdirSync(dir).sort();
  await store.consumerPositions().save({
    stream: 's',
    name: 'c',
    epoch: store.info('s')!.epoch,
    config: { filter: null, ackWaitMs: 1, maxInFlight: 1 },
    floor: 0,
    acked: [],
    delivered: 0,
    created: 0,
  });
  assert.deepEqual(fs.readdirSync(dir).sort(), before);
  await store.close();
  const again = LmdbStreamStore.open({ dir });
  t.after(() => again.close());
  assert.deepEqual(
    (await again.consumerPositions().load()).map((p) => p.name),
    ['c'],
  );
});

test('jetstream keeps positions in the KV bucket MG_<storeId>_consumers, beside the streams, not as a meshgate stream', async (t) => {
  const id = storeId();
  const store = await JetStreamStreamStore.open({ servers: nats.url, storeId: id });
  t.after(() => store.close());
  await store.consumerPositions().save({
    stream: 's',
    name: 'c',
    epoch: 'x',
    config: { filter: null, ackWaitMs: 1, maxInFlight: 1 },
    floor: 4,
    acked: [],
    delivered: 4,
    created: 0,
  });
  const nc = await connect({ servers: nats.url });
  t.after(() => nc.close());
  const kv = await nc.jetstream().views.kv(`MG_${id}_consumers`, { bindOnly: true });
  const e = await kv.get('s.c');
  assert.equal(e?.json<{ floor: number }>().floor, 4);
  assert.deepEqual(store.list(), [], 'the bucket is not listed as a stream');
});
