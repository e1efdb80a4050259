import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type TestContext, test } from 'node:test';
import WebSocket from 'ws';
import type { MeshEvent } from '../../../broker/event/mod.js';
import type { RunningNode } from '../../../broker/node/internal.js';
import { decodePeerFrame, encodeControl, keyProof, newNonce, PEER_PROTOCOL_VERSION } from '../../../broker/peering/internal.js';
import type { Subscriber } from '../../../broker/pipeline/mod.js';
import { type CertFiles, makeTestPki, type TestPki } from '../../helpers/certs.js';
import { TEST_MESH_KEY, until } from '../../helpers/mesh.js';
import { startTestNode } from '../../helpers/node.js';
import { silentPeer } from '../../helpers/silent-peer.js';

/** A node with mutual TLS peering: `files` is its certificate, `ca` the CA it trusts. */
async function tlsNode(t: TestContext, id: string, files: CertFiles, ca: string, peers: string[] = []): Promise<RunningNode> {
  return startTestNode(t, {
    node: { id, region: `r-${id}` },
    mesh: { key: TEST_MESH_KEY, peers, backoffMinMs: 20, backoffMaxMs: 200, keepaliveMs: 1000, tls: { ...files, caFile: ca, port: 0 } },
  });
}

/** An in-process subscriber that records events. */
function probe(onEvent: (e: MeshEvent) => void = () => undefined): Subscriber {
  return { format: { name: 'probe', binary: false, encode: () => new Uint8Array(), batch: null }, deliver: (_item: Uint8Array, e: MeshEvent) => onEvent(e) };
}

function refusedTls(node: RunningNode): number {
  const m = node.node.metrics.snapshot().meshgate_peer_refused_total;
  return typeof m === 'object' ? (m['reason=tls'] ?? 0) : 0;
}

function upPeers(node: RunningNode): string[] {
  return node.mesh
    .peers()
    .filter((p) => p.state === 'up')
    .map((p) => String(p.node));
}

function knownOrigins(node: RunningNode): string[] {
  return (node.mesh.routes().origins as Array<{ origin: string }>).map((o) => o.origin);
}

let pki: TestPki;
test.before(() => {
  pki = makeTestPki();
});
test.after(() => pki.remove());

test('peers with certificates from the mesh CA link over wss and exchange interest and events', async (t) => {
  const a = await tlsNode(t, 'a', pki.cert('a'), pki.caFile);
  assert.match(a.peerUrl, /^wss:\/\/127\.0\.0\.1:\d+$/);
  const b = await tlsNode(t, 'b', pki.cert('b'), pki.caFile, [a.peerUrl]);
  const got: string[] = [];
  a.node.subscribe(
    'tls.>',
    probe((e) => void got.push(e.id)),
  );
  await until('b learns a wants tls.>', () =>
    (b.mesh.routes().origins as Array<{ origin: string; filters: string[] }>).some((o) => o.origin === 'a' && o.filters.includes('tls.>')),
  );
  assert.deepEqual(upPeers(a), ['b']);
  const r = b.node.ingest({ id: 'e1', source: 't', type: 't', topic: 'tls.x', data: new Uint8Array(), attrs: {}, hops: [] } as never, 'ws');
  assert.equal(r.ok, true);
  await until('a receives the event over the TLS link', () => got.includes('e1'));
  assert.equal(refusedTls(a), 0);
});

for (const [name, files, caOfDialer] of [
  ['a certificate from another CA', (p: TestPki) => p.wrongCa('c'), (p: TestPki) => p.caFile],
  ['an expired certificate', (p: TestPki) => p.expired('d'), (p: TestPki) => p.caFile],
] as const) {
  test(`a peer with ${name} is refused in the TLS handshake: no link, no interest either way`, async (t) => {
    const a = await tlsNode(t, 'a', pki.cert('a'), pki.caFile);
    // Both sides hold subscriptions, so any routing state exchanged would show.
    a.node.subscribe('from.a.>', probe());
    const c = await tlsNode(t, 'c', files(pki), caOfDialer(pki), [a.peerUrl]);
    c.node.subscribe('from.c.>', probe());
    await until('a counts a TLS refusal', () => refusedTls(a) >= 1);
    await until('c reports the TLS failure', async () => (await dialErrors(c)).includes('MG_ERR_PEER_TLS'));
    assert.ok(refusedTls(c) >= 1, 'the dialer counts it too');
    assert.deepEqual(upPeers(a), []);
    assert.deepEqual(upPeers(c), []);
    assert.deepEqual(a.mesh.peers(), [], 'a never saw a link');
    assert.deepEqual(knownOrigins(a), []);
    assert.deepEqual(knownOrigins(c), []);
    const peers = await peerRows(c);
    assert.equal(peers.length, 1);
    assert.equal(peers[0].state, 'connecting');
  });
}

test('a peer with a good certificate but the wrong mesh key is refused with 4401 inside TLS: no link, no interest', async (t) => {
  const a = await tlsNode(t, 'a', pki.cert('a'), pki.caFile);
  a.node.subscribe('from.a.>', probe());
  const g = await startTestNode(t, {
    node: { id: 'g', region: 'r-g' },
    mesh: { key: 'a-different-mesh-key', peers: [a.peerUrl], backoffMinMs: 20, backoffMaxMs: 200, tls: { ...pki.cert('g'), caFile: pki.caFile, port: 0 } },
  });
  g.node.subscribe('from.g.>', probe());
  await until('a refuses the key proof', () => {
    const m = a.node.metrics.snapshot().meshgate_peer_refused_total;
    return typeof m === 'object' && (m['reason=auth'] ?? 0) >= 1;
  });
  await until('g reports the refusal', async () => (await dialErrors(g)).includes('MG_ERR_PEER_AUTH'));
  assert.equal(refusedTls(a), 0, 'TLS itself was fine');
  assert.deepEqual(a.mesh.peers(), []);
  assert.deepEqual(knownOrigins(a), []);
  assert.deepEqual(knownOrigins(g), []);
});

