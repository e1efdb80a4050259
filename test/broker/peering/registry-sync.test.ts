import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { canonicalJson } from '../../../schemas/internal.js';
import { type RegistryState, SchemaRegistry, schemaIdOf } from '../../../schemas/mod.js';
import { awaitLinks, freePort, NodeProcess, startMesh, until } from '../../helpers/mesh.js';
import { RawPeer } from '../../helpers/raw-peer.js';

const order = { type: 'object', properties: { id: { type: 'string' } }, additionalProperties: false };
// BACKWARD compatible with `order`: a closed object gains an optional property.
const orderV2 = { type: 'object', properties: { id: { type: 'string' }, note: { type: 'string' } }, additionalProperties: false };
// Not BACKWARD compatible: `id` becomes required.
const stricter = { ...orderV2, required: ['id'] };
const idOf = (schema: unknown) => schemaIdOf(canonicalJson(schema));

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

async function api(node: NodeProcess, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${node.httpUrl}/v1/schemas${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Waits until `node` answers `path` with `expected` (a registry state visible only over HTTP). */
async function awaitSchema(node: NodeProcess, path: string, expected: unknown): Promise<void> {
  let last: unknown;
  await until(`${node.spec.id} answers ${path} with ${JSON.stringify(expected)} (last: ${JSON.stringify(last)})`, async () => {
    const answer = await api(node, 'GET', path);
    last = answer.json;
    return answer.status === 200 && canonicalJson(answer.json) === canonicalJson(expected);
  });
}

/** Sum of a counter over nodes. */
async function total(nodes: Iterable<NodeProcess>, metric: string): Promise<number> {
  let sum = 0;
  for (const n of nodes) sum += await n.metric(metric);
  return sum;
}

/** Waits until every `schemas` frame sent has been received: nothing is in flight. */
async function awaitSyncQuiet(nodes: Iterable<NodeProcess>): Promise<number> {
  const list = [...nodes];
  let sent = 0;
  await until('every schemas frame sent was received', async () => {
    sent = await total(list, 'meshgate_schema_sync_frames_sent_total');
    return sent === (await total(list, 'meshgate_schema_sync_frames_received_total'));
  });
  return sent;
}

test("mesh-wide registry with a late joiner: a subject registered on A reaches B, C joins later and catches up, C's new version reaches A, an incompatible one is refused everywhere", async (t) => {
  const nodes = await startMesh(t, ['a', 'b'], [['a', 'b']]);
  const [a, b] = [nodes.get('a')!, nodes.get('b')!];
  await awaitLinks(nodes, [['a', 'b']]);

  const registered = await api(a, 'POST', '/subjects/orders/versions', { schema: order, topics: ['orders.>'], types: ['order.created'] });
  assert.deepEqual(registered, { status: 200, json: { id: idOf(order), version: 1 } });
  const v1 = { subject: 'orders', version: 1, id: idOf(order), schemaType: 'JSON', schema: order };
  await awaitSchema(b, '/subjects/orders/versions/1', v1);
  assert.deepEqual((await api(b, 'GET', '/subjects/orders')).json, {
    subject: 'orders',
    compatibility: 'BACKWARD',
    topics: ['orders.>'],
    types: ['order.created'],
    versions: [1],
  });

  // The late joiner, peered only to B.
  const c = new NodeProcess(t, { id: 'c', region: 'region-c', port: await freePort(), peers: [b.peerUrl] });
  await c.start();
  nodes.set('c', c);
  await awaitSchema(c, '/subjects/orders/versions/1', v1);
  assert.deepEqual((await api(c, 'GET', `/ids/${idOf(order)}`)).json, {
    id: idOf(order),
    schemaType: 'JSON',
    schema: order,
    versions: [{ subject: 'orders', version: 1 }],
  });
  assert.deepEqual((await api(c, 'GET', '/subjects/orders')).json, (await api(a, 'GET', '/subjects/orders')).json);

  // A new version registered on the late joiner reaches A through B.
  assert.deepEqual(await api(c, 'POST', '/subjects/orders/versions', { schema: orderV2 }), { status: 200, json: { id: idOf(orderV2), version: 2 } });
  const v2 = { subject: 'orders', version: 2, id: idOf(orderV2), schemaType: 'JSON', schema: orderV2 };
  await awaitSchema(a, '/subjects/orders/versions/latest', v2);
  await awaitSchema(b, '/subjects/orders/versions/latest', v2);

  // Refused on B: nothing is sent, and every node refuses it alike.
  await awaitSyncQuiet(nodes.values());
  const sentByB = await b.metric('meshgate_schema_sync_frames_sent_total');
  const refused = await api(b, 'POST', '/subjects/orders/versions', { schema: stricter });
  assert.equal(refused.status, 409);
  assert.equal(refused.json.error, 'MG_ERR_SCHEMA_INCOMPATIBLE');
  assert.equal(await b.metric('meshgate_schema_sync_frames_sent_total'), sentByB, 'a refused registration sends nothing');
  for (const n of [a, c]) {
    const answer = await api(n, 'POST', '/subjects/orders/versions', { schema: stricter });
    assert.deepEqual([answer.status, answer.json.error, answer.json.messages], [409, 'MG_ERR_SCHEMA_INCOMPATIBLE', refused.json.messages], n.spec.id);
  }
  for (const n of [a, b, c]) assert.deepEqual((await api(n, 'GET', '/subjects/orders/versions')).json, [1, 2], n.spec.id);
  assert.equal((await api(a, 'GET', `/ids/${idOf(stricter)}`)).status, 404);
  assert.equal(await total([a, b, c], 'meshgate_schema_sync_refused_total'), 0);
});

test("a triangle converges and the flood stops: a change crosses each node's links at most once", async (t) => {
  const edges = [
    ['a', 'b'],
    ['b', 'c'],
    ['c', 'a'],
  ] as const;
  const nodes = await startMesh(t, ['a', 'b', 'c'], edges);
  await awaitLinks(nodes, edges);
  const all = [...nodes.values()];
  const before = await awaitSyncQuiet(all);

  let sentBefore = before;
  for (const [origin, subject, schema] of [
    ['a', 'orders', order],
    ['c', 'payments', orderV2],
  ] as const) {
    const reg = await api(nodes.get(origin)!, 'POST', `/subjects/${subject}/versions`, { schema, topics: [`${subject}.>`] });
    assert.equal(reg.status, 200);
    for (const n of all) await awaitSchema(n, `/subjects/${subject}/versions/1`, { subject, version: 1, id: idOf(schema), schemaType: 'JSON', schema });
    const sent = await awaitSyncQuiet(all);
    // The origin sends to its 2 links; each other node forwards once, to its one other link.
    const frames = sent - sentBefore;
    t.diagnostic(`${subject}: ${frames} schemas frames`);
    assert.ok(frames >= 2 && frames <= 4, `${frames} frames for one change in a triangle`);
    sentBefore = sent;
  }
  const merged = await total(all, 'meshgate_schema_sync_merged_total');
  assert.equal(merged, 4, 'each of 2 subjects merged once on each of 2 other nodes');
  const states = await Promise.all(
    all.map(async (n) => canonicalJson(await Promise.all(['orders', 'payments'].map(async (s) => (await api(n, 'GET', `/subjects/${s}`)).json)))),
  );
  assert.equal(new Set(states).size, 1, 'every node has the same subjects');
});

test('a node restarted with an empty registry catches up from its peers when its links come back, and its next change wins', async (t) => {
  const nodes = await startMesh(t, ['a', 'b'], [['a', 'b']]);
  const [a, b] = [nodes.get('a')!, nodes.get('b')!];
  await awaitLinks(nodes, [['a', 'b']]);
  assert.equal((await api(a, 'POST', '/subjects/orders/versions', { schema: order, topics: ['orders.>'] })).status, 200);
  assert.equal((await api(b, 'POST', '/subjects/payments/versions', { schema: orderV2 })).status, 200);
  await awaitSchema(a, '/subjects', ['orders', 'payments']);
  await awaitSchema(b, '/subjects', ['orders', 'payments']);

  await b.kill9();
  await b.start();
  // The registry is in memory: whatever b has now came from a over the new link.
  await awaitSchema(b, '/subjects', ['orders', 'payments']);
  await awaitSchema(b, '/subjects/payments/versions/1', { subject: 'payments', version: 1, id: idOf(orderV2), schemaType: 'JSON', schema: orderV2 });
  assert.deepEqual((await api(b, 'GET', '/subjects/orders')).json, (await api(a, 'GET', '/subjects/orders')).json);

  // b's clock moved past what it merged, so its next change is newer than a's copy.
  assert.deepEqual(await api(b, 'POST', '/subjects/orders/versions', { schema: orderV2 }), { status: 200, json: { id: idOf(orderV2), version: 2 } });
  await awaitSchema(a, '/subjects/orders/versions', [1, 2]);
});

test('a malformed schemas frame from a peer is refused, counted and logged; the link stays up and later frames still flow', async (t) => {
  const b = new NodeProcess(t, { id: 'b', port: await freePort() });
  await b.start();
  assert.equal((await api(b, 'POST', '/subjects/orders/versions', { schema: order })).status, 200);

  const raw = await RawPeer.connect(t, b, 'raw');
  // Catch-up on link up: b sends its registry to the new peer.
  const catchUp = (await raw.waitFor((f) => f.t === 'schemas')) as { state: RegistryState };
  assert.deepEqual(
    catchUp.state.subjects.map((s) => [s.subject, s.versions.map((v) => v.id)]),
    [['orders', [idOf(order)]]],
  );

  raw.send({ t: 'schemas', state: 'not a registry state' });
  raw.send({ t: 'schemas' });
  raw.send({
    t: 'schemas',
    state: { format: 2, defaultCompatibility: 'BACKWARD', subjects: [{ subject: 'broken', stamp: 'yesterday', topics: [], types: [], versions: [] }] },
  });
  const mine = new SchemaRegistry({ nodeId: 'raw' });
  mine.register('from-raw', orderV2, { topics: ['raw.>'] });
  raw.send({ t: 'schemas', state: mine.export() });
  raw.send({ t: 'ping', ts: 42 });

  // Frames on one link are handled in order: once the valid state is merged, the bad ones were handled.
  await awaitSchema(b, '/subjects', ['from-raw', 'orders']);
  await raw.waitFor((f) => f.t === 'pong' && (f as { ts: number }).ts === 42);
  assert.equal(await b.metric('meshgate_schema_sync_refused_total'), 2);
  assert.equal(await b.metric('meshgate_schema_sync_skipped_total'), 1);
  assert.equal(await b.metric('meshgate_schema_sync_frames_received_total'), 4);
  assert.equal(await b.metric('meshgate_peer_malformed_total'), 0, 'not treated as a broken link');
  assert.match(b.output, /schema sync: refused a schemas frame from peer raw: merge: expected a registry state with format 2/);
  assert.match(b.output, /schema sync: skipped subject 'broken' from peer raw: stamp "yesterday"/);
  assert.equal((await b.peers()).find((p) => p.node === 'raw')?.state, 'up');
  assert.equal(raw.socket.readyState, WebSocket.OPEN);
  assert.deepEqual((await api(b, 'GET', '/subjects/from-raw')).json, {
    subject: 'from-raw',
    compatibility: 'BACKWARD',
    topics: ['raw.>'],
    types: [],
    versions: [1],
  });
  raw.socket.close();
  await raw.closed;
});
