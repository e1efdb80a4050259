import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeStoredEvent, storedPeerEntry } from '../../../broker/streams/mod.js';
import { ce, openClient, startTestNode } from '../../helpers/node.js';
import { testTmpDir } from '../../helpers/tmp.js';

test('an event published into a stream is acked after its commit and reads back as the same event, once per matching stream, in order', async (t) => {
  const dir = testTmpDir(t, 'sm');
  const node = await startTestNode(t, {
    storage: { dir },
    streams: [
      { name: 'all', filters: ['orders.>'] },
      { name: 'eu', filters: ['orders.eu.*', 'orders.eu.>'] },
    ],
  });
  const committed: number[] = [];
  node.streams.onAppended('eu', (last) => committed.push(last));
  const client = await openClient(t, node.wsUrl);
  const acks = [];
  for (let i = 0; i < 5; i++) acks.push(client.request({ op: 'pub', topic: i % 2 ? 'orders.eu.x' : 'orders.us.x', event: ce(`e${i}`) }));
  for (const ack of await Promise.all(acks)) assert.equal(ack.op, 'ok');
  // An ok means committed: readable now, without waiting.
  const all = node.streams.read('all', 0, 100);
  assert.ok(all.ok);
  assert.deepEqual(
    all.entries.map((e) => decodeStoredEvent(e.bytes)?.id),
    ['e0', 'e1', 'e2', 'e3', 'e4'],
  );
  const eu = node.streams.read('eu', 0, 100);
  assert.ok(eu.ok);
  assert.deepEqual(
    eu.entries.map((e) => e.topic),
    ['orders.eu.x', 'orders.eu.x'],
  ); // two filters match: still once
  const ev = decodeStoredEvent(eu.entries[0]!.bytes)!;
  assert.equal(ev.origin?.node, 'test-node');
  assert.equal(ev.hops.at(-1)?.node, 'test-node');
  assert.equal(eu.entries[0]!.bytes[0], 0x01, 'format version byte first');
  assert.ok(storedPeerEntry(eu.entries[0]!.bytes));
  assert.equal(committed.at(-1), 2);
  const metrics = node.node.metrics.render();
  assert.match(metrics, /meshgate_stream_appends_total\{stream="all"\} 5/);
  assert.match(metrics, /meshgate_stream_events\{stream="eu"\} 2/);
});

test('a full store refuses the publish with MG_ERR_STREAM_FULL, acks nothing it did not store, and a retry is not taken for a duplicate', async (t) => {
  const node = await startTestNode(t, { storage: { dir: testTmpDir(t, 'sm'), maxBytes: 700 }, streams: [{ name: 's', filters: ['f.>'] }] });
  const client = await openClient(t, node.wsUrl);
  const data = 'x'.repeat(100);
  const answers = [];
  for (let i = 0; i < 10; i++) answers.push(await client.request({ op: 'pub', topic: 'f.a', event: ce(`e${i}`, { data }) }));
  const oks = answers.filter((a) => a.op === 'ok').length;
  assert.ok(oks > 0 && oks < 10, `some fit, some not: ${oks}`);
  for (const a of answers.slice(oks)) assert.equal(a.code, 'MG_ERR_STREAM_FULL');
  const r = node.streams.read('s', 0, 100);
  assert.ok(r.ok);
  assert.equal(r.entries.length, oks);
  // The retry of a refused event is refused again, not acked as a duplicate.
  const retry = await client.request({ op: 'pub', topic: 'f.a', event: ce(`e${oks}`, { data }) });
  assert.equal(retry.code, 'MG_ERR_STREAM_FULL');
  assert.match(node.node.metrics.render(), /meshgate_stream_append_refused_total\{code="MG_ERR_STREAM_FULL"\} \d+/);
  // An event no stream takes is not affected by the full store.
  assert.equal((await client.request({ op: 'pub', topic: 'other', event: ce('o') })).op, 'ok');
});

test('a pubs batch into a stream is acked once its items are committed', async (t) => {
  const node = await startTestNode(t, { storage: { engine: 'memory' }, streams: [{ name: 's', filters: ['b.>'] }] });
  const client = await openClient(t, node.wsUrl);
  const ok = await client.request({ op: 'pubs', items: [0, 1, 2].map((i) => ({ topic: 'b.x', event: ce(`p${i}`) })) });
  assert.equal(ok.accepted, 3);
  assert.equal(node.streams.info('s')?.events, 3);
});

test('a node with no streams configured opens no store and writes nothing to its data directory', async (t) => {
  const dir = `${testTmpDir(t, 'sm')}/not-yet`;
  const node = await startTestNode(t, { storage: { dir } });
  assert.equal(node.streams.opened, false);
  const { existsSync } = await import('node:fs');
  assert.equal(existsSync(dir), false);
  await node.streams.create({ name: 'late', filters: ['l.>'] });
  assert.equal(existsSync(`${dir}/data.mdb`), true);
});