test('a peer with no certificate is refused in the TLS handshake even with the right mesh key', async (t) => {
  const a = await tlsNode(t, 'a', pki.cert('a'), pki.caFile);
  const socket = new WebSocket(`${a.peerUrl}/v1/peer`, { ca: readFileSync(pki.caFile) });
  t.after(() => socket.terminate());
  const frames: unknown[] = [];
  // Were TLS to let it through, this would complete the mesh handshake.
  const nonce = newNonce();
  socket.on('message', (raw: Buffer) => {
    const d = decodePeerFrame(new Uint8Array(raw));
    frames.push(d);
    if (d.kind === 'control' && d.frame.t === 'challenge') {
      socket.send(
        encodeControl({
          t: 'hello',
          node: 'intruder',
          region: 'x',
          version: PEER_PROTOCOL_VERSION,
          nonce,
          proof: keyProof(TEST_MESH_KEY, 'dial', d.frame.nonce as Uint8Array, 'intruder'),
        }),
      );
    }
  });
  const outcome = await new Promise<string>((resolve) => {
    socket.once('open', () => resolve('open'));
    socket.once('error', (err) => resolve(`error: ${err.message}`));
    socket.once('close', (code) => resolve(`close ${code}`));
  });
  assert.notEqual(outcome, 'open');
  await until('a counts a TLS refusal', () => refusedTls(a) >= 1);
  assert.deepEqual(frames, [], 'not even the challenge was sent');
  assert.deepEqual(a.mesh.peers(), []);
  assert.deepEqual(knownOrigins(a), []);
});

test('with mesh.tls the client port refuses plain-ws peers with 403, and the dialer refuses a server certificate from another CA', async (t) => {
  const a = await tlsNode(t, 'a', pki.cert('a'), pki.caFile);
  const plain = new WebSocket(`ws://127.0.0.1:${a.port}/v1/peer`);
  plain.on('error', () => undefined);
  t.after(() => plain.terminate());
  const status = await new Promise<number>((resolve) => {
    plain.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    plain.once('open', () => resolve(101));
  });
  assert.equal(status, 403);
  // e's own certificate is from another CA: a (dialing e) must refuse e's server certificate.
  const e = await tlsNode(t, 'e', pki.wrongCa('e'), pki.caFile);
  const f = await tlsNode(t, 'f', pki.cert('f'), pki.caFile, [e.peerUrl]);
  await until('f reports a TLS failure for e', async () => (await dialErrors(f)).includes('MG_ERR_PEER_TLS'));
  assert.deepEqual(f.mesh.peers(), []);
  assert.deepEqual(e.mesh.peers(), []);
  assert.deepEqual(knownOrigins(f), []);
});

async function peerRows(node: RunningNode): Promise<Array<Record<string, unknown>>> {
  return ((await (await fetch(`${node.httpUrl}/v1/peers`)).json()) as { peers: Array<Record<string, unknown>> }).peers;
}

async function dialErrors(node: RunningNode): Promise<string> {
  return (await peerRows(node)).map((p) => String(p.lastError ?? '')).join('\n');
}

test('the mutual-TLS peer listener keeps the same hello deadline and pending-handshake cap', async (t) => {
  const a = await startTestNode(t, {
    node: { id: 'a', region: 'r-a' },
    mesh: { key: TEST_MESH_KEY, handshakeTimeoutMs: 1000, maxPendingHandshakes: 2, tls: { ...pki.cert('a'), caFile: pki.caFile, port: 0 } },
  });
  const cert = pki.cert('silent');
  const withCert = { ca: readFileSync(pki.caFile), cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) };
  // TLS passes (a good certificate), then nothing is said.
  const held = [await silentPeer(t, a.peerUrl, withCert), await silentPeer(t, a.peerUrl, withCert)];
  const over = await silentPeer(t, a.peerUrl, withCert);
  assert.equal(over.kind, 'refused');
  assert.equal(over.kind === 'refused' && over.status, 503);
  assert.match(over.kind === 'refused' ? over.body : '', /^MG_ERR_PEER_BUSY: /);
  for (const h of held) {
    assert.equal(h.kind, 'open');
    if (h.kind !== 'open') continue;
    const closed = await h.closed;
    assert.equal(closed.code, 4408);
    assert.match(closed.reason, /^MG_ERR_PEER_HANDSHAKE_TIMEOUT/);
    assert.ok(closed.at - h.challengedAt >= 950, 'not before the deadline');
  }
  const refused = a.node.metrics.snapshot().meshgate_peer_refused_total as Record<string, number>;
  assert.equal(refused['reason=pending_limit'], 1);
  assert.equal(refused['reason=handshake_timeout'], 2);
  // The slots are free again: a real peer links.
  const b = await tlsNode(t, 'b', pki.cert('b'), pki.caFile, [a.peerUrl]);
  await until('a and b link over TLS', () => upPeers(a).includes('b') && upPeers(b).includes('a'));
});
