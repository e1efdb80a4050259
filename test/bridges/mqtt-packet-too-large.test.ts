/**
 * An MQTT export the broker answers with a PUBACK MQTT.js would not parse
 * ends visibly: refused once, or sent again on a new connection; never
 * left in flight.
 *
 * mosquitto drops a PUBLISH over its `message_size_limit` (not announced
 * in CONNACK) and answers PUBACK reason 0x95 Packet too large, which MQTT 5
 * does not list for PUBACK. Before, MQTT.js's parser rejected that PUBACK
 * with an 'error' event and never called the publish callback, and threw
 * away the PUBACKs behind it in the same read: the oversized export and
 * the ones after it sat in flight until the connection dropped.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import { ErrorWithReasonCode } from 'mqtt';
import { generate, parser as mqttParser, type Packet } from 'mqtt-packet';
import { acceptPacketTooLargeAcks, exportRefusal } from '../../bridges/mqtt/internal.js';
import { MeshError } from '../../broker/mod.js';
import {
  assertRefusedOnceAndClean,
  type BridgedNode,
  bridgesSettled,
  firstBridgeRow,
  ingestForExport,
  meshSubscriber,
  mosquittoForFile,
  mqttBinaryProps,
  mqttClient,
  mqttConsumer,
  startBridgedNode,
  until,
} from './bridge-harness.js';

/** mosquitto message_size_limit: payload bytes. */
const MESSAGE_SIZE_LIMIT = 1024;

// debug: mosquitto logs each PUBLISH it drops as too large, so the test counts attempts on the broker.
const mq = mosquittoForFile([`message_size_limit ${MESSAGE_SIZE_LIMIT}`, 'log_type debug']);

const row = firstBridgeRow;

const ingest = (n: BridgedNode, id: string, topic: string, bytes: number) => ingestForExport(n, '/too-large', id, topic, bytes);

/** A PUBACK as MQTT 5 puts it on the wire: id, reason, no properties (§3.4). */
function pubackBytes(messageId: number, reason: number): Buffer {
  return Buffer.from([0x40, 0x03, messageId >> 8, messageId & 0xff, reason]);
}

/** Every packet an MQTT 5 parser gets out of `chunks`, and its errors. */
function parseAll(chunks: Buffer[]): { packets: Packet[]; errors: Error[] } {
  const p = mqttParser({ protocolVersion: 5 });
  const packets: Packet[] = [];
  const errors: Error[] = [];
  p.on('packet', (packet: Packet) => packets.push(packet));
  p.on('error', (err: Error) => errors.push(err));
  for (const c of chunks) p.parse(c);
  return { packets, errors };
}

test("MQTT.js's parser takes a PUBACK 0x95 and the PUBACK behind it, whole, byte by byte and at every split; exportRefusal() refuses 0x95 as MG_ERR_EVENT_TOO_LARGE", () => {
  assert.equal(acceptPacketTooLargeAcks(), true);
  const wire = Buffer.concat([pubackBytes(7, 0x95), pubackBytes(8, 0x10)]);
  const splits: Buffer[][] = [[wire], [...wire].map((b) => Buffer.from([b]))];
  for (let i = 1; i < wire.length; i++) splits.push([wire.subarray(0, i), wire.subarray(i)]);
  for (const chunks of splits) {
    const { packets, errors } = parseAll(chunks);
    assert.deepEqual(errors, [], `${chunks.length} chunks`);
    assert.deepEqual(
      packets.map((p) => [p.cmd, p.messageId, (p as { reasonCode?: number }).reasonCode]),
      [
        ['puback', 7, 0x95],
        ['puback', 8, 0x10],
      ],
    );
  }
  // The table still gates: a reason no broker may send in a PUBACK is still a parse error.
  assert.match(parseAll([pubackBytes(9, 0x96)]).errors[0]?.message ?? '', /Invalid puback reason code/);

  const err = exportRefusal(new ErrorWithReasonCode('Publish error: Packet too large', 0x95), { cmd: 'puback', messageId: 7, reasonCode: 0x95 });
  assert.ok(err instanceof MeshError);
  assert.equal(err.code, 'MG_ERR_EVENT_TOO_LARGE');
  assert.match(err.message, /PUBACK reason 0x95 Packet too large/);
});

