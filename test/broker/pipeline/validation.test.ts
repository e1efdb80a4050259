/**
 * Schema validation at ingress (issue 5, item 3), end to end on real
 * nodes: the WebSocket client protocol (JSON and CBOR, pub and pubs), the
 * CloudEvents binding /v1/ce/, dead letters, counters, and "first node
 * only" across a peer link. Bridge imports: test/bridges/validation.test.ts.
 */

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type TestContext, test } from 'node:test';
import WebSocket from 'ws';
import type { RunningNode } from '../../../broker/node/internal.js';
import { IngressValidator } from '../../../broker/pipeline/mod.js';
import { SchemaRegistry } from '../../../schemas/mod.js';
import { TEST_MESH_KEY, until } from '../../helpers/mesh.js';
import { ce, type FrameClient, openClient, startTestNode } from '../../helpers/node.js';
import { INVALID, INVALID_REASONS, ORDER, VALID } from '../../helpers/order-schema.js';

/** One series of /metrics, read over HTTP as an operator would; 0 when absent. */
async function metric(node: RunningNode, series: string): Promise<number> {
  const text = await (await fetch(`${node.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Everything queued for `client` has arrived once its ping is answered. */
async function drained(client: FrameClient): Promise<void> {
  assert.equal((await client.request({ op: 'ping' })).op, 'pong');
}

interface Setup {
  readonly node: RunningNode;
  /** Subscribed to orders.> */
  readonly orders: FrameClient;
  /** Subscribed to _mg.deadletter.> */
  readonly letters: FrameClient;
}

async function validatingNode(t: TestContext, layer: Parameters<typeof startTestNode>[1] = {}): Promise<Setup> {
  const node = await startTestNode(t, layer);
  node.schemas.register('orders', ORDER, { topics: ['orders.>'] });
  const orders = await openClient(t, node.wsUrl);
  assert.equal((await orders.request({ op: 'sub', filter: 'orders.>' })).op, 'ok');
  const letters = await openClient(t, node.wsUrl);
  assert.equal((await letters.request({ op: 'sub', filter: '_mg.deadletter.>' })).op, 'ok');
  return { node, orders, letters };
}

function ids(client: FrameClient): string[] {
  return client.events().map((f) => String((f.event as Record<string, unknown>).id));
}

/** The dead letters `letters` received, as { topic, event } with the letter's data parsed (JSON flavour: already a value). */
function deadLetters(
  letters: FrameClient,
): Array<{ topic: string; event: Record<string, unknown>; data: { reasons: unknown; event: Record<string, unknown> } }> {
  return letters.events().map((f) => ({
    topic: String(f.topic),
    event: f.event as Record<string, unknown>,
    data: (f.event as { data: { reasons: unknown; event: Record<string, unknown> } }).data,
  }));
}

function assertLetterAttributes(letter: { topic: string; event: Record<string, unknown> }, nodeId: string, topic: string): void {
  assert.equal(letter.topic, `_mg.deadletter.${topic}`);
  assert.equal(letter.event.type, 'meshgate.deadletter');
  assert.equal(letter.event.source, `meshgate://${nodeId}`);
  assert.equal(letter.event.datacontenttype, 'application/json');
  assert.equal(letter.event.subject, topic);
  assert.equal(letter.event.mgorigin, nodeId);
  assert.equal(letter.event.mgprotocol, 'system');
}

for (const flavour of ['json', 'cbor'] as const) {
  // CBOR carries data as a byte string; the datacontenttype says it is JSON.
  const withData = (id: string, value: unknown) =>
    flavour === 'json' ? ce(id, { data: value }) : ce(id, { datacontenttype: 'application/json', data: Buffer.from(JSON.stringify(value)) });

  test(`/v1/ws ${flavour}: a valid event is delivered; an invalid one gets err MG_ERR_EVENT_SCHEMA with its reasons, one dead letter and a count`, async (t) => {
    const { node, orders, letters } = await validatingNode(t);
    const publisher = await openClient(t, node.wsUrl, flavour);

    const accepted = await publisher.request({ op: 'pub', topic: 'orders.eu', event: withData('good-1', VALID) });
    assert.deepEqual([accepted.op, accepted.duplicate], ['ok', undefined]);
    const refused = await publisher.request({ op: 'pub', topic: 'orders.eu', event: withData('bad-1', INVALID) });
    assert.equal(refused.op, 'err');
    assert.equal(refused.code, 'MG_ERR_EVENT_SCHEMA');
    assert.equal(refused.message, "data does not match its schema: /after/id: must have required property 'id' (+1 more)");
    assert.deepEqual(refused.reasons, INVALID_REASONS);

    await orders.waitFor((f) => f.op === 'event');
    await drained(orders);
    assert.deepEqual(ids(orders), ['good-1'], 'the invalid event reached no subscriber');

    await letters.waitFor((f) => f.op === 'event');
    await drained(letters);
    const got = deadLetters(letters);
    assert.equal(got.length, 1);
    assertLetterAttributes(got[0], 'test-node', 'orders.eu');
    const original =
      flavour === 'json'
        ? { specversion: '1.0', id: 'bad-1', source: 'test', type: 'test.event', data: INVALID }
        : { specversion: '1.0', id: 'bad-1', source: 'test', type: 'test.event', datacontenttype: 'application/json', data: INVALID };
    assert.deepEqual(got[0].data, { reasons: INVALID_REASONS, event: original });

    assert.equal(await metric(node, 'meshgate_events_invalid_total{protocol="ws"}'), 1);
    assert.equal(await metric(node, 'meshgate_events_rejected_total{code="MG_ERR_EVENT_SCHEMA"}'), 1);
  });

  test(`/v1/ws ${flavour}: pubs refuses each invalid item by index with its reasons and delivers the rest`, async (t) => {
    const { node, orders, letters } = await validatingNode(t);
    const publisher = await openClient(t, node.wsUrl, flavour);
    const items = [
      { topic: 'orders.eu', event: withData('b-0', VALID) },
      { topic: 'orders.eu', event: withData('b-1', INVALID) },
      { topic: 'orders.us', event: withData('b-2', VALID) },
      { topic: 'orders.us', event: withData('b-3', { op: 'x', after: { id: 1 } }) },
    ];
    // The err frames for refused items come before the one ok for the frame.
    publisher.send({ op: 'pubs', items, ref: 'batch-1' });
    const ack = await publisher.waitFor((f) => f.op === 'ok' && f.ref === 'batch-1');
    assert.deepEqual([ack.accepted, ack.duplicates], [2, 0]);
    const errs = publisher.frames.filter((f) => f.op === 'err' && f.ref === 'batch-1');
    assert.deepEqual(
      errs.map((f) => [f.index, f.code, f.reasons]),
      [
        [1, 'MG_ERR_EVENT_SCHEMA', INVALID_REASONS],
        [3, 'MG_ERR_EVENT_SCHEMA', [{ path: '/op', message: 'must be equal to one of the allowed values' }]],
      ],
    );
    await orders.waitFor(() => orders.events().length >= 2);
    await drained(orders);
    assert.deepEqual(ids(orders), ['b-0', 'b-2']);
    await letters.waitFor(() => letters.events().length >= 2);
    await drained(letters);
    assert.deepEqual(
      deadLetters(letters).map((l) => [l.topic, l.data.event.id]),
      [
        ['_mg.deadletter.orders.eu', 'b-1'],
        ['_mg.deadletter.orders.us', 'b-3'],
      ],
    );
    assert.equal(await metric(node, 'meshgate_events_invalid_total{protocol="ws"}'), 2);
  });
}

test('/v1/ce/: a valid event is delivered; an invalid one closes the socket with 1007 MG_ERR_EVENT_SCHEMA and is dead-lettered with its reasons', async (t) => {
  const { node, orders, letters } = await validatingNode(t);
  const producer = new WebSocket(`${node.httpUrl.replace('http', 'ws')}/v1/ce/orders.eu`, 'cloudevents.json');
  t.after(() => producer.terminate());
  await once(producer, 'open');
  const closed = once(producer, 'close') as Promise<[number, Buffer]>;

  producer.send(JSON.stringify(ce('ce-good', { data: VALID })));
  await orders.waitFor((f) => f.op === 'event');
  producer.send(JSON.stringify(ce('ce-bad', { data: INVALID })));
  const [code, reason] = await closed;
  assert.equal(code, 1007);
  assert.equal(reason.toString(), "MG_ERR_EVENT_SCHEMA: data does not match its schema: /after/id: must have required property 'id' (+1 more)");

  await letters.waitFor((f) => f.op === 'event');
  await drained(letters);
  const got = deadLetters(letters);
  assert.equal(got.length, 1);
  assertLetterAttributes(got[0], 'test-node', 'orders.eu');
  assert.deepEqual(got[0].data, { reasons: INVALID_REASONS, event: { specversion: '1.0', id: 'ce-bad', source: 'test', type: 'test.event', data: INVALID } });
  await drained(orders);
  assert.deepEqual(ids(orders), ['ce-good']);
  assert.equal(await metric(node, 'meshgate_events_invalid_total{protocol="ws"}'), 1);
});

test('a producer retry of the same invalid event is refused and counted each time, but dead-lettered once', async (t) => {
  const { node, letters } = await validatingNode(t);
  const publisher = await openClient(t, node.wsUrl);
  const duplicatesBefore = await metric(node, 'meshgate_events_duplicate_total');
  for (let attempt = 0; attempt < 3; attempt++) {
    const reply = await publisher.request({ op: 'pub', topic: 'orders.eu', event: ce('retry-1', { data: INVALID }) });
    assert.deepEqual([reply.code, reply.reasons], ['MG_ERR_EVENT_SCHEMA', INVALID_REASONS], `attempt ${attempt}`);
  }
  await letters.waitFor((f) => f.op === 'event');
  await drained(letters);
  assert.equal(deadLetters(letters).length, 1);
  assert.equal(await metric(node, 'meshgate_events_invalid_total{protocol="ws"}'), 3);
  // The second and third letters carried the first one's id and stopped at dedup.
  assert.equal((await metric(node, 'meshgate_events_duplicate_total')) - duplicatesBefore, 2);
  // Another event with the same id from another source is a different event: its own letter.
  await publisher.request({ op: 'pub', topic: 'orders.eu', event: ce('retry-1', { source: 'other', data: INVALID }) });
  await letters.waitFor(() => letters.events().length >= 2);
  assert.deepEqual(
    deadLetters(letters).map((l) => l.data.event.source),
    ['test', 'other'],
  );
});

test('a dataschema naming no registered schema is refused, even on a topic with no binding; without it the event passes', async (t) => {
  const { node, letters } = await validatingNode(t);
  const publisher = await openClient(t, node.wsUrl);
  const refused = await publisher.request({ op: 'pub', topic: 'billing.eu', event: ce('ds-1', { dataschema: 'meshgate:schema:invoices:3', data: { n: 1 } }) });
  assert.deepEqual(
    [refused.code, refused.reasons],
    ['MG_ERR_EVENT_SCHEMA', [{ path: '', message: 'names no registered schema (meshgate:schema:invoices:3)' }]],
  );
  const letter = await letters.waitFor((f) => f.op === 'event');
  assert.equal(letter.topic, '_mg.deadletter.billing.eu');
  assert.equal((await publisher.request({ op: 'pub', topic: 'billing.eu', event: ce('ds-2', { data: { n: 1 } }) })).op, 'ok');
  // Registered, the same reference validates against that version.
  node.schemas.register('invoices', { type: 'object', required: ['n'] });
  assert.equal(
    (await publisher.request({ op: 'pub', topic: 'billing.eu', event: ce('ds-3', { dataschema: 'meshgate:schema:invoices:latest', data: { n: 1 } }) })).op,
    'ok',
  );
  const missing = await publisher.request({ op: 'pub', topic: 'billing.eu', event: ce('ds-4', { dataschema: 'meshgate:schema:invoices:1', data: {} }) });
  assert.deepEqual(missing.reasons, [{ path: '/n', message: "must have required property 'n'" }]);
});

test('a schema bound to a topic refuses non-JSON data on it with a reason for the data as a whole', async (t) => {
  const { node } = await validatingNode(t);
  const publisher = await openClient(t, node.wsUrl);
  const refused = await publisher.request({
    op: 'pub',
    topic: 'orders.eu',
    event: ce('bin-1', { datacontenttype: 'application/octet-stream', data_base64: 'AAEC' }),
  });
  assert.equal(refused.code, 'MG_ERR_EVENT_SCHEMA');
  assert.equal((refused.reasons as Array<{ path: string }>)[0].path, '');
  assert.match((refused.reasons as Array<{ message: string }>)[0].message, /^data is application\/octet-stream, but a JSON Schema is bound to this event/);
});

// ---- first node only ------------------------------------------------------

const PEERING = { key: TEST_MESH_KEY, backoffMinMs: 20, backoffMaxMs: 200, keepaliveMs: 1000 };

/** a <- b (b dials a). */
async function twoNodes(t: TestContext): Promise<{ a: RunningNode; b: RunningNode }> {
  const a = await startTestNode(t, { node: { id: 'a', region: 'ra' }, mesh: PEERING });
  const b = await startTestNode(t, { node: { id: 'b', region: 'rb' }, mesh: { ...PEERING, peers: [a.peerUrl] } });
  return { a, b };
}

async function interestReached(at: RunningNode, from: string, filter: string): Promise<void> {
  await until(`${at.node.nodeId} sees ${from} want ${filter}`, () =>
    (at.mesh.routes().origins as Array<{ origin: string; filters: string[] }>).some((o) => o.origin === from && o.filters.includes(filter)),
  );
}

test('later hops trust the provenance stamp: an event a accepted is delivered at b even though b would refuse it from a client', async (t) => {
  const { a, b } = await twoNodes(t);
  // b checks with a registry a does not share. Staged below the node's own
  // registry on purpose: that one is replicated to peers, and this test is
  // about who validates, not about what the registries hold.
  const stricter = new SchemaRegistry();
  stricter.register('orders', ORDER, { topics: ['orders.>'] });
  b.node.setValidator(new IngressValidator(stricter));

  const atB = await openClient(t, b.wsUrl);
  assert.equal((await atB.request({ op: 'sub', filter: 'orders.>' })).op, 'ok');
  await interestReached(a, 'b', 'orders.>');

  const publisherA = await openClient(t, a.wsUrl);
  assert.equal((await publisherA.request({ op: 'pub', topic: 'orders.eu', event: ce('via-a', { data: INVALID }) })).op, 'ok');
  const delivered = await atB.waitFor((f) => f.op === 'event');
  const event = delivered.event as Record<string, unknown>;
  assert.equal(event.id, 'via-a');
  assert.equal(event.mgorigin, 'a');
  assert.match(String(event.mghops), /^a@ra@\d+,b@rb@\d+$/);
  assert.equal(await metric(b, 'meshgate_events_invalid_total{protocol="ws"}'), 0);

  // b's own ingress does validate: the same data published at b is refused.
  const publisherB = await openClient(t, b.wsUrl);
  const refused = await publisherB.request({ op: 'pub', topic: 'orders.eu', event: ce('via-b', { data: INVALID }) });
  assert.deepEqual([refused.code, refused.reasons], ['MG_ERR_EVENT_SCHEMA', INVALID_REASONS]);
  await drained(atB);
  assert.deepEqual(ids(atB), ['via-a']);
});

test('the first node refuses an invalid event and its dead letter reaches a dead-letter subscriber on another node', async (t) => {
  const { a, b } = await twoNodes(t);
  a.schemas.register('orders', ORDER, { topics: ['orders.>'] });
  const ordersAtB = await openClient(t, b.wsUrl);
  assert.equal((await ordersAtB.request({ op: 'sub', filter: 'orders.>' })).op, 'ok');
  const lettersAtB = await openClient(t, b.wsUrl);
  assert.equal((await lettersAtB.request({ op: 'sub', filter: '_mg.deadletter.>' })).op, 'ok');
  await interestReached(a, 'b', 'orders.>');
  await interestReached(a, 'b', '_mg.deadletter.>');

  const publisher = await openClient(t, a.wsUrl);
  const refused = await publisher.request({ op: 'pub', topic: 'orders.eu', event: ce('bad-at-a', { data: INVALID }) });
  assert.equal(refused.code, 'MG_ERR_EVENT_SCHEMA');
  assert.equal((await publisher.request({ op: 'pub', topic: 'orders.eu', event: ce('good-at-a', { data: VALID }) })).op, 'ok');

  const letter = await lettersAtB.waitFor((f) => f.op === 'event');
  assertLetterAttributes({ topic: String(letter.topic), event: letter.event as Record<string, unknown> }, 'a', 'orders.eu');
  assert.deepEqual((letter.event as { data: unknown }).data, {
    reasons: INVALID_REASONS,
    event: { specversion: '1.0', id: 'bad-at-a', source: 'test', type: 'test.event', data: INVALID },
  });
  await ordersAtB.waitFor((f) => f.op === 'event');
  await drained(ordersAtB);
  assert.deepEqual(ids(ordersAtB), ['good-at-a']);
  assert.equal(await metric(a, 'meshgate_events_invalid_total{protocol="ws"}'), 1);
  assert.equal(await metric(b, 'meshgate_events_invalid_total{protocol="ws"}'), 0);
});
