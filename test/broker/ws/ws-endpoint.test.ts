import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import WebSocket from 'ws';
import { filterMatches } from '../../../routing/mod.js';
import { ce, type FrameClient, openClient, startTestNode } from '../../helpers/node.js';

async function subscribe(c: FrameClient, filter: string): Promise<void> {
  const reply = await c.request({ op: 'sub', filter });
  assert.equal(reply.op, 'ok', JSON.stringify(reply));
}

/** A ping round trip: every frame the node sent this client before it has arrived. */
async function barrier(c: FrameClient): Promise<void> {
  const reply = await c.request({ op: 'ping' });
  assert.equal(reply.op, 'pong');
}

test('a client receives a hello frame naming the node, its region and its limits', async (t) => {
  const node = await startTestNode(t);
  const c = await openClient(t, node.wsUrl);
  const hello = c.frames[0];
  assert.equal(hello.op, 'hello');
  assert.equal(hello.node, 'test-node');
  assert.equal(hello.region, 'test');
  assert.equal(typeof (hello.limits as Record<string, number>).maxFrameBytes, 'number');
});

test('wildcard subscriptions fan out each event exactly once to every matching subscriber', async (t) => {
  const node = await startTestNode(t);
  const filters = ['db.>', 'db.orders.*', 'db.*.insert', 'db.orders.insert', '>', 'db.customers.>', 'other.*', 'db.*'];
  const subs: Array<{ c: FrameClient; filter: string }> = [];
  for (let i = 0; i < 40; i++) {
    const filter = filters[i % filters.length];
    const c = await openClient(t, node.wsUrl, i % 2 === 0 ? 'json' : 'cbor');
    await subscribe(c, filter);
    subs.push({ c, filter });
  }
  const pub = await openClient(t, node.wsUrl);
  const topics = ['db.orders.insert', 'db.orders.update', 'db.customers.insert', 'db.customers', 'other.x', 'unrelated'];
  for (const [i, topic] of topics.entries()) {
    const ack = await pub.request({ op: 'pub', topic, event: ce(`e${i}`, { data: { n: i } }) });
    assert.equal(ack.op, 'ok');
  }
  for (const { c, filter } of subs) {
    await barrier(c);
    const got = c.events().map((e) => e.topic);
    const want = topics.filter((topic) => filterMatches(filter, topic));
    assert.deepEqual(got, want, `subscriber of ${filter}`);
  }
});

test('one connection holding overlapping filters receives each event once', async (t) => {
  const node = await startTestNode(t);
  const c = await openClient(t, node.wsUrl);
  await subscribe(c, 'a.*');
  await subscribe(c, 'a.>');
  await subscribe(c, 'a.b');
  const pub = await openClient(t, node.wsUrl);
  await pub.request({ op: 'pub', topic: 'a.b', event: ce('1') });
  await barrier(c);
  assert.equal(c.events().length, 1);
});

test('unsubscribe stops delivery; unsubscribing an unknown filter is MG_ERR_SUB_UNKNOWN', async (t) => {
  const node = await startTestNode(t);
  const c = await openClient(t, node.wsUrl);
  const pub = await openClient(t, node.wsUrl);
  await subscribe(c, 'x.>');
  await pub.request({ op: 'pub', topic: 'x.1', event: ce('1') });
  assert.equal((await c.request({ op: 'unsub', filter: 'x.>' })).op, 'ok');
  await pub.request({ op: 'pub', topic: 'x.2', event: ce('2') });
  await barrier(c);
  assert.deepEqual(
    c.events().map((e) => e.topic),
    ['x.1'],
  );
  const again = await c.request({ op: 'unsub', filter: 'x.>' });
  assert.equal(again.code, 'MG_ERR_SUB_UNKNOWN');
});

test('a duplicate publish (same source and id) is acked as duplicate and delivered once', async (t) => {
  const node = await startTestNode(t);
  const sub = await openClient(t, node.wsUrl);
  await subscribe(sub, 'orders');
  const pub = await openClient(t, node.wsUrl);
  const first = await pub.request({ op: 'pub', topic: 'orders', event: ce('same', { data: 1 }) });
  const second = await pub.request({ op: 'pub', topic: 'orders', event: ce('same', { data: 1 }) });
  const otherSource = await pub.request({ op: 'pub', topic: 'orders', event: ce('same', { source: 'elsewhere' }) });
  assert.equal(first.duplicate, undefined);
  assert.equal(second.duplicate, true);
  assert.equal(otherSource.duplicate, undefined);
  await barrier(sub);
  assert.equal(sub.events().length, 2);
  assert.equal(node.node.metrics.snapshot().meshgate_events_duplicate_total, 1);
});

