/**
 * Exports a real broker refuses for good are refused (counted under a mesh
 * error code, the broker's reason in `lastRefusal`) and never sent again;
 * the node keeps serving. A refusal that may pass (AMQP basic.nack) is
 * sent again after growing pauses, not at once. A RabbitMQ refusal closes
 * the publish channel only: the bridge goes on through a fresh channel on
 * the same connection, and imports never notice.
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
import { after, before, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { PublishChannel } from '../../bridges/amqp/internal.js';
import { MeshError } from '../../broker/mod.js';
import {
  findBinary,
  type MosquittoHandle,
  type NatsServerHandle,
  type RabbitMQHandle,
  startMosquitto,
  startNatsServer,
  startRabbitMQ,
} from '../helpers/brokers.js';
import {
  amqpChannel,
  amqpConsumer,
  type BridgedNode,
  bridgesSettled,
  firstBridgeRow,
  ingestForExport,
  meshSubscriber,
  mqttConsumer,
  natsConsumer,
  publishBinaryCe,
  startBridgedNode,
  until,
  wsConsumer,
  wsProducer,
} from './bridge-harness.js';

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

const row = firstBridgeRow;
const refusedCount = (n: BridgedNode, code: string) => (row(n).refused as Record<string, number>)[code] ?? 0;

const ingest = (n: BridgedNode, id: string, topic: string, bytes = 1) => ingestForExport(n, '/refusal', id, topic, bytes);

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
  assert.deepEqual(
    onNats.items.map((o) => o.attrs.id),
    ['small'],
  );

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

test('mqtt: a PUBACK refusal (0x87 Not authorized, mosquitto ACL) is refused once as MG_ERR_AUTH_FORBIDDEN and never sent again', {
  timeout: 60_000,
}, async (t) => {
  const n = await startBridgedNode(t, [
    { type: 'mqtt', name: 'mqtt-acl', url: mq.url, clientId: 'mg-export-acl', import: [], export: [{ mesh: 'acl.>', broker: 'acl' }] },
  ]);
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

  assert.deepEqual(
    onBroker.items.map((o) => o.attrs.id),
    ['ok-1', 'ok-2'],
  );
  const s = row(n);
  assert.deepEqual(s.refused, { MG_ERR_AUTH_FORBIDDEN: 1 });
  assert.match(String(s.lastRefusal), /export of acl\.denied\.x to acl\/denied\/x: the broker refused the PUBLISH: PUBACK reason 0x87 Not authorized/);
  assert.equal(s.retries, 0);
  assert.equal(s.pending, 0);
  assert.equal(s.inFlight, 0);
  assert.match(await metricsText(n), /^meshgate_bridge_refused_total\{bridge="mqtt-acl",code="MG_ERR_AUTH_FORBIDDEN"\} 1$/m);
});

test("mqtt: an event whose PUBLISH exceeds the broker's Maximum Packet Size is refused before sending; the connection stays up", {
  timeout: 60_000,
}, async (t) => {
  const n = await startBridgedNode(t, [
    { type: 'mqtt', name: 'mqtt-mps', url: mq.url, clientId: 'mg-export-mps', import: [], export: [{ mesh: 'mps.>', broker: 'big' }] },
  ]);
  await bridgesSettled(n);
  const onBroker = await mqttConsumer(t, mq.url, 5, 'big/#');

  ingest(n, 'too-big', 'mps.x', MQTT_MAX_PACKET);
  ingest(n, 'fits', 'mps.x', 1000);
  await onBroker.waitFor(1);
  await until('fits PUBACKed', () => row(n).exported === 1);
  assert.deepEqual(
    onBroker.items.map((o) => o.attrs.id),
    ['fits'],
  );
  const s = row(n);
  assert.deepEqual(s.refused, { MG_ERR_EVENT_TOO_LARGE: 1 });
  assert.match(String(s.lastRefusal), /the PUBLISH would be \d+ bytes; the broker's Maximum Packet Size \(CONNACK\) is 16384 bytes/);
  assert.equal(s.reconnects, 0);
  assert.equal(s.retries, 0);
  assert.doesNotMatch(fs.readFileSync(mq.logFile, 'utf8'), /mg-export-mps disconnected due to oversize packet/);
});

// --- AMQP: RabbitMQ refuses a publish by closing the channel, not the connection ----------

/** The line the AMQP client logs each time it replaces a publish channel a refusal closed. */
const FRESH_CHANNEL = /RabbitMQ closed the publish channel .*; exports go on through a fresh channel/;

