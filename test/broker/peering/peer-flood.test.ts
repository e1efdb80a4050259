import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import type { MeshError } from '../../../broker/base/mod.js';
import { resolveConfig } from '../../../broker/config/mod.js';
import { awaitLinks, freePort, NodeProcess, TEST_MESH_KEY } from '../../helpers/mesh.js';
import { ce, openClient, startTestNode } from '../../helpers/node.js';
import { type SilentPeer, silentPeer } from '../../helpers/silent-peer.js';

const DEADLINE_MS = 3000;
const CAP = 50;
const FLOOD = 200;

test('200 peer sockets that never say hello: the cap refuses past it with 503, the rest close with 4408 at the deadline, clients and /healthz keep working, and a real peer links after', async (t) => {
  const a = new NodeProcess(t, { id: 'flooded', port: await freePort(), config: { mesh: { handshakeTimeoutMs: DEADLINE_MS, maxPendingHandshakes: CAP } } });
  await a.start();

  const started = performance.now();
  const answers: SilentPeer[] = await Promise.all(Array.from({ length: FLOOD }, () => silentPeer(t, a.peerUrl)));
  const held = answers.filter((x) => x.kind === 'open');
  const refused = answers.filter((x) => x.kind === 'refused');
  // All answers came before the first deadline, so exactly the cap got in.
  assert.ok(performance.now() - started < DEADLINE_MS, 'the flood was opened within one deadline');
  assert.equal(held.length, CAP);
  assert.equal(refused.length, FLOOD - CAP);
  for (const r of refused) {
    assert.equal(r.status, 503);
    assert.equal(r.retryAfter, '1');
    assert.match(r.body, /^MG_ERR_PEER_BUSY: this node has mesh\.maxPendingHandshakes \(50\) peer handshakes in progress/);
  }
  assert.equal(await a.metric('meshgate_peer_pending_handshakes'), CAP);
  assert.equal(await a.metric('meshgate_peer_refused_total{reason="pending_limit"}'), FLOOD - CAP);

  // While the peer endpoint is saturated, clients and operations are served.
  const health = await fetch(`${a.httpUrl}/healthz`);
  assert.equal(health.status, 200);
  const sub = await openClient(t, a.wsUrl);
  assert.equal((await sub.request({ op: 'sub', filter: 'flood.>' })).op, 'ok');
  const pub = await openClient(t, a.wsUrl);
  assert.equal((await pub.request({ op: 'pub', topic: 'flood.x', event: ce('during-flood') })).op, 'ok');
  assert.equal(((await sub.waitFor((f) => f.op === 'event')).event as Record<string, unknown>).id, 'during-flood');

  // A real peer dialling now (it is turned away while the cap is full, and redials).
  const b = new NodeProcess(t, { id: 'late', port: await freePort(), peers: [a.peerUrl] });
  await b.start();

  // Every held socket is closed by the node at its deadline.
  for (const h of held) {
    if (h.kind !== 'open') continue;
    const closed = await h.closed;
    assert.equal(closed.code, 4408);
    assert.match(closed.reason, /^MG_ERR_PEER_HANDSHAKE_TIMEOUT: no valid hello within mesh\.handshakeTimeoutMs \(3000 ms\)/);
    const after = closed.at - h.challengedAt;
    assert.ok(after >= DEADLINE_MS - 50, `closed ${Math.round(after)} ms after opening, before the deadline`);
    assert.ok(after < DEADLINE_MS + 5000, `closed ${Math.round(after)} ms after opening, long past the deadline`);
  }
  assert.equal(await a.metric('meshgate_peer_refused_total{reason="handshake_timeout"}'), CAP);

  // The flood is over: the real peer gets its link, and events cross it.
  await awaitLinks(
    new Map([
      ['flooded', a],
      ['late', b],
    ]),
    [['late', 'flooded']],
  );
  assert.equal(await a.metric('meshgate_peer_pending_handshakes'), 0);
  const remote = await openClient(t, b.wsUrl);
  assert.equal((await remote.request({ op: 'pub', topic: 'flood.y', event: ce('after-flood') })).op, 'ok');
  await sub.waitFor((f) => f.op === 'event' && (f.event as Record<string, unknown>).id === 'after-flood');
});

test('peer sockets count against limits.maxConnectionsPerIp with clients: past it both get 429, and a timed-out peer frees its slot', async (t) => {
  const node = await startTestNode(t, { limits: { maxConnectionsPerIp: 3 }, mesh: { key: TEST_MESH_KEY, handshakeTimeoutMs: 1000 } });
  const peerUrl = `ws://127.0.0.1:${node.port}`;
  const client = await openClient(t, node.wsUrl);
  const first = await silentPeer(t, peerUrl);
  const second = await silentPeer(t, peerUrl);
  assert.equal(first.kind, 'open');
  assert.equal(second.kind, 'open');
  // The address now holds 3: one client and two peer sockets.
  const third = await silentPeer(t, peerUrl);
  assert.equal(third.kind, 'refused');
  assert.equal(third.kind === 'refused' && third.status, 429);
  assert.match(third.kind === 'refused' ? third.body : '', /^MG_ERR_CONN_LIMIT: /);
  const refusedClient = new WebSocket(node.wsUrl, 'meshgate.v1.json');
  refusedClient.on('error', () => undefined);
  t.after(() => refusedClient.terminate());
  const status = await new Promise<number>((resolve) => {
    refusedClient.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    refusedClient.once('open', () => resolve(101));
  });
  assert.equal(status, 429);
  const refusedTotal = node.node.metrics.snapshot().meshgate_peer_refused_total as Record<string, number>;
  assert.equal(refusedTotal['reason=conn_limit'], 1);
  // The peer sockets time out and give their slots back.
  if (first.kind === 'open') assert.equal((await first.closed).code, 4408);
  if (second.kind === 'open') assert.equal((await second.closed).code, 4408);
  const again = await openClient(t, node.wsUrl);
  assert.equal((await again.request({ op: 'ping' })).op, 'pong');
  await client.close();
});

test('a wrong mesh.handshakeTimeoutMs or mesh.maxPendingHandshakes stops start-up naming the key and the fix', () => {
  assert.throws(
    () => resolveConfig({ mesh: { handshakeTimeoutMs: 10 } }),
    (err: MeshError) =>
      err.code === 'MG_ERR_CONFIG_INVALID' &&
      /mesh\.handshakeTimeoutMs: must be >= 100, got 10; fix: ms a peer socket may stay open without a valid hello/.test(err.message),
  );
  assert.throws(
    () => resolveConfig({ mesh: { maxPendingHandshakes: 0 } }),
    (err: MeshError) =>
      err.code === 'MG_ERR_CONFIG_INVALID' &&
      /mesh\.maxPendingHandshakes: must be >= 1, got 0; fix: peer sockets open without a completed hello/.test(err.message),
  );
});
