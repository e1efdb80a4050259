/**
 * A bridge import is a client ingress like any other: a broker message
 * mapped to a topic only nodes write (_mg.deadletter.>, _mg.sys.>) is
 * refused and counted, never delivered (broker/reserved-topics.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bridgesSettled, firstBridgeRow, meshSubscriber, mosquittoForFile, mqttClient, startBridgedNode, until } from './bridge-harness.js';

const mq = mosquittoForFile([]);

test('mqtt: imports mapped to _mg.deadletter.x or _mg.sys.x are refused as MG_ERR_TOPIC_RESERVED, counted, delivered to nobody; the next import goes through', {
  timeout: 60_000,
}, async (t) => {
  const n = await startBridgedNode(t, [
    { type: 'mqtt', name: 'mqtt-reserved', url: mq().url, clientId: 'mg-reserved', import: [{ broker: '#', mesh: '>', always: true }] },
  ]);
  const letters = meshSubscriber(n.running, '_mg.deadletter.>');
  const system = meshSubscriber(n.running, '_mg.sys.>');
  const plain = meshSubscriber(n.running, 'plain.>');
  await bridgesSettled(n);
  const producer = await mqttClient(t, mq().url, 5);
  await producer.publishAsync('_mg/deadletter/x', Buffer.from('{"reasons":[]}'), { qos: 1 });
  await producer.publishAsync('_mg/sys/x', Buffer.from('{"nodes":[]}'), { qos: 1 });
  await until('both refused', () => (firstBridgeRow(n).refused as Record<string, number>).MG_ERR_TOPIC_RESERVED === 2);
  await producer.publishAsync('plain/x', Buffer.from('{"v":1}'), { qos: 1 });
  await plain.waitFor(1);
  assert.equal(letters.items.length, 0);
  assert.equal(system.items.length, 0);
  assert.match(String(firstBridgeRow(n).lastRefusal), /^MG_ERR_TOPIC_RESERVED: _mg\.sys\.x /);
  const metrics = await (await fetch(`${n.running.httpUrl}/metrics`)).text();
  assert.ok(metrics.includes('meshgate_bridge_refused_total{bridge="mqtt-reserved",code="MG_ERR_TOPIC_RESERVED"} 2'), metrics);
});