test('auth off: a client publishing to _mg.deadletter.x or _mg.sys.x gets MG_ERR_TOPIC_RESERVED, counted, and subscribers there receive nothing forged', async (t) => {
  const node = await startTestNode(t);
  const watcher = await openClient(t, node.wsUrl);
  await subscribe(watcher, '_mg.deadletter.>');
  await subscribe(watcher, '_mg.sys.>');
  await subscribe(watcher, '_mg.>');
  const pub = await openClient(t, node.wsUrl);
  const forged = ce('forged', { type: 'meshgate.deadletter', source: 'meshgate://test-node', datacontenttype: 'application/json', data: { reasons: [] } });
  for (const topic of ['_mg.deadletter.x', '_mg.sys.x', '_mg.sys.mesh.test-node']) {
    const reply = await pub.request({ op: 'pub', topic, event: forged });
    assert.equal(reply.op, 'err', topic);
    assert.equal(reply.code, 'MG_ERR_TOPIC_RESERVED', topic);
  }
  // In a batch only the reserved items are refused; other _mg. topics are not the node's alone.
  pub.send({
    op: 'pubs',
    ref: 'b',
    items: [
      { topic: '_mg.deadletter.y', event: ce('forged-b') },
      { topic: '_mg.other.x', event: ce('allowed') },
    ],
  });
  assert.equal((await pub.waitFor((f) => f.ref === 'b' && f.op === 'err')).code, 'MG_ERR_TOPIC_RESERVED');
  assert.equal((await pub.waitFor((f) => f.ref === 'b' && f.op === 'ok')).accepted, 1);
  // The CloudEvents binding has no error frame: the refusal closes the socket.
  const socket = new WebSocket(`ws://127.0.0.1:${node.port}/v1/ce/_mg.deadletter.x`, 'cloudevents.json');
  t.after(() => socket.terminate());
  await once(socket, 'open');
  const closed = once(socket, 'close');
  socket.send(JSON.stringify(forged));
  const [code, reason] = (await closed) as [number, Buffer];
  assert.equal(code, 1008);
  assert.match(reason.toString(), /^MG_ERR_TOPIC_RESERVED: /);
  await watcher.waitFor((f) => f.op === 'event');
  await barrier(watcher);
  assert.deepEqual(
    watcher.events().map((f) => f.topic),
    ['_mg.other.x'],
  );
  const rejected = node.node.metrics.snapshot().meshgate_events_rejected_total as Record<string, number>;
  assert.equal(rejected['code=MG_ERR_TOPIC_RESERVED'], 5);
});

test('a publish without ref gets no ack, and its failure still reports an error frame', async (t) => {
  const node = await startTestNode(t);
  const c = await openClient(t, node.wsUrl);
  c.send({ op: 'pub', topic: 'ok.topic', event: ce('1') });
  c.send({ op: 'pub', topic: 'bad..topic', event: ce('2') });
  const err = await c.waitFor((f) => f.op === 'err');
  assert.equal(err.code, 'MG_ERR_TOPIC_INVALID');
  assert.equal(err.ref, undefined);
  assert.equal(c.frames.filter((f) => f.op === 'ok').length, 0);
});

