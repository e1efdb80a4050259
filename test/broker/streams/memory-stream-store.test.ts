import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MeshError } from '../../../broker/base/mod.js';
import { MemoryStreamStore } from '../../../broker/streams/mod.js';
import { streamStoreContract } from './contract.js';

streamStoreContract('MemoryStreamStore', () => new MemoryStreamStore());

test('MemoryStreamStore mints a new epoch for each new store', async () => {
  const a = await new MemoryStreamStore().create({ name: 's' });
  const b = await new MemoryStreamStore().create({ name: 's' });
  assert.notEqual(a.epoch, b.epoch);
});

test('MemoryStreamStore refuses appends past maxStoreBytes with MG_ERR_STREAM_FULL', async () => {
  const store = new MemoryStreamStore({ maxStoreBytes: 250 });
  await store.create({ name: 's' });
  store.append('s', new Uint8Array(89), { time: 1, topic: 't' });
  store.append('s', new Uint8Array(89), { time: 1, topic: 't' });
  assert.throws(
    () => store.append('s', new Uint8Array(89), { time: 1, topic: 't' }),
    (e: unknown) => e instanceof MeshError && e.code === 'MG_ERR_STREAM_FULL',
  );
  assert.equal(store.info('s')!.last, 2);
});
