/**
 * How each broker client tells a refusal for good (a MeshError: counted,
 * never sent again) from a failure that may pass, without brokers: MQTT
 * PUBACK reason codes, the PUBLISH size checked against Maximum Packet
 * Size, RabbitMQ channel closes. The real-broker side is in
 * export-refusal.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorWithReasonCode } from 'mqtt';
import { generate } from 'mqtt-packet';
import { publishRefusal } from '../../bridges/amqp/internal.js';
import { exportRefusal, type PublishSizeProperties, pubackReasonCode, publishPacketBytes } from '../../bridges/mqtt/internal.js';
import { MeshError } from '../../broker/mod.js';

test('publishPacketBytes() matches the bytes mqtt-packet (MQTT.js) writes, for MQTT 5 and 3.1.1, across Remaining Length sizes', () => {
  const cases: Array<[string, number, PublishSizeProperties | undefined]> = [
    ['a', 0, undefined],
    ['a/b', 2, { contentType: 'text/plain' }],
    ['sensors/ü/€/𝄞', 10, { contentType: 'application/json', userProperties: { id: 'ö-1', source: '/s', specversion: '1.0', empty: '' } }],
    ['multi', 5, { userProperties: { k: ['v1', 'vv2', 'ü'] } }],
    ['x'.repeat(300), 1, { userProperties: { a: 'b'.repeat(20_000) } }],
  ];
  // Payloads around each Remaining Length boundary (127/128, 16383/16384, 2097151/2097152 bytes).
  for (const remaining of [127, 128, 16_383, 16_384, 2_097_151, 2_097_152]) cases.push(['t', remaining - 5, undefined], ['t', remaining - 6, {}]);
  for (const [topic, size, properties] of cases) {
    for (const protocolVersion of [4, 5] as const) {
      const payload = Buffer.alloc(size, 0x61);
      const wire = generate(
        {
          cmd: 'publish',
          topic,
          payload,
          qos: 1,
          messageId: 42,
          retain: false,
          dup: false,
          ...(protocolVersion === 5 && properties ? { properties } : {}),
        } as Parameters<typeof generate>[0],
        { protocolVersion },
      );
      assert.equal(
        publishPacketBytes(topic, payload, properties, protocolVersion),
        wire.byteLength,
        `${protocolVersion} ${topic.slice(0, 20)} ${size} ${JSON.stringify(properties)?.slice(0, 60)}`,
      );
    }
  }
});

test('exportRefusal() turns PUBACK reasons that refuse the message for good into MeshErrors naming the reason, and leaves the rest alone', () => {
  const refused = (code: number, reasonString?: string) =>
    exportRefusal(new ErrorWithReasonCode('Publish error', code), {
      cmd: 'puback',
      messageId: 1,
      reasonCode: code,
      ...(reasonString ? { properties: { reasonString } } : {}),
    } as never);
  const cases: Array<[number, string, RegExp]> = [
    [0x87, 'MG_ERR_AUTH_FORBIDDEN', /PUBACK reason 0x87 Not authorized/],
    [0x90, 'MG_ERR_TOPIC_INVALID', /PUBACK reason 0x90 Topic Name invalid/],
    [0x99, 'MG_ERR_EVENT_INVALID', /PUBACK reason 0x99 Payload format invalid/],
  ];
  for (const [reason, code, message] of cases) {
    const err = refused(reason);
    assert.ok(err instanceof MeshError, `0x${reason.toString(16)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    assert.ok(err.cause instanceof ErrorWithReasonCode);
  }
  assert.match(refused(0x87, 'acl: no write to secrets/#').message, /Not authorized: acl: no write to secrets\/#$/);
  // May pass: the core holds these and sends them again after a pause.
  for (const reason of [0x80, 0x83, 0x91, 0x97]) assert.ok(!(refused(reason) instanceof MeshError), `0x${reason.toString(16)} stays a plain error`);
  const closed = new Error('connection closed');
  assert.equal(exportRefusal(closed, undefined), closed);
});

test('pubackReasonCode() gives the import-side PUBACK reason for what the mesh refused', () => {
  assert.equal(pubackReasonCode({ ok: true, duplicate: false }), 0);
  assert.equal(pubackReasonCode({ ok: false, code: 'MG_ERR_EVENT_SCHEMA', message: '' }), 0x99);
  assert.equal(pubackReasonCode({ ok: false, code: 'MG_ERR_TOPIC_LIMIT', message: '' }), 0x90);
  assert.equal(pubackReasonCode({ ok: false, code: 'MG_ERR_INTERNAL', message: '' }), 0x83);
});

/** A channel error as amqplib emits it for a server channel.close (lib/channel.js). */
function channelClose(code: number, name: string, text: string, classId = 60, methodId = 40): Error {
  return Object.assign(new Error(`Channel closed by server: ${code} (${name}) with message "${text}"`), { code, classId, methodId });
}

test("publishRefusal() picks out the messages a RabbitMQ channel close refuses: the topic's, the exchange's, the oversized ones", () => {
  // Reply texts as RabbitMQ 3.10 sends them.
  const topic = publishRefusal(
    channelClose(403, 'ACCESS-REFUSED', "ACCESS_REFUSED - access to topic 'denied.x' in exchange 'amq.topic' in vhost '/' refused for user 'guest'"),
  );
  assert.ok(topic !== null);
  const err = topic.refuses('amq.topic', 'denied.x', 10);
  assert.ok(err instanceof MeshError);
  assert.equal(err.code, 'MG_ERR_AUTH_FORBIDDEN');
  assert.match(err.message, /^RabbitMQ closed the publish channel: 403 ACCESS_REFUSED - access to topic 'denied\.x'/);
  assert.equal(topic.refuses('amq.topic', 'ok.x', 10), null, 'another key was only caught in the close');
  assert.equal(topic.refuses('other', 'denied.x', 10), null);

  const exchange = publishRefusal(channelClose(403, 'ACCESS-REFUSED', "ACCESS_REFUSED - access to exchange 'ex' in vhost '/' refused for user 'guest'"));
  assert.equal(exchange?.refuses('ex', 'any.key', 1)?.code, 'MG_ERR_AUTH_FORBIDDEN');
  assert.equal(exchange?.refuses('amq.topic', 'any.key', 1), null);

  const size = publishRefusal(channelClose(406, 'PRECONDITION-FAILED', 'PRECONDITION_FAILED - message size 100000 is larger than configured max size 65536'));
  assert.equal(size?.refuses('amq.topic', 'a', 100_000)?.code, 'MG_ERR_EVENT_TOO_LARGE');
  assert.equal(size?.refuses('amq.topic', 'a', 65_536), null, 'at the limit is allowed');

  // Not about particular messages, or not a publish: no refusal, the messages are sent again after the reconnect.
  assert.equal(publishRefusal(channelClose(404, 'NOT-FOUND', "NOT_FOUND - no exchange 'gone' in vhost '/'")), null);
  assert.equal(publishRefusal(channelClose(403, 'ACCESS-REFUSED', "ACCESS_REFUSED - access to queue 'q' in vhost '/' refused for user 'guest'", 50, 10)), null);
  assert.equal(publishRefusal(new Error('channel closed')), null);
});
