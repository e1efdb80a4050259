/** POST /v1/events/<topic>: the CloudEvents HTTP binding's three modes against a real node, real HTTP clients. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents';
import { signHs256 } from '../../../broker/auth/mod.js';
import type { RunningNode } from '../../../broker/node/internal.js';
import { type FrameClient, openClient, startTestNode } from '../../helpers/node.js';
import { INVALID, INVALID_REASONS, ORDER } from '../../helpers/order-schema.js';

const run = promisify(execFile);
const SECRET = 'http-events-test-secret-0123456789';

async function subscriber(t: TestContext, node: RunningNode, filter: string): Promise<FrameClient> {
  const c = await openClient(t, node.wsUrl);
  const reply = await c.request({ op: 'sub', filter });
  assert.equal(reply.op, 'ok');
  return c;
}

function eventNamed(c: FrameClient, id: string): Promise<Record<string, unknown>> {
  return c.waitFor((f) => f.op === 'event' && (f.event as Record<string, unknown>).id === id).then((f) => f.event as Record<string, unknown>);
}

const url = (node: RunningNode, topic: string) => `${node.httpUrl}/v1/events/${encodeURIComponent(topic)}`;

const BINARY_HEADERS = { 'ce-specversion': '1.0', 'ce-id': 'b1', 'ce-source': '/sensors/42', 'ce-type': 'reading.taken' };

test('POST /v1/events/ in binary mode answers 202 {id, duplicate} and a WebSocket subscriber gets the same attributes, percent-decoded, with provenance http', async (t) => {
  const node = await startTestNode(t);
  const sub = await subscriber(t, node, 'sensors.>');
  const res = await fetch(url(node, 'sensors.eu'), {
    method: 'POST',
    headers: { ...BINARY_HEADERS, 'ce-subject': 'Euro%20%E2%82%AC%20%F0%9F%98%80', 'ce-region': 'eu', 'content-type': 'application/json' },
    body: '{"t" : 21.5}',
  });
  assert.equal(res.status, 202);
  assert.deepEqual(await res.json(), { id: 'b1', duplicate: false });
  const event = await eventNamed(sub, 'b1');
  assert.equal(event.source, '/sensors/42');
  assert.equal(event.type, 'reading.taken');
  assert.equal(event.subject, 'Euro € 😀');
  assert.equal(event.region, 'eu');
  assert.equal(event.datacontenttype, 'application/json');
  assert.deepEqual(event.data, { t: 21.5 });
  assert.equal(event.mgprotocol, 'http');
  const again = await fetch(url(node, 'sensors.eu'), { method: 'POST', headers: BINARY_HEADERS, body: 'x' });
  assert.deepEqual(await again.json(), { id: 'b1', duplicate: true });
  assert.equal((node.node.metrics.snapshot().meshgate_events_in_total as Record<string, number>)['protocol=http'], 1);
});

test('binary mode carries trace context in the W3C traceparent and tracestate headers (the distributed tracing extension), as a webhook sends it', async (t) => {
  const node = await startTestNode(t);
  const sub = await subscriber(t, node, 'sensors.>');
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const res = await fetch(url(node, 'sensors.eu'), {
    method: 'POST',
    headers: { ...BINARY_HEADERS, 'ce-id': 'traced', traceparent, tracestate: 'vendor=x' },
    body: 'x',
  });
  assert.equal(res.status, 202);
  const event = await eventNamed(sub, 'traced');
  assert.equal(event.traceparent, traceparent);
  assert.equal(event.tracestate, 'vendor=x');
});

test('POST /v1/events/ in structured mode (application/cloudevents+json) reaches a WebSocket subscriber on the path topic', async (t) => {
  const node = await startTestNode(t);
  const sub = await subscriber(t, node, 'orders.>');
  const res = await fetch(url(node, 'orders.eu'), {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    body: JSON.stringify({ specversion: '1.0', id: 's1', source: '/shop', type: 'order.placed', subject: 'o-7', data: { total: 3 } }),
  });
  assert.equal(res.status, 202);
  const event = await eventNamed(sub, 's1');
  assert.equal(event.subject, 'o-7');
  assert.deepEqual(event.data, { total: 3 });
  assert.equal(sub.events()[0].topic, 'orders.eu');
});

test('a batch with one bad item answers 207: the bad item is refused with its index and code, the others are delivered', async (t) => {
  const node = await startTestNode(t);
  const sub = await subscriber(t, node, 'orders.>');
  const batch = [
    { specversion: '1.0', id: 'k1', source: '/shop', type: 'order.placed' },
    { specversion: '1.0', id: 'k2', source: '/shop' },
    { specversion: '1.0', id: 'k3', source: '/shop', type: 'order.placed' },
  ];
  const res = await fetch(url(node, 'orders.eu'), {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents-batch+json' },
    body: JSON.stringify(batch),
  });
  assert.equal(res.status, 207);
  const { results } = (await res.json()) as { results: Array<Record<string, unknown>> };
  assert.deepEqual(results[0], { index: 0, id: 'k1', status: 202, duplicate: false });
  assert.equal(results[1].index, 1);
  assert.equal(results[1].status, 400);
  assert.equal((results[1].problem as Record<string, unknown>).code, 'MG_ERR_EVENT_INVALID');
  assert.match((results[1].problem as Record<string, unknown>).detail as string, /^type: is required/);
  assert.deepEqual(results[2], { index: 2, id: 'k3', status: 202, duplicate: false });
  await eventNamed(sub, 'k3');
  assert.deepEqual(
    sub.events().map((e) => (e.event as Record<string, unknown>).id),
    ['k1', 'k3'],
  );
});

test('the official cloudevents SDK HTTP emitter publishes in binary and structured mode and a WebSocket subscriber gets the same attributes', async (t) => {
  const node = await startTestNode(t);
  const sub = await subscriber(t, node, 'sdk.>');
  // ASCII attributes only: cloudevents@10 writes binary-mode headers without the binding's
  // percent-encoding (§3.1.3.2), so a non-ASCII value leaves it as bytes that are not UTF-8.
  for (const [mode, id] of [
    [Mode.BINARY, 'sdk-binary'],
    [Mode.STRUCTURED, 'sdk-structured'],
  ] as const) {
    const emit = emitterFor(httpTransport(url(node, 'sdk.in')), { mode });
    await emit(new CloudEvent({ id, source: '/sdk', type: 'sdk.test', subject: 'o/7 x', datacontenttype: 'application/json', data: { n: 1 }, tenant: 'acme' }));
    const event = await eventNamed(sub, id);
    assert.equal(event.source, '/sdk');
    assert.equal(event.type, 'sdk.test');
    assert.equal(event.subject, 'o/7 x');
    assert.equal(event.tenant, 'acme');
    assert.deepEqual(event.data, { n: 1 });
    assert.equal(event.mgprotocol, 'http');
  }
});

async function problem(res: Response): Promise<Record<string, unknown>> {
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(body.status, res.status);
  assert.equal(body.type, `urn:meshgate:error:${body.code}`);
  return body;
}

test('refusals are RFC 9457 problem bodies with the MG_ERR code: missing attribute 400, bad ce- header 400, wrong media type 415, bad topic 400', async (t) => {
  const node = await startTestNode(t);
  const missing = await fetch(url(node, 'a.b'), { method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-type': 't' }, body: 'x' });
  assert.equal(missing.status, 400);
  const m = await problem(missing);
  assert.equal(m.code, 'MG_ERR_EVENT_INVALID');
  assert.equal(m.detail, 'source: is required');
  const bad = await fetch(url(node, 'a.b'), { method: 'POST', headers: { ...BINARY_HEADERS, 'ce-subject': 'over%C0%A0long' }, body: 'x' });
  assert.equal(bad.status, 400);
  assert.match((await problem(bad)).detail as string, /^subject: header ce-subject is not valid percent-encoded UTF-8/);
  const xml = await fetch(url(node, 'a.b'), { method: 'POST', headers: { 'content-type': 'application/cloudevents+xml' }, body: '<event/>' });
  assert.equal(xml.status, 415);
  assert.equal((await problem(xml)).code, 'MG_ERR_HTTP_MEDIA_TYPE');
  const wildcard = await fetch(url(node, 'a.*'), { method: 'POST', headers: BINARY_HEADERS, body: 'x' });
  assert.equal(wildcard.status, 400);
  assert.match((await problem(wildcard)).code as string, /^MG_ERR_TOPIC_/);
  assert.equal((node.node.metrics.snapshot().meshgate_events_rejected_total as Record<string, number>)['code=MG_ERR_HTTP_MEDIA_TYPE'], 1);
});

test('a body over limits.maxFrameBytes is refused with 413 MG_ERR_EVENT_TOO_LARGE, by Content-Length and, when chunked, as the count passes', async (t) => {
  const node = await startTestNode(t, { limits: { maxFrameBytes: 4096 } });
  const declared = await fetch(url(node, 'a.b'), { method: 'POST', headers: BINARY_HEADERS, body: 'x'.repeat(5000) });
  assert.equal(declared.status, 413);
  assert.equal((await problem(declared)).code, 'MG_ERR_EVENT_TOO_LARGE');
  // A chunked body that never ends: the answer comes once 4096 bytes have passed, not at the end.
  const socket = net.connect(node.port, '127.0.0.1');
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  socket.write(`POST /v1/events/a.b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nce-specversion: 1.0\r\n\r\n`);
  const chunk = 'y'.repeat(1000);
  let answer = '';
  socket.on('data', (d) => (answer += d));
  for (let i = 0; i < 6; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
  await once(socket, 'close');
  assert.match(answer, /^HTTP\/1\.1 413 /);
  assert.match(answer, /MG_ERR_EVENT_TOO_LARGE/);
});

test('two pipelined POSTs on one TCP socket are answered in order', async (t) => {
  const node = await startTestNode(t);
  const socket = net.connect(node.port, '127.0.0.1');
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  const post = (id: string, body: string) =>
    `POST /v1/events/p.q HTTP/1.1\r\nHost: x\r\nce-specversion: 1.0\r\nce-id: ${id}\r\nce-source: /s\r\nce-type: t\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  let answer = '';
  const both = new Promise<void>((resolve) =>
    socket.on('data', (d) => {
      answer += d;
      if ((answer.match(/"duplicate"/g) ?? []).length === 2) resolve();
    }),
  );
  socket.write(post('first', 'aaaa') + post('second', 'bb'));
  await both;
  const first = answer.indexOf('"id":"first"');
  const second = answer.indexOf('"id":"second"');
  assert.ok(first > 0 && second > first, answer);
  assert.equal((answer.match(/HTTP\/1\.1 202 Accepted/g) ?? []).length, 2);
});

test('auth: no token 401, a token without publish rights on the topic 403, a permitted one 202 (header or token query)', async (t) => {
  const node = await startTestNode(t, { auth: { jwt: { secret: SECRET } } });
  const tok = signHs256({ sub: 'pub', exp: Math.floor(Date.now() / 1000) + 600, perms: { pub: ['orders.>'], sub: [] } }, SECRET);
  const none = await fetch(url(node, 'orders.eu'), { method: 'POST', headers: BINARY_HEADERS, body: 'x' });
  assert.equal(none.status, 401);
  assert.equal((await problem(none)).code, 'MG_ERR_AUTH_REQUIRED');
  const forbidden = await fetch(url(node, 'billing.eu'), { method: 'POST', headers: { ...BINARY_HEADERS, authorization: `Bearer ${tok}` }, body: 'x' });
  assert.equal(forbidden.status, 403);
  assert.equal((await problem(forbidden)).code, 'MG_ERR_AUTH_FORBIDDEN');
  const ok = await fetch(url(node, 'orders.eu'), { method: 'POST', headers: { ...BINARY_HEADERS, authorization: `Bearer ${tok}` }, body: 'x' });
  assert.equal(ok.status, 202);
  const query = await fetch(`${url(node, 'orders.eu')}?token=${tok}`, { method: 'POST', headers: { ...BINARY_HEADERS, 'ce-id': 'q' }, body: 'x' });
  assert.equal(query.status, 202);
});

test('curl publishes in binary mode and gets 202; curl with a missing attribute gets 400 with the code', async (t) => {
  const node = await startTestNode(t);
  const sub = await subscriber(t, node, 'curl.>');
  const ok = await run('curl', [
    '-s',
    '-w',
    '\n%{http_code}',
    '-X',
    'POST',
    url(node, 'curl.x'),
    '-H',
    'ce-specversion: 1.0',
    '-H',
    'ce-id: c1',
    '-H',
    'ce-source: /curl',
    '-H',
    'ce-type: t',
    '-H',
    'content-type: text/plain',
    '-d',
    'hello',
  ]);
  assert.equal(ok.stdout.trim().split('\n').pop(), '202');
  const event = await eventNamed(sub, 'c1');
  assert.equal(event.data, 'hello');
  const bad = await run('curl', ['-s', '-w', '\n%{http_code}', '-X', 'POST', url(node, 'curl.x'), '-H', 'ce-id: c2', '-d', 'x']);
  const lines = bad.stdout.trim().split('\n');
  assert.equal(lines.pop(), '400');
  assert.equal(JSON.parse(lines.join('\n')).code, 'MG_ERR_EVENT_INVALID');
});

test('an event failing the schema bound to its topic is refused with 422 MG_ERR_EVENT_SCHEMA and its reasons, and dead-lettered to _mg.deadletter.<topic>', async (t) => {
  const node = await startTestNode(t);
  const registered = await fetch(`${node.httpUrl}/v1/schemas/subjects/orders/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema: ORDER, topics: ['orders.>'] }),
  });
  assert.equal(registered.status, 200);
  const letters = await subscriber(t, node, '_mg.deadletter.>');
  const res = await fetch(url(node, 'orders.eu'), {
    method: 'POST',
    headers: { ...BINARY_HEADERS, 'ce-id': 'bad-order', 'content-type': 'application/json' },
    body: JSON.stringify(INVALID),
  });
  assert.equal(res.status, 422);
  const body = await problem(res);
  assert.equal(body.code, 'MG_ERR_EVENT_SCHEMA');
  assert.deepEqual(body.reasons, INVALID_REASONS);
  const letter = await letters.waitFor((f) => f.op === 'event');
  assert.equal(letter.topic, '_mg.deadletter.orders.eu');
  const data = (letter.event as { data: { event: Record<string, unknown>; reasons: unknown } }).data;
  assert.equal(data.event.id, 'bad-order');
  assert.deepEqual(data.reasons, INVALID_REASONS);
  assert.equal((node.node.metrics.snapshot().meshgate_events_rejected_total as Record<string, number>)['code=MG_ERR_EVENT_SCHEMA'], 1);
});

test('an open SSE stream holds one of limits.maxConnectionsPerIp: past it a POST is refused with 429 MG_ERR_CONN_LIMIT, counted', async (t) => {
  const node = await startTestNode(t, { limits: { maxConnectionsPerIp: 1 } });
  const stream = new AbortController();
  t.after(() => stream.abort());
  const sse = await fetch(`${node.httpUrl}/v1/sse/${encodeURIComponent('orders.>')}`, { signal: stream.signal });
  assert.equal(sse.status, 200);
  const res = await fetch(url(node, 'orders.eu'), { method: 'POST', headers: BINARY_HEADERS, body: 'x' });
  assert.equal(res.status, 429);
  assert.equal((await problem(res)).code, 'MG_ERR_CONN_LIMIT');
  assert.equal((node.node.metrics.snapshot().meshgate_events_rejected_total as Record<string, number>)['code=MG_ERR_CONN_LIMIT'], 1);
});

test('each request takes a limits.connectionRatePerIp token: past the burst a POST is refused with 429 MG_ERR_CONN_RATE, counted', async (t) => {
  const node = await startTestNode(t, { limits: { connectionRatePerIp: 0.001, connectionBurstPerIp: 2 } });
  for (const id of ['r1', 'r2']) {
    const ok = await fetch(url(node, 'orders.eu'), { method: 'POST', headers: { ...BINARY_HEADERS, 'ce-id': id }, body: 'x' });
    assert.equal(ok.status, 202, id);
  }
  const res = await fetch(url(node, 'orders.eu'), { method: 'POST', headers: { ...BINARY_HEADERS, 'ce-id': 'r3' }, body: 'x' });
  assert.equal(res.status, 429);
  assert.equal((await problem(res)).code, 'MG_ERR_CONN_RATE');
  assert.equal((node.node.metrics.snapshot().meshgate_events_rejected_total as Record<string, number>)['code=MG_ERR_CONN_RATE'], 1);
});
