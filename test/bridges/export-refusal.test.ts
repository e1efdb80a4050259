/**
 * Exports a real broker refuses for good are refused (counted under a mesh
 * error code, the broker's reason in `lastRefusal`) and never sent again;
 * the node keeps serving. A refusal that may pass (AMQP basic.nack) is
 * sent again after growing pauses, not at once.
 *
 * Before, each of these looped: NATS counted the event `lost`; an MQTT
 * PUBACK refusal (0x87) was re-sent every round trip, forever; an MQTT
 * PUBLISH over Maximum Packet Size got the connection closed, reconnect
 * after reconnect; a RabbitMQ channel close (403, 406) did the same; a
 * basic.nack was re-sent every round trip.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { findBinary, startMosquitto, startNatsServer, startRabbitMQ, type MosquittoHandle, type NatsServerHandle, type RabbitMQHandle } from '../helpers/brokers.js';
import { amqpChannel, amqpConsumer, bridgesSettled, mqttConsumer, natsConsumer, startBridgedNode, until, wsConsumer, wsProducer, type BridgedNode } from './bridge-harness.js';

const run = promisify(execFile);

/** nats-server max_payload: below meshgate's 256 KiB event limit, as a small-message NATS deployment has it. */
const NATS_MAX_PAYLOAD = 65_536;
/** mosquitto max_packet_size (announced in CONNACK as Maximum Packet Size). */
const MQTT_MAX_PACKET = 16_384;
/** RabbitMQ max_message_size (body bytes; not announced to clients). */
const AMQP_MAX_MESSAGE = 65_536;

let nats: NatsServerHandle;
let mq: MosquittoHandle;
let rmq: RabbitMQHandle;
before(async () => {
  [nats, mq, rmq] = await Promise.all([
    startNatsServer({ config: [`max_payload: ${NATS_MAX_PAYLOAD}`] }),
    startMosquitto({
      // Anonymous clients read everything and write only under acl/ok/ and big/.
      acl: ['topic read #', 'topic readwrite acl/ok/#', 'topic readwrite big/#'],
      // debug: mosquitto logs each refused PUBLISH ("Denied PUBLISH"), so the test counts attempts on the broker.
      config: [`max_packet_size ${MQTT_MAX_PACKET}`, 'log_type debug'],
    }),
    startRabbitMQ({ config: [`max_message_size = ${AMQP_MAX_MESSAGE}`] }),
  ]);
  // Topic authorisation: guest may publish to amq.topic only with these routing keys.
  const ctl = findBinary('rabbitmqctl', 'rabbitmq-server', ['/usr/lib/rabbitmq/bin/rabbitmqctl']);
  await run(ctl, ['-n', rmq.nodeName, '-q', 'set_topic_permissions', '-p', '/', 'guest', 'amq.topic', '^(ok|full)\\.', '.*'], { env: rmq.ctlEnv });
});
after(async () => {
  await Promise.all([nats, mq, rmq].filter(Boolean).map((b) => b.stop()));
});

const row = (n: BridgedNode) => n.bridges.bridges[0].status();
const refusedCount = (n: BridgedNode, code: string) => (row(n).refused as Record<string, number>)[code] ?? 0;

function ingest(n: BridgedNode, id: string, topic: string, bytes = 1): void {
  const result = n.running.node.ingest({ id, source: '/refusal', type: 't', topic, data: Buffer.alloc(bytes, 0x61), attrs: {}, hops: [] }, 'ws');
  assert.ok(result.ok, `ingest ${id}`);
}

async function metricsText(n: BridgedNode): Promise<string> {
  return (await fetch(`${n.running.httpUrl}/metrics`)).text();
}

