import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import type { MeshError } from '../../../broker/base/mod.js';
import { resolveConfig } from '../../../broker/config/mod.js';
import { ce, type FrameClient, openClient, startTestNode } from '../../helpers/node.js';

const NODE_LIMIT = 1024 * 1024;
const SLOW = 4;

function tcp(client: FrameClient): Socket {
  return (client.socket as unknown as { _socket: Socket })._socket;
}

test('past limits.maxNodeBufferedBytes the subscribers holding most are closed with 1008, the node-wide sum stays bounded, a fast subscriber keeps receiving', async (t) => {
  // Per socket, each slow one could hold 64 MiB: only the node-wide limit can stop them.
  const node = await startTestNode(t, { limits: { maxBufferedBytes: 64 * 1024 * 1024, maxNodeBufferedBytes: NODE_LIMIT } });
  const metrics = () => node.node.metrics.snapshot();
  const slow: FrameClient[] = [];
  for (let i = 0; i < SLOW; i++) {
    const c = await openClient(t, node.wsUrl);
    assert.equal((await c.request({ op: 'sub', filter: 'load.>' })).op, 'ok');
    tcp(c).pause();
    slow.push(c);
  }
  const fast = await openClient(t, node.wsUrl);
  assert.equal((await fast.request({ op: 'sub', filter: 'load.>' })).op, 'ok');
  // Sampled at every delivery to the fast one: between two of the node's flushes.
  let peak = 0;
  let received = 0;
  let caughtUp: { count: number; resolve: () => void } | null = null;
  fast.onEvent = () => {
    received++;
    peak = Math.max(peak, metrics().meshgate_buffered_bytes as number);
    if (caughtUp !== null && received >= caughtUp.count) caughtUp.resolve();
  };
  const receivedAll = (count: number) => (received >= count ? Promise.resolve() : new Promise<void>((resolve) => (caughtUp = { count, resolve })));
  const pub = await openClient(t, node.wsUrl);
  const payload = 'p'.repeat(4096);
  // Loopback buffers absorb several MB per paused socket before uWS holds
  // anything: publish in rounds until two slow ones are shed (bounded).
  let sent = 0;
  const closedByNode = () => (metrics().meshgate_slow_consumer_closes_total as Record<string, number>)['limit=node'] ?? 0;
  for (let round = 0; round < 16 && closedByNode() < 2; round++) {
    for (let i = 0; i < 1000; i++) pub.send({ op: 'pub', topic: 'load.x', event: ce(`e${sent++}`, { datacontenttype: 'text/plain', data: payload }) });
    await pub.request({ op: 'ping' });
    await receivedAll(sent);
  }
  const shed = closedByNode();
  assert.ok(shed >= 2, `${shed} subscribers closed by the node limit after ${sent} events`);
  assert.ok(peak > 0, 'something was buffered');
  assert.ok(peak <= NODE_LIMIT, `node-wide buffered peaked at ${peak} bytes, over ${NODE_LIMIT}`);
  assert.ok((metrics().meshgate_buffered_bytes as number) <= NODE_LIMIT);
  assert.equal(received, sent, 'the fast subscriber got every event');
  assert.equal((metrics().meshgate_slow_consumer_closes_total as Record<string, number>)['limit=socket'], 0);
  // Read again: each shed one finds 1008 and the reason after what it was sent.
  const outcomes = await Promise.all(
    slow.map((c) => {
      tcp(c).resume();
      return Promise.race([c.closed, c.waitFor((f) => f.op === 'event' && (f.event as Record<string, unknown>).id === `e${sent - 1}`).then(() => null)]);
    }),
  );
  const closes = outcomes.filter((o) => o !== null);
  assert.equal(closes.length, shed);
  for (const c of closes) assert.deepEqual(c, { code: 1008, reason: 'MG_ERR_SLOW_CONSUMER: limits.maxNodeBufferedBytes' });
});

test('a wrong limits.maxNodeBufferedBytes stops start-up naming the key and the fix', () => {
  assert.throws(
    () => resolveConfig({ limits: { maxNodeBufferedBytes: 10 } }),
    (err: MeshError) =>
      err.code === 'MG_ERR_CONFIG_INVALID' &&
      /limits\.maxNodeBufferedBytes: must be >= 1024, got 10; fix: bytes buffered for all WebSocket subscribers together/.test(err.message),
  );
});
