/**
 * AMQP 0-9-1 imports whose `cloudEvents_*` headers carry typed field-table
 * values, as the CloudEvents AMQP binding maps attribute types (§3.1.3.2:
 * Boolean boolean, Integer long, Binary binary, Timestamp timestamp) and
 * as pika sends a datetime: through a real RabbitMQ, published with
 * amqplib's typed values (`{ '!': 'timestamp', value: seconds }`, codec.js).
 * Whether the bridge acked or nacked is read on the broker: the bridge's
 * queue dead-letters (policy) to an exchange this test consumes, so a
 * nacked message shows up there and an acked one never does.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { findBinary, type RabbitMQHandle, startRabbitMQ } from '../helpers/brokers.js';
import { amqpChannel, bridgesSettled, Inbox, meshSubscriber, startBridgedNode, wsConsumer } from './bridge-harness.js';

const run = promisify(execFile);

let rmq: RabbitMQHandle;
before(async () => {
  rmq = await startRabbitMQ();
});
after(() => rmq?.stop());

const QUEUE = 'amqp-typed';
const DLX = 'mg-typed-dlx';

/** 2024-05-01T12:00:00Z */
const INSTANT_SECONDS = Date.UTC(2024, 4, 1, 12, 0, 0) / 1000;

test('typed AMQP header values (timestamp, long, byte, boolean, byte array) are read as their CloudEvents values and the message is acked', {
  timeout: 120_000,
}, async (t) => {
  const ctl = findBinary('rabbitmqctl', 'rabbitmq-server', ['/usr/lib/rabbitmq/bin/rabbitmqctl']);
  await run(ctl, ['-n', rmq.nodeName, '-q', 'set_policy', '--apply-to', 'queues', 'typed-dlx', `^${QUEUE}$`, JSON.stringify({ 'dead-letter-exchange': DLX })], {
    env: rmq.ctlEnv,
  });

  const ch = await amqpChannel(t, rmq.url);
  await ch.assertExchange(DLX, 'fanout', { durable: false });
  const dlq = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(dlq.queue, DLX, '');
  const deadLetters = new Inbox<string>();
  await ch.consume(dlq.queue, (msg) => msg !== null && deadLetters.push(String(msg.properties.messageId)), { noAck: true });

  const n = await startBridgedNode(t, [
    { type: 'amqp', name: 'amqp-typed', url: rmq.url, queue: QUEUE, import: [{ broker: 'ty.#', mesh: 'ty.>', always: true }], export: [] },
  ]);
  const sub = meshSubscriber(n.running, 'ty.>');
  const ws = await wsConsumer(t, n.running, 'ty.>');
  await bridgesSettled(n);

  const base = { cloudEvents_specversion: '1.0', cloudEvents_source: '/pika', cloudEvents_type: 'com.example.typed' };
  ch.publish('amq.topic', 'ty.ok', Buffer.from('{"a":1}'), {
    contentType: 'application/json',
    messageId: 'typed-1',
    headers: {
      ...base,
      cloudEvents_id: 'typed-1',
      cloudEvents_time: { '!': 'timestamp', value: INSTANT_SECONDS }, // field type T, as pika sends a datetime
      cloudEvents_count: { '!': 'long', value: 42 }, // l: the binding's Integer
      cloudEvents_small: { '!': 'byte', value: -7 }, // b
      cloudEvents_paid: true, // t
      cloudEvents_off: false,
      cloudEvents_seen: { '!': 'timestamp', value: 0 }, // a Timestamp-typed extension
      cloudEvents_blob: Buffer.from([0, 1, 2, 0xff]), // x: the binding's Binary
      cloudEvents_subject: Buffer.from('größe'), // x for a String attribute: its text
      cloudEvents_nothing: null, // V: unset
    },
  });
  // A value no CloudEvents type holds is refused, not dropped: nacked, so dead-lettered.
  ch.publish('amq.topic', 'ty.bad', Buffer.from('{}'), {
    contentType: 'application/json',
    messageId: 'typed-bad',
    headers: { ...base, cloudEvents_id: 'typed-bad', cloudEvents_price: { '!': 'decimal', value: { places: 2, digits: 1999 } } },
  });
  await ch.waitForConfirms();

  await sub.waitFor(1);
  const event = sub.items[0];
  assert.equal(event.id, 'typed-1');
  assert.deepEqual(event.attrs, {
    time: '2024-05-01T12:00:00Z',
    count: 42,
    small: -7,
    paid: true,
    off: false,
    seen: '1970-01-01T00:00:00Z',
    blob: 'AAEC/w==',
    subject: 'größe',
    datacontenttype: 'application/json',
  });
  assert.equal(Date.parse(event.attrs.time as string), INSTANT_SECONDS * 1000);
  assert.equal(Buffer.from(event.data!).toString(), '{"a":1}');
  // A /v1/ce/ consumer sees the same values; as CloudEvents strings ("Type System" canonical forms):
  await ws.waitFor(1);
  const seen = ws.items[0].attrs;
  assert.deepEqual(
    { time: seen.time, count: seen.count, small: seen.small, paid: seen.paid, off: seen.off, seen: seen.seen, blob: seen.blob, subject: seen.subject },
    { time: '2024-05-01T12:00:00Z', count: '42', small: '-7', paid: 'true', off: 'false', seen: '1970-01-01T00:00:00Z', blob: 'AAEC/w==', subject: 'größe' },
  );

  // The refused one was published after the good one on one channel, into one queue with one consumer:
  // once it is dead-lettered, the good one was settled before it, and an ack is the only settlement that leaves no dead letter.
  await deadLetters.waitFor(1);
  assert.deepEqual(deadLetters.items, ['typed-bad']);
  const status = n.bridges.bridges[0].status();
  assert.equal(status.imported, 1);
  assert.deepEqual(status.refused, { MG_ERR_EVENT_INVALID: 1 });
  assert.match(String(status.lastRefusal), /^MG_ERR_EVENT_INVALID: price: is an AMQP decimal/);
});
