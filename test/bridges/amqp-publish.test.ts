/**
 * The AMQP bridge's own publish path (bridges/amqp/publish-frames.ts,
 * confirm-publisher.ts): frames byte for byte as amqplib writes them,
 * refusals that append nothing, buffer lifetimes, and the batched path
 * in use with the amqplib we ship, confirmed by a real RabbitMQ.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import amqp from 'amqplib';
import { confirmPublisher, PublishFrameEncoder, type PublishProperties } from '../../bridges/amqp/internal.js';
import type { AttrValue } from '../../broker/mod.js';
import { startRabbitMQ } from '../helpers/brokers.js';
import { amqpConsumer, startBridgedNode, until } from './bridge-harness.js';

// amqplib's own encoders, the reference (not exported: reached by file path).
const require = createRequire(import.meta.url);
const lib = path.join(path.dirname(require.resolve('amqplib')), 'lib');
const defs = require(path.join(lib, 'defs.js')) as {
  BasicPublish: number;
  BasicProperties: number;
  encodeMethod(id: number, channel: number, fields: object): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: object): Buffer;
};
const { makeBodyFrame } = require(path.join(lib, 'frame.js')) as { makeBodyFrame(channel: number, payload: Buffer): Buffer };

/** What amqplib writes for channel.publish (connection.sendMessage): method, header, body split at frameMax - 8. */
function amqplibFrames(channel: number, frameMax: number, exchange: string, routingKey: string, body: Buffer, props: PublishProperties): Buffer {
  const parts = [
    defs.encodeMethod(defs.BasicPublish, channel, { exchange, routingKey, mandatory: false, immediate: false, ticket: 0 }),
    defs.encodeProperties(defs.BasicProperties, channel, body.length, props),
  ];
  for (let at = 0; at < body.length; at += frameMax - 8) parts.push(makeBodyFrame(channel, body.subarray(at, at + frameMax - 8)));
  return Buffer.concat(parts);
}

const HEADERS: Record<string, AttrValue> = {
  cloudEvents_specversion: '1.0',
  cloudEvents_id: 'ö-ü-€-𝄞',
  cloudEvents_source: 'x'.repeat(70), // past the JS copy loop: the native write
  cloudEvents_type: '',
  cloudEvents_flag: true,
  cloudEvents_off: false,
  cloudEvents_b: -128,
  cloudEvents_b2: 127,
  cloudEvents_s: 128,
  cloudEvents_s2: -32768,
  cloudEvents_i: 2_147_483_647,
  cloudEvents_i2: -2_147_483_648,
  cloudEvents_zero: 0,
};

test('PublishFrameEncoder writes the bytes amqplib writes, for binary, structured, empty and multi-frame bodies', () => {
  const frameMax = 4096;
  const cases: Array<[string, Buffer, PublishProperties]> = [
    ['bench.x', Buffer.from('42'), { headers: HEADERS, contentType: 'application/json', messageId: 'id-1', deliveryMode: 2 }],
    ['a.b.c', Buffer.from('{"specversion":"1.0"}'), { contentType: 'application/cloudevents+json', messageId: 'id-2', deliveryMode: 2 }],
    ['empty', Buffer.alloc(0), { headers: { cloudEvents_specversion: '1.0' }, messageId: 'id-3', deliveryMode: 2 }],
    ['big', Buffer.alloc(3 * frameMax + 5, 7), { headers: HEADERS, deliveryMode: 1 }],
    ['', Buffer.from('x'), {}],
  ];
  const enc = new PublishFrameEncoder(5, frameMax);
  for (const [key, body, props] of cases) {
    enc.append('amq.topic', key, body, props);
    assert.deepEqual(enc.take(), amqplibFrames(5, frameMax, 'amq.topic', key, body, props), key);
  }
  // Several messages in one take: the concatenation, in order.
  for (const [key, body, props] of cases) enc.append('ex', key, body, props);
  assert.deepEqual(enc.take(), Buffer.concat(cases.map(([key, body, props]) => amqplibFrames(5, frameMax, 'ex', key, body, props))));
  assert.equal(enc.take(), null);
});

test('PublishFrameEncoder refuses what AMQP 0-9-1 cannot carry, with a code, and appends nothing', () => {
  const enc = new PublishFrameEncoder(1, 4096);
  enc.append('ex', 'ok.1', Buffer.from('1'), { messageId: 'm1' });
  const before = enc.pendingBytes;
  const tooLarge = { name: 'PublishEncodeError', code: 'MG_ERR_EVENT_TOO_LARGE' };
  assert.throws(() => enc.append('ex', 'k', Buffer.from('2'), { messageId: 'm'.repeat(256) }), tooLarge); // shortstr limit
  assert.throws(() => enc.append('ex', 'k', Buffer.from('2'), { contentType: 'é'.repeat(128) }), tooLarge); // 256 UTF-8 bytes
  assert.throws(() => enc.append('ex', 'k'.repeat(300), Buffer.from('2'), {}), { name: 'PublishEncodeError', code: 'MG_ERR_TOPIC_LIMIT' });
  assert.throws(() => enc.append('ex', 'k', Buffer.from('2'), { headers: { big: 'v'.repeat(5000) } }), /frame_max 4096/); // one header frame over frameMax
  assert.equal(enc.pendingBytes, before);
  enc.append('ex', 'ok.2', Buffer.from('2'), { messageId: 'm2' });
  const msgs = [
    amqplibFrames(1, 4096, 'ex', 'ok.1', Buffer.from('1'), { messageId: 'm1' }),
    amqplibFrames(1, 4096, 'ex', 'ok.2', Buffer.from('2'), { messageId: 'm2' }),
  ];
  assert.deepEqual(enc.take(), Buffer.concat(msgs));
});