test('each bad request gets an error frame with its stable code, and the connection keeps working', async (t) => {
  const node = await startTestNode(t, { limits: { maxSubscriptionsPerConnection: 2, topic: { maxLength: 32 } } });
  const c = await openClient(t, node.wsUrl);
  c.socket.send('{not json');
  assert.equal((await c.waitFor((f) => f.op === 'err')).code, 'MG_ERR_FRAME_MALFORMED');
  c.socket.send('[1,2]');
  await c.waitFor((f) => f.op === 'err' && c.frames.filter((x) => x.op === 'err').length === 2);
  const cases: Array<[Record<string, unknown>, string, RegExp?]> = [
    [{ op: 'bogus' }, 'MG_ERR_FRAME_UNKNOWN_OP'],
    [{ op: 'sub' }, 'MG_ERR_FRAME_MALFORMED'],
    [{ op: 'pub', topic: 'a', event: { specversion: '1.0', source: 's', type: 't' } }, 'MG_ERR_EVENT_INVALID', /^id:/],
    [{ op: 'pub', topic: 'a', event: ce('x', { specversion: '0.3' }) }, 'MG_ERR_EVENT_INVALID', /^specversion:/],
    [{ op: 'pub', topic: 'a', event: 'nope' }, 'MG_ERR_FRAME_MALFORMED'],
    [{ op: 'pub', topic: 'a.*', event: ce('w') }, 'MG_ERR_TOPIC_INVALID'],
    [{ op: 'pub', topic: 'a'.repeat(40), event: ce('long') }, 'MG_ERR_TOPIC_LIMIT'],
    [{ op: 'sub', filter: 'a.>.b' }, 'MG_ERR_TOPIC_INVALID'],
    [{ op: 'sub', filter: 'b'.repeat(40) }, 'MG_ERR_TOPIC_LIMIT'],
  ];
  for (const [frame, code, message] of cases) {
    const reply = await c.request(frame);
    assert.equal(reply.op, 'err', JSON.stringify(frame));
    assert.equal(reply.code, code, JSON.stringify(frame));
    if (message) assert.match(reply.message as string, message);
  }
  await subscribe(c, 's.1');
  await subscribe(c, 's.2');
  assert.equal((await c.request({ op: 'sub', filter: 's.3' })).code, 'MG_ERR_SUB_LIMIT');
  // Still serving: a valid publish is acked and delivered.
  const ok = await c.request({ op: 'pub', topic: 's.1', event: ce('fine') });
  assert.equal(ok.op, 'ok');
  await c.waitFor((f) => f.op === 'event');
  const rejected = node.node.metrics.snapshot().meshgate_events_rejected_total as Record<string, number>;
  assert.equal(rejected['code=MG_ERR_FRAME_MALFORMED'], 4);
  assert.equal(rejected['code=MG_ERR_EVENT_INVALID'], 2);
  assert.equal(rejected['code=MG_ERR_SUB_LIMIT'], 1);
});

test('a binary frame on the JSON protocol closes with 1003; other clients are unaffected', async (t) => {
  const node = await startTestNode(t);
  const bystander = await openClient(t, node.wsUrl);
  await subscribe(bystander, 'z');
  const c = await openClient(t, node.wsUrl);
  c.socket.send(Buffer.from([1, 2, 3]));
  assert.equal((await c.closed).code, 1003);
  const pub = await openClient(t, node.wsUrl);
  await pub.request({ op: 'pub', topic: 'z', event: ce('after') });
  await bystander.waitFor((f) => f.op === 'event');
});

test('a frame over maxFrameBytes closes with 1009 and is counted', async (t) => {
  const node = await startTestNode(t, { limits: { maxFrameBytes: 4096 } });
  const c = await openClient(t, node.wsUrl);
  c.send({ op: 'pub', topic: 'big', event: ce('big', { data: 'x'.repeat(8000), datacontenttype: 'text/plain' }) });
  assert.equal((await c.closed).code, 1009);
  const other = await openClient(t, node.wsUrl);
  assert.equal((await other.request({ op: 'ping' })).op, 'pong');
  assert.equal(node.node.metrics.snapshot().meshgate_frames_too_large_total, 1);
});

test('event data over maxEventBytes closes with 1009 and MG_ERR_EVENT_TOO_LARGE', async (t) => {
  const node = await startTestNode(t, { limits: { maxEventBytes: 100 } });
  const c = await openClient(t, node.wsUrl);
  c.send({ op: 'pub', topic: 'big', event: ce('big', { data: 'y'.repeat(200), datacontenttype: 'text/plain' }) });
  const closed = await c.closed;
  assert.equal(closed.code, 1009);
  assert.match(closed.reason, /MG_ERR_EVENT_TOO_LARGE/);
  const rejected = node.node.metrics.snapshot().meshgate_events_rejected_total as Record<string, number>;
  assert.equal(rejected['code=MG_ERR_EVENT_TOO_LARGE'], 1);
});