/**
 * An AMQP bridge exporting am.> to amq.topic (am.ok.out.x -> ok.out.x) and importing ok.in.# as in.>,
 * with a consumer of the exports on RabbitMQ and a mesh subscriber of the imports. guest may publish
 * only ok.* and full.* there (before()): any other routing key is refused with 403.
 */
async function amqpRefusalRig(t: TestContext, name: string) {
  const n = await startBridgedNode(t, [
    {
      type: 'amqp',
      name,
      url: rmq.url,
      queue: name,
      import: [{ broker: 'ok.in.#', mesh: 'in.>', always: true }],
      export: [{ mesh: 'am.>', broker: '#' }],
      backoffMinMs: 50,
      backoffMaxMs: 400,
    },
  ]);
  const imported = meshSubscriber(n.running, 'in.>');
  await bridgesSettled(n);
  const onBroker = await amqpConsumer(t, rmq.url, 'ok.out.#');
  let imports = 0;
  return {
    n,
    onBroker,
    /** Publishes a CloudEvent to RabbitMQ as a plain client would and waits for the bridge to bring it into the mesh. */
    async importOne(): Promise<void> {
      const id = `in-${++imports}`;
      await publishBinaryCe.amqp(t, rmq.url, 'ok.in.x', { specversion: '1.0', id, source: '/rabbit', type: 't' }, Buffer.from('1'));
      await imported.waitFor(imports);
      assert.equal(imported.items.at(-1)!.id, id);
    },
    freshChannels: () => n.log.filter((l) => FRESH_CHANNEL.test(l)).length,
  };
}

const CHANNEL_REFUSALS = [
  {
    close: '403 topic permission',
    queue: 'amqp-refused-403',
    topic: 'am.denied.x',
    bytes: 1,
    code: 'MG_ERR_AUTH_FORBIDDEN',
    reason:
      /export of am\.denied\.x to denied\.x: RabbitMQ closed the publish channel: 403 ACCESS_REFUSED - access to topic 'denied\.x' in exchange 'amq\.topic'/,
  },
  {
    close: '406 max_message_size',
    queue: 'amqp-refused-406',
    topic: 'am.ok.out.big',
    bytes: 100_000,
    code: 'MG_ERR_EVENT_TOO_LARGE',
    reason:
      /export of am\.ok\.out\.big to ok\.out\.big: RabbitMQ closed the publish channel: 406 PRECONDITION_FAILED - message size 100000 is larger than configured max size 65536/,
  },
] as const;