test("mqtt: an export over mosquitto's message_size_limit (PUBACK 0x95) is refused once as MG_ERR_EVENT_TOO_LARGE; exports behind it and imports go through on the same connection", {
  timeout: 60_000,
}, async (t) => {
  const n = await startBridgedNode(t, [
    {
      type: 'mqtt',
      name: 'mqtt-msl',
      url: mq().url,
      clientId: 'mg-export-msl',
      import: [{ broker: 'in/#', mesh: 'in.>' }],
      export: [{ mesh: 'msl.>', broker: 'msl' }],
    },
  ]);
  const inMesh = meshSubscriber(n.running, 'in.>');
  await bridgesSettled(n);
  const onBroker = await mqttConsumer(t, mq().url, 5, 'msl/#');
  const droppedOnBroker = () => (fs.readFileSync(mq().logFile, 'utf8').match(/Dropped too large PUBLISH from mg-export-msl .*'msl\/x'/g) ?? []).length;

  // Back to back: mosquitto reads both PUBLISHes at once and its two PUBACKs usually reach the bridge in one read, where
  // MQTT.js's parser used to throw away the second one along with the 0x95.
  ingest(n, 'too-big', 'msl.x', 2 * MESSAGE_SIZE_LIMIT);
  ingest(n, 'fits-1', 'msl.x', 100);
  await onBroker.waitFor(1);
  await until('refusal counted and fits-1 PUBACKed', () => (row(n).refused as Record<string, number>).MG_ERR_EVENT_TOO_LARGE === 1 && row(n).exported === 1);
  // Sent again, the refused event would reach the broker before this one's PUBACK comes back.
  ingest(n, 'fits-2', 'msl.x', 100);
  await onBroker.waitFor(2);
  await until('fits-2 PUBACKed', () => row(n).exported === 2);
  assert.equal(droppedOnBroker(), 1, 'the broker saw the oversized PUBLISH once');
  assert.deepEqual(
    onBroker.items.map((o) => o.attrs.id),
    ['fits-1', 'fits-2'],
  );

  // Import on the same bridge connection.
  const producer = await mqttClient(t, mq().url, 5);
  await producer.publishAsync('in/x', Buffer.from('{"v":1}'), {
    qos: 1,
    properties: mqttBinaryProps({ specversion: '1.0', id: 'in-1', source: '/producer', type: 't', datacontenttype: 'application/json' }),
  });
  await inMesh.waitFor(1);
  assert.deepEqual(
    inMesh.items.map((e) => [e.id, e.topic]),
    [['in-1', 'in.x']],
  );

  const s = row(n);
  assert.match(
    String(s.lastRefusal),
    /^MG_ERR_EVENT_TOO_LARGE: export of msl\.x to msl\/x: the broker refused the PUBLISH: PUBACK reason 0x95 Packet too large$/,
  );
  assert.equal(s.imported, 1);
  await assertRefusedOnceAndClean(n, 'MG_ERR_EVENT_TOO_LARGE'); // inFlight 0: nothing left waiting for a PUBACK
});

/**
 * A broker on 127.0.0.1:0 that speaks just enough MQTT 5 for an
 * export-only bridge, and answers the first PUBLISH with a PUBACK reason
 * MQTT.js cannot parse. Records each PUBLISH's CloudEvents id and the
 * connection it came on.
 */
async function startBadAckBroker(t: TestContext, badReason: number): Promise<{ url: string; publishes: Array<[connection: number, id: string]> }> {
  const publishes: Array<[number, string]> = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const connection = ++connections;
    const p = mqttParser({ protocolVersion: 5 });
    p.on('packet', (packet: Packet) => {
      if (packet.cmd === 'connect') socket.write(generate({ cmd: 'connack', reasonCode: 0, sessionPresent: false }, { protocolVersion: 5 }));
      else if (packet.cmd === 'pingreq') socket.write(generate({ cmd: 'pingresp' }, { protocolVersion: 5 }));
      else if (packet.cmd === 'publish' && packet.qos === 1) {
        publishes.push([connection, String(packet.properties?.userProperties?.id)]);
        socket.write(publishes.length === 1 ? pubackBytes(packet.messageId!, badReason) : pubackBytes(packet.messageId!, 0));
      }
    });
    socket.on('data', (chunk) => p.parse(chunk));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`, publishes };
}

test('mqtt: a PUBACK MQTT.js cannot parse ends the connection; the export it answered is sent again on the next one instead of staying in flight', {
  timeout: 60_000,
}, async (t) => {
  // 0x96 Message rate too high: a DISCONNECT reason, never a PUBACK one.
  const broker = await startBadAckBroker(t, 0x96);
  const n = await startBridgedNode(t, [
    { type: 'mqtt', name: 'mqtt-bad-ack', url: broker.url, import: [], export: [{ mesh: 'ba.>', broker: 'ba' }], backoffMinMs: 20, backoffMaxMs: 100 },
  ]);
  await bridgesSettled(n);

  ingest(n, 'ev-1', 'ba.x', 10);
  await until('ev-1 PUBACKed on the next connection', () => row(n).exported === 1);
  // Connection 1 only begins the MQTT 5 session afresh and carries nothing (mqtt-client.ts #startFreshSession).
  assert.deepEqual(broker.publishes, [
    [2, 'ev-1'],
    [3, 'ev-1'],
  ]);
  const s = row(n);
  assert.equal(s.reconnects, 1);
  assert.equal(s.retries, 1);
  assert.deepEqual(s.refused, {}, 'nothing says the event cannot pass: sent again, not refused');
  assert.equal(s.inFlight, 0);
  assert.equal(s.pending, 0);
  assert.equal(s.state, 'up');
  assert.ok(
    n.log.some((l) => /bridge mqtt-bad-ack: lost .*: Invalid puback reason code/.test(l)),
    n.log.join('\n'),
  );
});