test('PublishFrameEncoder views stay intact while later messages fill and replace its slab', () => {
  const enc = new PublishFrameEncoder(1, 131_072);
  const body = Buffer.alloc(10_000, 1);
  const taken: Array<[Buffer, Buffer]> = [];
  for (let i = 0; i < 200; i++) {
    // A growing batch between takes: 1, 2, ... 9 messages, ~2 MB in all, past several slabs.
    for (let k = 0; k <= i % 9; k++) enc.append('ex', `t.${i}.${k}`, body, { messageId: `${i}-${k}` });
    const view = enc.take()!;
    taken.push([view, Buffer.from(view)]);
  }
  for (const [view, copy] of taken) assert.ok(view.equals(copy));
});

test('confirmPublisher batches on the shipped amqplib; RabbitMQ confirms each message and a consumer reads them as amqplib would have sent them', {
  timeout: 120_000,
}, async (t) => {
  const rmq = await startRabbitMQ();
  t.after(() => rmq.stop());
  const conn = await amqp.connect(rmq.url);
  t.after(() => conn.close().catch(() => undefined));
  const consumer = await conn.createChannel();
  const q = await consumer.assertQueue('', { exclusive: true });
  await consumer.bindQueue(q.queue, 'amq.topic', 'cp.#');
  const got: amqp.ConsumeMessage[] = [];
  await consumer.consume(q.queue, (m) => m !== null && got.push(m), { noAck: true });

  const ch = await conn.createConfirmChannel();
  const pub = confirmPublisher(ch);
  assert.equal(pub.batched, true, 'amqplib internals moved: the bridge fell back to one channel.publish per message');
  const confirms = await Promise.all(
    Array.from(
      { length: 3 },
      (_, i) =>
        new Promise<Error | null>((resolve) =>
          pub.publish(
            'amq.topic',
            `cp.${i}`,
            Buffer.from(String(i)),
            { headers: HEADERS, contentType: 'text/plain', messageId: `m${i}`, deliveryMode: 2 },
            resolve,
          ),
        ),
    ),
  );
  assert.deepEqual(confirms, [null, null, null]);
  while (got.length < 3) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(
    got.map((m) => [m.fields.routingKey, m.content.toString(), m.properties.messageId, m.properties.contentType, m.properties.deliveryMode]),
    [
      ['cp.0', '0', 'm0', 'text/plain', 2],
      ['cp.1', '1', 'm1', 'text/plain', 2],
      ['cp.2', '2', 'm2', 'text/plain', 2],
    ],
  );
  assert.deepEqual(got[0].properties.headers, HEADERS);

  // A channel closing with a batch queued, and one already closed: nothing is written after the close (RabbitMQ would
  // answer with a connection error), `stopped` is called, each callback fails and none reports a confirm.
  const doomed = await conn.createConfirmChannel();
  let stopped = 0;
  const late = confirmPublisher(doomed, () => stopped++);
  const queued = new Promise<Error | null>((resolve) => late.publish('amq.topic', 'cp.late', Buffer.from('x'), {}, resolve));
  await doomed.close();
  const after = new Promise<Error | null>((resolve) => late.publish('amq.topic', 'cp.later', Buffer.from('y'), {}, resolve));
  assert.ok((await queued) instanceof Error);
  assert.ok((await after) instanceof Error);
  assert.ok(stopped >= 1);
  // The connection is intact: the first channel still publishes and is confirmed.
  assert.equal(await new Promise<Error | null>((resolve) => pub.publish('amq.topic', 'cp.3', Buffer.from('3'), {}, resolve)), null);
  while (got.length < 4) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(
    got.map((m) => m.fields.routingKey),
    ['cp.0', 'cp.1', 'cp.2', 'cp.3'],
  );
});

test('an event AMQP cannot carry (a 300-byte id) is refused and counted, and the exports after it still flow', { timeout: 120_000 }, async (t) => {
  const rmq = await startRabbitMQ();
  t.after(() => rmq.stop());
  const n = await startBridgedNode(t, [
    { type: 'amqp', name: 'amqp-refuse', url: rmq.url, queue: 'amqp-refuse', import: [], export: [{ mesh: 'rf.>', broker: 'rf' }] },
  ]);
  await until('bridge up', () => n.bridges.bridges[0].state === 'up', 20_000);
  const inbox = await amqpConsumer(t, rmq.url, 'rf.#');
  const ingest = (id: string) =>
    n.running.node.ingest({ id, source: '/refuse', type: 't', topic: 'rf.x', data: Buffer.from('1'), attrs: {}, hops: [] }, 'ws', 'test');
  ingest('x'.repeat(300)); // message-id is a shortstr: at most 255 bytes
  ingest('after-1');
  ingest('after-2');
  // Held and re-sent, it would spin the event loop: this wait would never end.
  await inbox.waitFor(2, 20_000);
  assert.deepEqual(
    inbox.items.map((o) => o.attrs.id),
    ['after-1', 'after-2'],
  );
  // The consumer can see a message before the publisher has its confirm: exports count on the confirm.
  await until('both exports confirmed', () => n.bridges.bridges[0].status().exported === 2);
  const row = n.bridges.bridges[0].status();
  assert.deepEqual(row.refused, { MG_ERR_EVENT_TOO_LARGE: 1 });
  assert.equal(row.exported, 2);
  assert.equal(row.pending, 0);
});