for (const c of CHANNEL_REFUSALS) {
  test(`amqp: a publish RabbitMQ refuses by closing the channel (${c.close}) is refused once; a fresh channel carries on, no reconnect, imports keep flowing`, {
    timeout: 60_000,
  }, async (t) => {
    const { n, onBroker, importOne, freshChannels } = await amqpRefusalRig(t, c.queue);

    ingest(n, 'refused-1', c.topic, c.bytes);
    await until('refusal counted', () => refusedCount(n, c.code) === 1);
    assert.match(String(row(n).lastRefusal), c.reason);
    // Failing the connection over the close (as before) would have set the bridge down by now, in the same turn.
    assert.equal(row(n).state, 'up');
    // Right behind the refusal (the fresh channel may still be opening: it then waits for it).
    ingest(n, 'ok-1', 'am.ok.out.x');
    // Imports run on the other channel of the same connection: published to RabbitMQ after the close, one arrives with no reconnect.
    await importOne();
    assert.equal(row(n).reconnects, 0);
    await onBroker.waitFor(1);
    await until('ok-1 confirmed', () => row(n).exported === 1);
    // A refused message held and sent again would close the next channel too.
    ingest(n, 'ok-2', 'am.ok.out.x');
    await onBroker.waitFor(2);
    await until('ok-2 confirmed', () => row(n).exported === 2);

    assert.deepEqual(
      onBroker.items.map((o) => o.attrs.id),
      ['ok-1', 'ok-2'],
    );
    const s = row(n);
    assert.deepEqual(s.refused, { [c.code]: 1 });
    assert.equal(s.reconnects, 0, 'a refusal closes a channel, not the connection');
    assert.equal(s.state, 'up');
    assert.equal(s.retries, 0, 'nothing else was on the closed channel; ok-1 was not failed back to the core');
    assert.equal(s.pending, 0);
    assert.equal(s.inFlight, 0);
    assert.equal(freshChannels(), 1);
  });
}

test('amqp: two refusals back to back (two denied exports in one batch) each get a fresh channel; the export caught behind them goes through; no reconnect', {
  timeout: 60_000,
}, async (t) => {
  const { n, onBroker, importOne, freshChannels } = await amqpRefusalRig(t, 'amqp-refused-twice');

  // One turn, one chunk on the wire. RabbitMQ closes the channel on denied-a and drops what follows on it: denied-b
  // and ok-1 fail with a plain "channel closed" (not what the close refused), are held and sent again after the
  // pause on a fresh channel, where denied-b closes that one too and ok-1 goes out on the third.
  ingest(n, 'denied-a', 'am.denied.a');
  ingest(n, 'denied-b', 'am.denied.b');
  ingest(n, 'ok-1', 'am.ok.out.x');
  await onBroker.waitFor(1);
  await until('ok-1 confirmed', () => row(n).exported === 1);
  assert.equal(refusedCount(n, 'MG_ERR_AUTH_FORBIDDEN'), 2);
  assert.match(String(row(n).lastRefusal), /export of am\.denied\.b to denied\.b: .*access to topic 'denied\.b'/);
  assert.equal(freshChannels(), 2, 'one fresh channel per close');
  await importOne();

  assert.deepEqual(
    onBroker.items.map((o) => o.attrs.id),
    ['ok-1'],
  );
  const s = row(n);
  assert.equal(s.reconnects, 0);
  assert.equal(s.state, 'up');
  assert.equal(s.retries, 3, 'denied-b and ok-1 held after the first close, ok-1 after the second');
  assert.equal(s.pending, 0);
  assert.equal(s.inFlight, 0);
});

test('amqp: a publish channel close that refuses nothing (404, the exchange was deleted) still fails the connection; the export goes through after the reconnect', {
  timeout: 60_000,
}, async (t) => {
  const n = await startBridgedNode(t, [
    {
      type: 'amqp',
      name: 'amqp-gone',
      url: rmq.url,
      queue: 'amqp-gone',
      exchange: 'mg-gone',
      import: [],
      export: [{ mesh: 'gx.>', broker: 'gone' }],
      backoffMinMs: 50,
      backoffMaxMs: 400,
    },
  ]);
  await bridgesSettled(n);
  const ch = await amqpChannel(t, rmq.url);
  await ch.deleteExchange('mg-gone');

  ingest(n, 'gone-1', 'gx.x');
  // A fresh channel would fail the same way (the client declares the exchange only on connect): this one is not replaced.
  await until('confirmed once the reconnect declared the exchange again', () => row(n).exported === 1);
  const s = row(n);
  assert.equal(s.reconnects, 1);
  assert.deepEqual(s.refused, {});
  assert.equal(s.retries, 1);
  assert.equal(n.log.filter((l) => FRESH_CHANNEL.test(l)).length, 0);
});