test('the CBOR flavour carries binary data byte-identical both ways', async (t) => {
  const node = await startTestNode(t);
  const sub = await openClient(t, node.wsUrl, 'cbor');
  await subscribe(sub, 'bin.>');
  const jsonSub = await openClient(t, node.wsUrl, 'json');
  await subscribe(jsonSub, 'bin.>');
  const pub = await openClient(t, node.wsUrl, 'cbor');
  const bytes = new Uint8Array(256).map((_, i) => (i * 7) & 0xff);
  const ack = await pub.request({ op: 'pub', topic: 'bin.x', event: { ...ce('b1'), datacontenttype: 'application/octet-stream', data: bytes } });
  assert.equal(ack.op, 'ok');
  const got = await sub.waitFor((f) => f.op === 'event');
  const event = got.event as Record<string, unknown>;
  assert.deepEqual(new Uint8Array(event.data as Uint8Array), bytes);
  assert.equal(event.datacontenttype, 'application/octet-stream');
  const viaJson = (await jsonSub.waitFor((f) => f.op === 'event')).event as Record<string, unknown>;
  assert.deepEqual(new Uint8Array(Buffer.from(viaJson.data_base64 as string, 'base64')), bytes);
});

test('JSON data keeps the producer bytes exactly, whitespace included', async (t) => {
  const node = await startTestNode(t);
  const sub = await openClient(t, node.wsUrl);
  await subscribe(sub, 'j');
  const raw: string[] = [];
  sub.socket.on('message', (m: Buffer) => raw.push(m.toString()));
  const pub = await openClient(t, node.wsUrl);
  pub.socket.send('{"op":"pub","ref":1,"topic":"j","event":{"specversion":"1.0","id":"w","source":"s","type":"t","data": { "a" : 1.50, "b":[ true ] } }}');
  await pub.waitFor((f) => f.ref === 1);
  await sub.waitFor((f) => f.op === 'event');
  assert.match(raw.find((r) => r.includes('"op":"events"'))!, /"data":\{ "a" : 1\.50, "b":\[ true \] \}/);
});

test('XML data arrives as a string on /v1/ws and /v1/ce/, and XML bytes that are not UTF-8 arrive as identical data_base64', async (t) => {
  const node = await startTestNode(t);
  const sub = await openClient(t, node.wsUrl);
  await subscribe(sub, 'xml.>');
  const binding = new WebSocket(`ws://127.0.0.1:${node.port}/v1/ce/${encodeURIComponent('xml.>')}`, 'cloudevents.json');
  t.after(() => binding.terminate());
  await once(binding, 'open');
  const viaBinding: Array<Record<string, unknown>> = [];
  binding.on('message', (m: Buffer) => viaBinding.push(JSON.parse(m.toString()) as Record<string, unknown>));

  const pub = await openClient(t, node.wsUrl);
  const text = '<a>ü</a>';
  assert.equal((await pub.request({ op: 'pub', topic: 'xml.text', event: ce('x1', { datacontenttype: 'application/xml', data: text }) })).op, 'ok');
  const latin1 = Buffer.from('<a>\xfc</a>', 'latin1'); // 0xfc alone is not UTF-8
  assert.equal(
    (await pub.request({ op: 'pub', topic: 'xml.latin1', event: ce('x2', { datacontenttype: 'application/xml', data_base64: latin1.toString('base64') }) })).op,
    'ok',
  );

  await sub.waitFor((f) => f.op === 'event' && (f.event as Record<string, unknown>).id === 'x2');
  const [wsText, wsBytes] = sub.events().map((e) => e.event as Record<string, unknown>);
  while (viaBinding.length < 2) await once(binding, 'message');
  for (const [where, got] of [
    ['/v1/ws', wsText],
    ['/v1/ce/', viaBinding[0]],
  ] as const) {
    assert.equal(got.data, text, where);
    assert.equal(got.data_base64, undefined, where);
  }
  for (const [where, got] of [
    ['/v1/ws', wsBytes],
    ['/v1/ce/', viaBinding[1]],
  ] as const) {
    assert.equal(got.data, undefined, where);
    assert.deepEqual(Buffer.from(got.data_base64 as string, 'base64'), latin1, where);
  }
});

test('provenance set by a client is replaced by the node', async (t) => {
  const node = await startTestNode(t);
  const sub = await openClient(t, node.wsUrl);
  await subscribe(sub, 'p');
  const pub = await openClient(t, node.wsUrl);
  await pub.request({ op: 'pub', topic: 'p', event: ce('forged', { mgorigin: 'evil', mghops: 'evil@x@1', mgprotocol: 'mqtt' }) });
  const event = (await sub.waitFor((f) => f.op === 'event')).event as Record<string, unknown>;
  assert.equal(event.mgorigin, 'test-node');
  assert.equal(event.mgprotocol, 'ws');
  assert.equal(event.mgtopic, 'p');
  assert.match(event.mghops as string, /^test-node@test@\d+$/);
});

