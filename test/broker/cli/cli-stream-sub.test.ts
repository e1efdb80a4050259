import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ce, openClient, runCli, startTestNode } from '../../helpers/node.js';
import { testTmpDir } from '../../helpers/tmp.js';

test('meshgate sub --stream NAME --from first --count N prints the first N stored events, each line with its offset', async (t) => {
  const node = await startTestNode(t, { storage: { dir: testTmpDir(t, 'clistream') }, streams: [{ name: 'orders', filters: ['orders.>'] }] });
  const pub = await openClient(t, node.wsUrl);
  const items = Array.from({ length: 5 }, (_, i) => ({ topic: 'orders.x', event: ce(`o${i + 1}`, { data: i + 1 }) }));
  assert.equal((await pub.request({ op: 'pubs', items })).op, 'ok');
  const sub = runCli(t, ['sub', 'orders.>', '--url', node.wsUrl, '--stream', 'orders', '--from', 'first', '--count', '3']);
  assert.equal(await sub.exited, 0, sub.stderr);
  const lines = sub.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { topic: string; offset: number; event: Record<string, unknown> });
  assert.deepEqual(
    lines.map((l) => [l.topic, l.offset, l.event.id, l.event.data]),
    [
      ['orders.x', 1, 'o1', 1],
      ['orders.x', 2, 'o2', 2],
      ['orders.x', 3, 'o3', 3],
    ],
  );
  const from = runCli(t, ['sub', 'orders.>', '--url', node.wsUrl, '--stream', 'orders', '--from', '4', '--count', '2']);
  assert.equal(await from.exited, 0, from.stderr);
  assert.deepEqual(
    from.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { offset: number }).offset),
    [4, 5],
  );
});

test('meshgate sub --stream with a pruned or unknown position prints the code and exits 1', async (t) => {
  const node = await startTestNode(t, { storage: { dir: testTmpDir(t, 'clistream') }, streams: [{ name: 'orders', filters: ['orders.>'] }] });
  const cli = runCli(t, ['sub', 'orders.>', '--url', node.wsUrl, '--stream', 'orders', '--from', '9']);
  assert.equal(await cli.exited, 1);
  assert.match(cli.stderr, /MG_ERR_STREAM_BEYOND_END/);
  const usage = runCli(t, ['sub', 'orders.>', '--from', 'first']);
  assert.notEqual(await usage.exited, 0);
  assert.match(usage.stderr, /--from needs --stream/);
});
