import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, NodeProcess } from '../../helpers/mesh.js';
import { ce, runCli } from '../../helpers/node.js';
import { openJsonSocket, publishUntilAcked, storedIds } from '../../helpers/stream-io.js';
import { testTmpDir } from '../../helpers/tmp.js';

test('kill -9 during a publish loop: after restart every acked event is in the stream', async (t) => {
  const dir = testTmpDir(t, 'crash');
  const spec = { id: 'keeper', port: await freePort(), config: { storage: { dir }, streams: [{ name: 'orders', filters: ['orders.>'] }] } };
  const node = new NodeProcess(t, spec);
  await node.start();
  const ackedAtKill = await publishUntilAcked(await openJsonSocket(t, node.wsUrl), 300);
  await node.kill9();
  assert.ok(ackedAtKill.size >= 300);

  const again = new NodeProcess(t, spec);
  await again.start();
  const { ids: stored } = await storedIds(again, 'orders');
  const lost = [...ackedAtKill].filter((id) => !stored.has(id));
  assert.deepEqual(lost, [], `acked but not stored (${ackedAtKill.size} acked, ${stored.size} stored)`);
  await again.stop();
});

test('after a kill -9 and restart the dedup window holds what the streams hold: a replay of stored events is a duplicate, not a second entry', async (t) => {
  const dir = testTmpDir(t, 'seed');
  const spec = { id: 'keeper', port: await freePort(), config: { storage: { dir }, streams: [{ name: 'orders', filters: ['orders.>'] }] } };
  const node = new NodeProcess(t, spec);
  await node.start();
  const acked = await publishUntilAcked(await openJsonSocket(t, node.wsUrl), 100);
  await node.kill9();

  const again = new NodeProcess(t, spec);
  await again.start();
  // The same events again, as a producer retry or a peer's replay brings them: each answered duplicate.
  const ws = await openJsonSocket(t, again.wsUrl);
  const answers = new Map<string, boolean>();
  const ids = [...acked].slice(0, 50);
  await new Promise<void>((resolve) => {
    ws.on('message', (raw: Buffer) => {
      const f = JSON.parse(raw.toString()) as { op: string; ref?: string; duplicate?: boolean };
      if (f.op === 'ok' && f.ref !== undefined) answers.set(f.ref, f.duplicate === true);
      if (answers.size === ids.length) resolve();
    });
    for (const id of ids) ws.send(JSON.stringify({ op: 'pub', ref: id, topic: 'orders.x', event: ce(id) }));
  });
  assert.deepEqual(
    ids.filter((id) => !answers.get(id)),
    [],
    'every event the stream held was known to the restarted node',
  );
  const { offsets, ids: stored } = await storedIds(again, 'orders');
  assert.equal(offsets.length, stored.size, 'no id stored twice');
  await again.stop();
});

test('a second node on the same data directory exits 1 with MG_ERR_STREAM_LOCKED and the fix', async (t) => {
  const dir = testTmpDir(t, 'lock');
  const config = { storage: { dir }, streams: [{ name: 's', filters: ['a.>'] }] };
  const first = new NodeProcess(t, { id: 'one', port: await freePort(), config });
  await first.start();
  const second = runCli(t, ['start', '--port', String(await freePort()), '--node-id', 'two', '--data-dir', dir]);
  assert.equal(await second.exited, 1);
  assert.match(second.stderr, /^MG_ERR_STREAM_LOCKED: storage\.dir: .* in use by process \d+.*--data-dir/m);
  await first.stop();
});

test('a corrupt data directory stops start-up with MG_ERR_STREAM_CORRUPT and the fix', async (t) => {
  const dir = testTmpDir(t, 'corrupt');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${dir}/data.mdb`, 'not an lmdb file at all, just text that is long enough');
  const cli = runCli(t, ['start', '--port', String(await freePort()), '--node-id', 'c', '--data-dir', dir]);
  assert.equal(await cli.exited, 1);
  assert.match(cli.stderr, /^MG_ERR_STREAM_CORRUPT: storage\.dir: .*move it aside.*delete it/m);
});

test('streams created over HTTP persist across a restart; the CLI adds, lists, shows and removes them', async (t) => {
  const dir = testTmpDir(t, 'cli');
  const spec = { id: 'ops', port: await freePort(), config: { storage: { dir } } };
  const node = new NodeProcess(t, spec);
  await node.start();
  const url = ['--url', node.httpUrl];
  const add = runCli(t, ['stream', 'add', 'orders', '--filter', 'orders.>', '--filter', 'refunds.>', '--max-age', '24h', '--max-events', '1000', ...url]);
  assert.equal(await add.exited, 0, add.stderr);
  assert.match(add.stdout, /^created stream orders \(epoch [0-9a-f]{16}\)/);
  const bad = runCli(t, ['stream', 'add', 'x', '--filter', 'a..b', ...url]);
  assert.equal(await bad.exited, 1);
  assert.match(bad.stderr, /^MG_ERR_STREAM_INVALID: stream\.filters\[0\]/);
  const before = await node.json<{ epoch: string }>('/v1/streams/orders');
  await node.stop();

  const again = new NodeProcess(t, spec);
  await again.start();
  const info = runCli(t, ['stream', 'info', 'orders', '--json', ...url]);
  assert.equal(await info.exited, 0, info.stderr);
  const shown = JSON.parse(info.stdout) as Record<string, unknown>;
  assert.equal(shown.epoch, before.epoch, 'same stream, same epoch after restart');
  assert.deepEqual(shown.config, { filters: ['orders.>', 'refunds.>'], maxAge: 86_400_000, maxBytes: 0, maxEvents: 1000 });
  for (const key of ['first', 'last', 'events', 'bytes']) assert.equal(typeof shown[key], 'number');
  const ls = runCli(t, ['stream', 'ls', ...url]);
  assert.equal(await ls.exited, 0);
  assert.match(ls.stdout, /^1 stream\(s\)\nname +events +first +last +bytes +filters\norders +0 +1 +0 +0 +orders\.>,refunds\.>\n$/);
  const rm = runCli(t, ['stream', 'rm', 'orders', ...url]);
  assert.equal(await rm.exited, 0);
  const gone = runCli(t, ['stream', 'info', 'orders', ...url]);
  assert.equal(await gone.exited, 1);
  assert.match(gone.stderr, /^MG_ERR_STREAM_UNKNOWN: /);
  const res = await fetch(`${again.httpUrl}/v1/streams/orders`);
  assert.equal(res.status, 404);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  await again.stop();
});