test('a slow subscriber is closed with 1008 past maxBufferedBytes while a healthy one keeps receiving', async (t) => {
  const node = await startTestNode(t, { limits: { maxBufferedBytes: 64 * 1024 } });
  const slow = await openClient(t, node.wsUrl);
  await subscribe(slow, 'load.>');
  const healthy = await openClient(t, node.wsUrl);
  await subscribe(healthy, 'load.>');
  // Stop reading: the kernel buffers fill, then uWS buffers, then our limit trips.
  (slow.socket as unknown as { _socket: import('node:net').Socket })._socket.pause();
  const pub = await openClient(t, node.wsUrl);
  // Loopback socket buffers absorb several MB, so send well past them.
  const payload = 'p'.repeat(4096);
  const total = 4000;
  for (let i = 0; i < total; i++) pub.send({ op: 'pub', topic: 'load.x', event: ce(`e${i}`, { datacontenttype: 'text/plain', data: payload }) });
  await pub.request({ op: 'ping' });
  await healthy.waitFor((f) => f.op === 'event' && (f.event as Record<string, unknown>).id === `e${total - 1}`);
  assert.equal(healthy.events().length, total);
  assert.deepEqual(node.node.metrics.snapshot().meshgate_slow_consumer_closes_total, { 'limit=socket': 1, 'limit=node': 0 });
  (slow.socket as unknown as { _socket: import('node:net').Socket })._socket.resume();
  const closed = await slow.closed;
  assert.equal(closed.code, 1008);
  assert.equal(closed.reason, 'MG_ERR_SLOW_CONSUMER');
});

test('the CloudEvents binding endpoint streams plain structured events for the filter in its path', async (t) => {
  const node = await startTestNode(t);
  const url = `ws://127.0.0.1:${node.port}/v1/ce/${encodeURIComponent('db.>')}`;
  const socket = new WebSocket(url, 'cloudevents.json');
  t.after(() => socket.terminate());
  await once(socket, 'open');
  assert.equal(socket.protocol, 'cloudevents.json');
  const received = once(socket, 'message');
  const pub = await openClient(t, node.wsUrl);
  await pub.request({ op: 'pub', topic: 'db.orders', event: ce('c1', { data: { a: 1 } }) });
  const [raw] = (await received) as [Buffer];
  const event = JSON.parse(raw.toString()) as Record<string, unknown>;
  assert.equal(event.id, 'c1');
  assert.equal(event.specversion, '1.0');
  assert.deepEqual(event.data, { a: 1 });
  assert.equal(event.op, undefined);
});

test('the CloudEvents binding accepts events on a concrete topic path and closes 1007 on an invalid one', async (t) => {
  const node = await startTestNode(t);
  const sub = await openClient(t, node.wsUrl);
  await subscribe(sub, 'ce.in');
  const socket = new WebSocket(`ws://127.0.0.1:${node.port}/v1/ce/ce.in`, 'cloudevents.json');
  t.after(() => socket.terminate());
  await once(socket, 'open');
  socket.send(JSON.stringify(ce('via-binding', { data: 'hi', datacontenttype: 'text/plain' })));
  const got = await sub.waitFor((f) => f.op === 'event');
  assert.equal((got.event as Record<string, unknown>).id, 'via-binding');
  const closed = once(socket, 'close');
  socket.send(JSON.stringify({ id: 'no-source' }));
  const [code, reason] = (await closed) as [number, Buffer];
  assert.equal(code, 1007);
  assert.match(reason.toString(), /^MG_ERR_EVENT_INVALID/);
});