test('nats: an event over nats-server max_payload is refused once as MG_ERR_EVENT_TOO_LARGE, and the node keeps serving', { timeout: 60_000 }, async (t) => {
  const n = await startBridgedNode(t, [{ type: 'nats', name: 'nats-small', url: nats.url, import: [], export: [{ mesh: 'np.>', broker: 'np' }] }]);
  await bridgesSettled(n);
  const onNats = await natsConsumer(t, nats.url, 'np.>');
  const produce = await wsProducer(t, n.running, 'np.x');
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();

  // 100 kB: well within the node's 256 KiB, over the server's 64 KiB. Then a normal one on the same connection.
  produce(JSON.stringify({ specversion: '1.0', id: 'big', source: '/ws', type: 't', data: 'x'.repeat(100_000) }));
  produce(JSON.stringify({ specversion: '1.0', id: 'small', source: '/ws', type: 't', data: 'x' }));
  await onNats.waitFor(1);
  assert.deepEqual(onNats.items.map((o) => o.attrs.id), ['small']);

  // WebSocket publish/subscribe through the same node still works.
  const onWs = await wsConsumer(t, n.running, 'ws.>');
  const wsProduce = await wsProducer(t, n.running, 'ws.y');
  wsProduce(JSON.stringify({ specversion: '1.0', id: 'ws-1', source: '/ws', type: 't', data: 1 }));
  await onWs.waitFor(1);
  loop.disable();
  // A loop spinning on the refused event would have stalled every timer; 1 s is far above a GC pause on the CI box.
  assert.ok(loop.max < 1e9, `event loop stalled for ${(loop.max / 1e6).toFixed(0)} ms`);

  const s = row(n);
  assert.deepEqual(s.refused, { MG_ERR_EVENT_TOO_LARGE: 1 });
  assert.match(String(s.lastRefusal), /MG_ERR_EVENT_TOO_LARGE: export of np\.x to np\.x: .*exceed nats-server max_payload \(65536 bytes\)/);
  assert.equal(s.lost, 0, 'a refusal is not a loss');
  assert.equal(s.exported, 1);
  assert.equal(s.reconnects, 0);
  assert.equal(s.state, 'up');
  assert.match(await metricsText(n), /^meshgate_bridge_refused_total\{bridge="nats-small",code="MG_ERR_EVENT_TOO_LARGE"\} 1$/m);
});

test('mqtt: a PUBACK refusal (0x87 Not authorized, mosquitto ACL) is refused once as MG_ERR_AUTH_FORBIDDEN and never sent again', { timeout: 60_000 }, async (t) => {
  const n = await startBridgedNode(t, [{ type: 'mqtt', name: 'mqtt-acl', url: mq.url, clientId: 'mg-export-acl', import: [], export: [{ mesh: 'acl.>', broker: 'acl' }] }]);
  await bridgesSettled(n);
  const onBroker = await mqttConsumer(t, mq.url, 5, 'acl/ok/#');
  const deniedOnBroker = () => (fs.readFileSync(mq.logFile, 'utf8').match(/Denied PUBLISH from mg-export-acl .*'acl\/denied\/x'/g) ?? []).length;

  ingest(n, 'denied-1', 'acl.denied.x');
  ingest(n, 'ok-1', 'acl.ok.x');
  await onBroker.waitFor(1);
  await until('refusal counted', () => refusedCount(n, 'MG_ERR_AUTH_FORBIDDEN') === 1);
  await until('ok-1 PUBACKed', () => row(n).exported === 1);
  // Re-sent each round trip, the denied event would have hit the broker again meanwhile; one more round trip to be sure.
  ingest(n, 'ok-2', 'acl.ok.x');
  await onBroker.waitFor(2);
  await until('ok-2 PUBACKed', () => row(n).exported === 2);
  assert.equal(deniedOnBroker(), 1, 'the broker saw the refused PUBLISH once');

  assert.deepEqual(onBroker.items.map((o) => o.attrs.id), ['ok-1', 'ok-2']);
  const s = row(n);
  assert.deepEqual(s.refused, { MG_ERR_AUTH_FORBIDDEN: 1 });
  assert.match(String(s.lastRefusal), /export of acl\.denied\.x to acl\/denied\/x: the broker refused the PUBLISH: PUBACK reason 0x87 Not authorized/);
  assert.equal(s.retries, 0);
  assert.equal(s.pending, 0);
  assert.equal(s.inFlight, 0);
  assert.match(await metricsText(n), /^meshgate_bridge_refused_total\{bridge="mqtt-acl",code="MG_ERR_AUTH_FORBIDDEN"\} 1$/m);
});

