import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ce, openClient, runCli, startTestNode } from '../../helpers/node.js';
import { testTmpDir } from '../../helpers/tmp.js';

test('meshgate stream info shows a stream with its durable consumers (ack floor, in flight, lag); stream rm --consumer removes one', async (t) => {
  const node = await startTestNode(t, { storage: { dir: testTmpDir(t, 'cli-consumers') }, streams: [{ name: 'orders', filters: ['orders.>'] }] });
  const client = await openClient(t, node.wsUrl);
  for (let i = 0; i < 3; i++) assert.equal((await client.request({ op: 'pub', topic: 'orders.x', event: ce(`e${i}`) })).op, 'ok');
  assert.equal((await client.request({ op: 'consume', stream: 'orders', consumer: 'billing', start: 'first', maxInFlight: 2 })).op, 'ok');
  await client.waitFor((f) => f.op === 'event' && f.offset === 2);
  assert.equal((await client.request({ op: 'ack', stream: 'orders', consumer: 'billing', offsets: [1] })).ackFloor, 1);
  const url = ['--url', node.httpUrl];

  const info = runCli(t, ['stream', 'info', 'orders', ...url]);
  assert.equal(await info.exited, 0, info.stderr);
  // The stream's own fields stay as they were; the consumers follow.
  assert.match(info.stdout, /^stream orders\n {2}first +1\n {2}last +3\n {2}events +3\n {2}bytes +\d+\n {2}epoch +[0-9a-f]{16}\n/);
  assert.match(info.stdout, /\n {2}consumers 1\n {4}name +filter +ack floor +in flight +lag +bound\n {4}billing +\(all\) +1 +2 +2 +1\n$/);

  const json = runCli(t, ['stream', 'info', 'orders', '--json', ...url]);
  assert.equal(await json.exited, 0);
  const shown = JSON.parse(json.stdout) as { first: number; last: number; consumers: Array<Record<string, unknown>> };
  assert.deepEqual([shown.first, shown.last], [1, 3]);
  assert.deepEqual(
    shown.consumers.map((c) => [c.name, c.ackFloor, c.inFlight, c.lag, c.active]),
    [['billing', 1, 2, 2, true]],
  );

  const rm = runCli(t, ['stream', 'rm', 'orders', '--consumer', 'billing', ...url]);
  assert.equal(await rm.exited, 0, rm.stderr);
  assert.equal(rm.stdout, 'removed consumer billing of stream orders\n');
  const after = runCli(t, ['stream', 'info', 'orders', ...url]);
  assert.equal(await after.exited, 0);
  assert.match(after.stdout, /\n {2}consumers none\n$/);
  const again = runCli(t, ['stream', 'rm', 'orders', '--consumer', 'billing', ...url]);
  assert.equal(await again.exited, 1);
  assert.match(again.stderr, /^MG_ERR_CONSUMER_UNKNOWN: /);
  // The stream itself is untouched.
  assert.equal((await (await fetch(`${node.httpUrl}/v1/streams/orders`)).json()).last, 3);
});