test('a close reason over 123 bytes of non-ASCII text is cut on a character boundary: the client still gets the code', async (t) => {
  const node = await startTestNode(t);
  const socket = new WebSocket(`ws://127.0.0.1:${node.port}/v1/ce/ce.in`, 'cloudevents.json');
  t.after(() => socket.terminate());
  await once(socket, 'open');
  // The refusal names the bad attribute: 80 two-byte characters, 160 bytes.
  const name = 'é'.repeat(80);
  const closed = once(socket, 'close');
  socket.send(JSON.stringify({ ...ce('long-name'), [name]: 'x' }));
  const [code, reason] = (await closed) as [number, Buffer];
  assert.equal(code, 1007, 'a reason cut inside a character is invalid UTF-8: the client would see 1006');
  assert.ok(reason.byteLength <= 123);
  assert.match(reason.toString('utf8'), /^MG_ERR_EVENT_INVALID: é+$/);
});

test('the CloudEvents binding refuses an upgrade without its subprotocol with HTTP 400', async (t) => {
  const node = await startTestNode(t);
  const socket = new WebSocket(`ws://127.0.0.1:${node.port}/v1/ce/a`);
  socket.on('error', () => undefined);
  const [, res] = (await once(socket, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
  assert.equal(res.statusCode, 400);
  socket.terminate();
});

test('events for one connection in one loop turn arrive as one batch frame, in order', async (t) => {
  const node = await startTestNode(t);
  const sub = await openClient(t, node.wsUrl, 'cbor');
  await subscribe(sub, 'burst.>');
  const pub = await openClient(t, node.wsUrl, 'cbor');
  const total = 500;
  for (let i = 0; i < total; i++) pub.send({ op: 'pub', topic: 'burst.x', event: ce(`b${i}`) });
  await pub.request({ op: 'ping' });
  await sub.waitFor(() => sub.events().length === total);
  assert.deepEqual(
    sub.events().map((e) => (e.event as Record<string, unknown>).id),
    Array.from({ length: total }, (_, i) => `b${i}`),
  );
  assert.ok(sub.batches < total / 4, `${total} events came in ${sub.batches} frames`);
});

for (const flavour of ['json', 'cbor'] as const) {
  test(`pubs (${flavour}) publishes a batch with one ack; a bad item gets an err with its index, the rest go through`, async (t) => {
    const node = await startTestNode(t);
    const sub = await openClient(t, node.wsUrl, flavour);
    await subscribe(sub, 'batch.>');
    const pub = await openClient(t, node.wsUrl, flavour);
    // CBOR carries data as bytes or text, so both flavours send text.
    const text = { datacontenttype: 'text/plain', data: 'one' };
    const items = [
      { topic: 'batch.a', event: ce('p1', text) },
      { topic: 'batch..bad', event: ce('p2') },
      { topic: 'batch.b', event: { specversion: '1.0', source: 's', type: 't' } },
      { topic: 'batch.c', event: ce('p4', text) },
      { topic: 'batch.a', event: ce('p1', text) },
    ];
    pub.send({ op: 'pubs', items, ref: 'r1' });
    const ok = await pub.waitFor((f) => f.op === 'ok' && f.ref === 'r1');
    assert.equal(ok.accepted, 3);
    assert.equal(ok.duplicates, 1);
    const errs = pub.frames.filter((f) => f.op === 'err' && f.ref === 'r1');
    assert.deepEqual(
      errs.map((e) => [e.index, e.code]),
      [
        [1, 'MG_ERR_TOPIC_INVALID'],
        [2, 'MG_ERR_EVENT_INVALID'],
      ],
    );
    await barrier(sub);
    assert.deepEqual(
      sub.events().map((e) => (e.event as Record<string, unknown>).id),
      ['p1', 'p4'],
    );
  });
}

test("pubs in JSON keeps each item's data bytes exactly as sent", async (t) => {
  const node = await startTestNode(t);
  const sub = await openClient(t, node.wsUrl);
  await subscribe(sub, 'raw');
  const raw: string[] = [];
  sub.socket.on('message', (m: Buffer) => raw.push(m.toString()));
  const pub = await openClient(t, node.wsUrl);
  pub.socket.send(
    '{"op":"pubs","ref":9,"items":[ {"topic":"raw","event":{"specversion":"1.0","id":"i1","source":"s","type":"t","data": [1,  2]}} , {"event":{"specversion":"1.0","id":"i2","source":"s","type":"t","data":{ "k" :"v" }},"topic":"raw"} ]}',
  );
  await pub.waitFor((f) => f.ref === 9);
  await sub.waitFor(() => sub.events().length === 2);
  const text = raw.join('\n');
  assert.match(text, /"data":\[1, {2}2\]/);
  assert.match(text, /"data":\{ "k" :"v" \}/);
});
