import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MeshError } from '../../../broker/base/mod.js';
import { LmdbStreamStore, LOCK_FILE } from '../../../broker/streams/mod.js';
import { testTmpDir } from '../../helpers/tmp.js';
import { streamStoreContract } from './contract.js';
import { payload } from './fixtures/store-child.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'store-child.js');
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const isCode = (code: string) => (e: unknown) => e instanceof MeshError && e.code === code;

streamStoreContract("LmdbStreamStore 'group'", (t) => LmdbStreamStore.open({ dir: testTmpDir(t, 'streams') }));
streamStoreContract("LmdbStreamStore 'sync'", (t) => LmdbStreamStore.open({ dir: testTmpDir(t, 'streams'), durability: 'sync' }));

/** Starts the fixture child; stopped when the test ends. */
function startChild(t: import('node:test').TestContext, dir: string, mode: 'append' | 'hold') {
  const proc = spawn(process.execPath, [child, dir, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(proc, 'exit');
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  });
  return { proc, exited, lines: readline.createInterface({ input: proc.stdout! }) };
}

test('LmdbStreamStore keeps entries and epoch across close and reopen, and mints a new epoch once the directory is wiped', async (t) => {
  const dir = testTmpDir(t, 'streams');
  let store = LmdbStreamStore.open({ dir });
  const { epoch } = await store.create({ name: 's', maxEvents: 100 });
  store.append('s', new TextEncoder().encode('kept'), { time: 5, topic: 'a' });
  await store.close();

  store = LmdbStreamStore.open({ dir });
  const info = store.info('s')!;
  assert.deepEqual([info.epoch, info.last, info.config.maxEvents], [epoch, 1, 100]);
  const r = store.read('s', 0, 10, epoch);
  assert.ok(r.ok);
  assert.equal(text(r.entries[0]!.bytes), 'kept');
  assert.equal(store.append('s', new Uint8Array(1), { time: 6, topic: 'a' }), 2);
  await store.close();

  fs.rmSync(dir, { recursive: true, force: true });
  store = LmdbStreamStore.open({ dir });
  t.after(() => store.close());
  assert.equal(store.info('s'), undefined);
  const fresh = await store.create({ name: 's', maxEvents: 100 });
  assert.notEqual(fresh.epoch, epoch);
  const stale = store.read('s', 1, 10, epoch);
  assert.ok(!stale.ok);
  assert.deepEqual([stale.reason, stale.code], ['epoch', 'MG_ERR_STREAM_EPOCH']);
});

test('LmdbStreamStore: every offset acknowledged after flushed() survives kill -9 with its bytes', async (t) => {
  const dir = testTmpDir(t, 'streams');
  const { proc, exited, lines } = startChild(t, dir, 'append');
  const acked: number[] = [];
  for await (const line of lines) {
    acked.push(Number(line.slice(4)));
    if (acked.length >= 400) break;
  }
  proc.kill('SIGKILL'); // mid-loop: more appends are queued or committing
  await exited;

  const store = LmdbStreamStore.open({ dir }); // the lock's pid is dead: taken over
  t.after(() => store.close());
  const info = store.info('s')!;
  assert.ok(info.last >= acked.at(-1)!, `last ${info.last} < acked ${acked.at(-1)}`);
  const r = store.read('s', 0, info.last);
  assert.ok(r.ok);
  const byOffset = new Map(r.entries.map((e) => [e.offset, text(e.bytes)]));
  for (const o of acked) assert.equal(byOffset.get(o), payload(o), `offset ${o}`);
  // Nothing stored beyond what was committed whole: offsets are contiguous.
  assert.deepEqual(
    r.entries.map((e) => e.offset),
    Array.from({ length: info.last }, (_, i) => i + 1),
  );
});

test('LmdbStreamStore refuses a directory another live process holds with MG_ERR_STREAM_LOCKED naming it and the fix', async (t) => {
  const dir = testTmpDir(t, 'streams');
  const { lines, proc } = startChild(t, dir, 'hold');
  for await (const line of lines) if (line === 'ready') break;
  assert.throws(
    () => LmdbStreamStore.open({ dir }),
    (e: unknown) =>
      isCode('MG_ERR_STREAM_LOCKED')(e) &&
      (e as Error).message.includes(dir) &&
      (e as Error).message.includes(String(proc.pid)) &&
      /another streams directory/.test((e as Error).message),
  );
});

test('LmdbStreamStore refuses a second store on the same directory in one process, and frees it on close()', async (t) => {
  const dir = testTmpDir(t, 'streams');
  const a = LmdbStreamStore.open({ dir });
  assert.throws(() => LmdbStreamStore.open({ dir }), isCode('MG_ERR_STREAM_LOCKED'));
  await a.close();
  assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false);
  const b = LmdbStreamStore.open({ dir });
  await b.close();
});

test('LmdbStreamStore refuses a data directory full of garbage with MG_ERR_STREAM_CORRUPT naming it, and releases the lock', async (t) => {
  const dir = testTmpDir(t, 'streams');
  const store = LmdbStreamStore.open({ dir });
  await store.create({ name: 's' });
  await store.close();
  const data = path.join(dir, 'data.mdb');
  const size = fs.statSync(data).size;
  fs.writeFileSync(data, Buffer.alloc(size, 0x5a));
  assert.throws(
    () => LmdbStreamStore.open({ dir }),
    (e: unknown) => isCode('MG_ERR_STREAM_CORRUPT')(e) && (e as Error).message.includes(dir),
  );
  assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false);
});

test('LmdbStreamStore refuses appends past maxStoreBytes with MG_ERR_STREAM_FULL and reports nothing unstored as flushed', async (t) => {
  const dir = testTmpDir(t, 'streams');
  let store = LmdbStreamStore.open({ dir, maxStoreBytes: 1000 });
  await store.create({ name: 's' });
  const accepted: number[] = [];
  let refused: unknown;
  for (let i = 0; i < 20 && !refused; i++) {
    try {
      accepted.push(store.append('s', new Uint8Array(89), { time: i, topic: 't' })); // 100 bytes each
    } catch (err) {
      refused = err;
    }
  }
  assert.ok(isCode('MG_ERR_STREAM_FULL')(refused), String(refused));
  assert.deepEqual(
    accepted,
    Array.from({ length: 10 }, (_, i) => i + 1),
  );
  await store.flushed();
  await store.close();
  store = LmdbStreamStore.open({ dir, maxStoreBytes: 1000 });
  t.after(() => store.close());
  assert.deepEqual([store.info('s')!.last, store.info('s')!.bytes], [10, 1000]);
  assert.throws(() => store.append('s', new Uint8Array(89), { time: 1, topic: 't' }), isCode('MG_ERR_STREAM_FULL'));
});