test('amqp: PublishChannel: a refusal close is replaceable; the fresh channel takes the freed channel number, batches on its own, and the closed one never writes on it', {
  timeout: 60_000,
}, async (t) => {
  const conn = await amqp.connect(rmq.url);
  t.after(() => conn.close().catch(() => undefined));
  let connectionClosed = false;
  conn.on('close', () => (connectionClosed = true));
  const onBroker = await amqpConsumer(t, rmq.url, 'ok.pc.#');
  const ends: Array<[PublishChannel, boolean]> = [];
  const ended = (ch: PublishChannel, replaceable: boolean) => ends.push([ch, replaceable]);
  const publish = (ch: PublishChannel, key: string, body: Buffer) =>
    new Promise<Error | null>((resolve) =>
      ch.publisher.publish('amq.topic', key, body, {}, (err) => resolve(err === null ? null : ch.failure(err, 'amq.topic', key, body.byteLength))),
    );

  /** Channel numbers amqplib has open on the connection, besides 0 (its connection.channels table, as confirm-publisher.ts reaches it). */
  const numbers = () => (conn as unknown as { connection: { channels: unknown[] } }).connection.channels.flatMap((c, i) => (c && i > 0 ? [i] : []));

  const first = await PublishChannel.open(conn, ended);
  const [number] = numbers();
  assert.equal(typeof number, 'number');
  // One chunk: RabbitMQ closes the channel on the oversized message and drops the one behind it.
  const [big, caught] = await Promise.all([publish(first, 'ok.pc.big', Buffer.alloc(100_000)), publish(first, 'ok.pc.caught', Buffer.from('C'))]);
  assert.ok(big instanceof MeshError);
  assert.equal(big.code, 'MG_ERR_EVENT_TOO_LARGE');
  assert.ok(caught instanceof Error && !(caught instanceof MeshError), 'caught in the close, not refused');
  assert.equal(first.open, false);
  assert.deepEqual(ends, [[first, true]]);
  assert.match(first.reason, /406 \(PRECONDITION-FAILED\)/);

  // amqplib hands out the lowest free channel number: the fresh channel gets the one the close freed.
  const fresh = await PublishChannel.open(conn, ended);
  assert.deepEqual(numbers(), [number]);
  assert.equal(fresh.publisher.batched, true, 'the fresh channel has its own batched fast path');
  // Frames the closed channel's publisher wrote now would carry the same channel number: it must fail them instead.
  const late = publish(first, 'ok.pc.late', Buffer.from('L'));
  assert.deepEqual(await Promise.all([publish(fresh, 'ok.pc.y', Buffer.from('Y')), publish(fresh, 'ok.pc.z', Buffer.from('Z'))]), [null, null]);
  assert.ok((await late) instanceof Error);
  await onBroker.waitFor(2);
  assert.deepEqual(
    onBroker.items.map((o) => o.data.toString()),
    ['Y', 'Z'],
  );
  assert.equal(ends.length, 1, 'the closed channel ended once');
  assert.equal(connectionClosed, false);
});

test('amqp: a basic.nack (queue full, x-overflow reject-publish) is sent again after pauses, not at once, and goes through once the queue takes it', {
  timeout: 60_000,
}, async (t) => {
  const ch = await amqpChannel(t, rmq.url);
  await ch.assertQueue('nack-all', { arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
  await ch.bindQueue('nack-all', 'amq.topic', 'full.#');
  const minMs = 50;
  const n = await startBridgedNode(t, [
    {
      type: 'amqp',
      name: 'amqp-nack',
      url: rmq.url,
      queue: 'amqp-nack',
      import: [],
      export: [{ mesh: 'fq.>', broker: 'full' }],
      backoffMinMs: minMs,
      backoffMaxMs: 400,
    },
  ]);
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