test("mqtt: an event whose PUBLISH exceeds the broker's Maximum Packet Size is refused before sending; the connection stays up", { timeout: 60_000 }, async (t) => {
  const n = await startBridgedNode(t, [{ type: 'mqtt', name: 'mqtt-mps', url: mq.url, clientId: 'mg-export-mps', import: [], export: [{ mesh: 'mps.>', broker: 'big' }] }]);
  await bridgesSettled(n);
  const onBroker = await mqttConsumer(t, mq.url, 5, 'big/#');

  ingest(n, 'too-big', 'mps.x', MQTT_MAX_PACKET);
  ingest(n, 'fits', 'mps.x', 1000);
  await onBroker.waitFor(1);
  await until('fits PUBACKed', () => row(n).exported === 1);
  assert.deepEqual(onBroker.items.map((o) => o.attrs.id), ['fits']);
  const s = row(n);
  assert.deepEqual(s.refused, { MG_ERR_EVENT_TOO_LARGE: 1 });
  assert.match(String(s.lastRefusal), /the PUBLISH would be \d+ bytes; the broker's Maximum Packet Size \(CONNACK\) is 16384 bytes/);
  assert.equal(s.reconnects, 0);
  assert.equal(s.retries, 0);
  assert.doesNotMatch(fs.readFileSync(mq.logFile, 'utf8'), /mg-export-mps disconnected due to oversize packet/);
});

test('amqp: a publish RabbitMQ refuses by closing the channel (403 topic permission, 406 max_message_size) is refused once and costs one reconnect, not a loop', { timeout: 60_000 }, async (t) => {
  const n = await startBridgedNode(t, [{ type: 'amqp', name: 'amqp-refused', url: rmq.url, queue: 'amqp-refused', import: [], export: [{ mesh: 'am.>', broker: '#' }] }]);
  await bridgesSettled(n);
  const onBroker = await amqpConsumer(t, rmq.url, 'ok.#');

  ingest(n, 'denied-1', 'am.denied.x');
  await until('403 refusal counted', () => refusedCount(n, 'MG_ERR_AUTH_FORBIDDEN') === 1);
  assert.match(String(row(n).lastRefusal), /export of am\.denied\.x to denied\.x: RabbitMQ closed the publish channel: 403 ACCESS_REFUSED - access to topic 'denied\.x' in exchange 'amq\.topic'/);
  ingest(n, 'big-1', 'am.ok.big', 100_000);
  await until('406 refusal counted', () => refusedCount(n, 'MG_ERR_EVENT_TOO_LARGE') === 1);
  assert.match(String(row(n).lastRefusal), /406 PRECONDITION_FAILED - message size 100000 is larger than configured max size 65536/);
  ingest(n, 'ok-1', 'am.ok.x');
  await onBroker.waitFor(1);
  await until('ok-1 confirmed', () => row(n).exported === 1);
  // A refused message held and re-sent would close the next channel too: the connection would keep flapping.
  ingest(n, 'ok-2', 'am.ok.x');
  await onBroker.waitFor(2);
  await until('ok-2 confirmed', () => row(n).exported === 2);

  assert.deepEqual(onBroker.items.map((o) => o.attrs.id), ['ok-1', 'ok-2']);
  const s = row(n);
  assert.deepEqual(s.refused, { MG_ERR_AUTH_FORBIDDEN: 1, MG_ERR_EVENT_TOO_LARGE: 1 });
  assert.equal(s.reconnects, 2, 'one reconnect per channel close');
  assert.equal(s.state, 'up');
  assert.equal(s.pending, 0);
});

test('amqp: a basic.nack (queue full, x-overflow reject-publish) is sent again after pauses, not at once, and goes through once the queue takes it', { timeout: 60_000 }, async (t) => {
  const ch = await amqpChannel(t, rmq.url);
  await ch.assertQueue('nack-all', { arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
  await ch.bindQueue('nack-all', 'amq.topic', 'full.#');
  const minMs = 50;
  const n = await startBridgedNode(t, [{ type: 'amqp', name: 'amqp-nack', url: rmq.url, queue: 'amqp-nack', import: [], export: [{ mesh: 'fq.>', broker: 'full' }], backoffMinMs: minMs, backoffMaxMs: 400 }]);
  await bridgesSettled(n);

  const start = Date.now();
  ingest(n, 'nacked', 'fq.x');
  await until('three resends', () => (row(n).retries as number) >= 3);
  const elapsed = Date.now() - start;
  const retries = row(n).retries as number;
  // Each resend waits at least backoffMinMs (resent per round trip, this would be in the thousands).
  assert.ok(retries <= 1 + elapsed / minMs, `${retries} resends in ${elapsed} ms`);
  assert.ok(elapsed >= 2 * minMs - 5, `three nacks within ${elapsed} ms`);
  assert.match(String(row(n).lastError), /export to full\.x: message nacked/);
  assert.equal(row(n).exported, 0);
  assert.deepEqual(row(n).refused, {}, 'a nack may pass: held, not refused');

  await ch.deleteQueue('nack-all');
  await until('confirmed once the queue is gone', () => row(n).exported === 1, 10_000);
  const s = row(n);
  assert.equal(s.pending, 0);
  assert.equal(s.reconnects, 0);
});
