import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startNatsServer } from '../../helpers/brokers.js';
import { freePort, NodeProcess } from '../../helpers/mesh.js';
import { runCli } from '../../helpers/node.js';
import { openJsonSocket, publishUntilAcked, storedIds } from '../../helpers/stream-io.js';
import { testTmpDir } from '../../helpers/tmp.js';

test('storage.engine jetstream: kill -9 of the node during a publish loop, every acked event is in the JetStream stream after restart, offsets unchanged', async (t) => {
  const nats = await startNatsServer({ jetstream: true });
  t.after(() => nats.stop());
  const config = {
    storage: { dir: testTmpDir(t, 'js'), engine: 'jetstream', jetstream: { servers: [nats.url] } },
    streams: [{ name: 'orders', filters: ['orders.>'] }],
  };
  const spec = { id: 'js-keeper', port: await freePort(), config };
  const node = new NodeProcess(t, spec);
  await node.start();
  const epoch = (await node.json<{ epoch: string }>('/v1/streams/orders')).epoch;
  const acked = await publishUntilAcked(await openJsonSocket(t, node.wsUrl), 300);
  await node.kill9();

  const again = new NodeProcess(t, spec);
  await again.start();
  const { ids, offsets } = await storedIds(again, 'orders');
  const lost = [...acked].filter((id) => !ids.has(id));
  assert.deepEqual(lost, [], `acked but not stored (${acked.size} acked, ${ids.size} stored)`);
  assert.deepEqual(
    offsets,
    offsets.map((_, i) => i + 1),
    'offsets 1..n, no gap',
  );
  assert.equal((await again.json<{ epoch: string }>('/v1/streams/orders')).epoch, epoch, 'same epoch: the history is JetStream’s, not the node’s');
  await again.stop();
});

test('storage.engine jetstream without storage.jetstream, or with a nats-server that is not there, stops start-up naming the key and the fix', async (t) => {
  const dir = testTmpDir(t, 'js-config');
  const configFile = (name: string, config: unknown) => {
    writeFileSync(join(dir, name), JSON.stringify(config));
    return join(dir, name);
  };
  const missing = runCli(t, [
    'start',
    '--port',
    String(await freePort()),
    '--node-id',
    'n',
    '--config',
    configFile('missing.json', { storage: { engine: 'jetstream' } }),
  ]);
  assert.equal(await missing.exited, 1);
  assert.match(missing.stderr, /^MG_ERR_CONFIG_INVALID: .*\n +storage\.jetstream: required when storage\.engine is 'jetstream'; fix: /m);
  const nowhere = { storage: { engine: 'jetstream', jetstream: { servers: [`nats://127.0.0.1:${await freePort()}`] } } };
  const unreachable = runCli(t, ['start', '--port', String(await freePort()), '--node-id', 'n', '--config', configFile('nowhere.json', nowhere)]);
  assert.equal(await unreachable.exited, 1);
  assert.match(unreachable.stderr, /^MG_ERR_STREAM_IO: storage\.jetstream\.servers: cannot open the JetStream engine .*fix: start nats-server with -js/m);
});

test('storage.engine jetstream: a stream subscriber from first reads past the node cache (cacheEntries 100): 3,000 events, in order, none twice', async (t) => {
  const nats = await startNatsServer({ jetstream: true });
  t.after(() => nats.stop());
  const config = {
    storage: { dir: testTmpDir(t, 'js-read'), engine: 'jetstream', jetstream: { servers: [nats.url], cacheEntries: 100 } },
    streams: [{ name: 'orders', filters: ['orders.>'] }],
  };
  const node = new NodeProcess(t, { id: 'js-reader', port: await freePort(), config });
  await node.start();
  const pub = await openJsonSocket(t, node.wsUrl);
  await publishUntilAcked(pub, 3000);
  const sub = await openJsonSocket(t, node.wsUrl);
  const offsets: number[] = [];
  const all = new Promise<void>((resolve) => {
    sub.on('message', (raw: Buffer) => {
      const f = JSON.parse(raw.toString()) as { op: string; events?: Array<{ offset?: number }> };
      if (f.op === 'events') for (const item of f.events!) if (item.offset !== undefined) offsets.push(item.offset);
      if (offsets.length >= 3000) resolve();
    });
  });
  sub.send(JSON.stringify({ op: 'sub', filter: 'orders.>', stream: 'orders', from: 'first' }));
  await all;
  // Up to 20 more than the 3,000 acked were in flight: they follow, in order too.
  assert.deepEqual(
    offsets.slice(0, 3000),
    Array.from({ length: 3000 }, (_, i) => i + 1),
  );
  assert.ok(offsets.every((o, i) => o === i + 1));
  await node.stop();
});
