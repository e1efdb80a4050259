import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IngressProtocol, MeshEvent } from '../../../broker/event/mod.js';
import { isNodeWritten } from '../../../broker/pipeline/internal.js';
import type { MeshNode, Subscriber } from '../../../broker/pipeline/mod.js';
import { testMeshNode } from '../../helpers/mesh-node.js';

function node(): MeshNode {
  return testMeshNode();
}

function collector(): Subscriber & { got: MeshEvent[] } {
  const got: MeshEvent[] = [];
  return { got, format: { name: 'test', binary: true, encode: () => new Uint8Array(0), batch: null }, deliver: (_item, e) => void got.push(e) };
}

const event = (topic: string, id: string): MeshEvent => ({ id, source: 'forger', type: 'meshgate.deadletter', topic, attrs: {}, hops: [] });

function rejected(n: MeshNode, code: string): number {
  const m = n.metrics.snapshot().meshgate_events_rejected_total;
  return typeof m === 'object' ? (m[`code=${code}`] ?? 0) : 0;
}

test('isNodeWritten() holds dead letters and system topics, the prefixes themselves included, and nothing else under _mg.', () => {
  for (const t of ['_mg.deadletter.x', '_mg.deadletter.db.orders.insert', '_mg.deadletter', '_mg.sys.mesh.eu', '_mg.sys'])
    assert.equal(isNodeWritten(t), true, t);
  for (const t of ['_mg.deadletterx', '_mg.system.x', '_mg.schemas.orders', '_mg.dlq', '_mg', 'sys.x', 'a._mg.sys.x', '_mg.sy'])
    assert.equal(isNodeWritten(t), false, t);
});

test('MeshNode.ingest() refuses every client ingress (ws, mqtt, amqp, nats) on _mg.deadletter.> and _mg.sys.> with MG_ERR_TOPIC_RESERVED, counted; peers and the node itself pass', () => {
  const n = node();
  const sub = collector();
  assert.equal(n.subscribe('_mg.deadletter.>', sub), null, 'subscribing there is fine');
  assert.equal(n.subscribe('_mg.sys.>', sub), null);
  const clients: IngressProtocol[] = ['ws', 'mqtt', 'amqp', 'nats'];
  let i = 0;
  for (const protocol of clients) {
    for (const topic of ['_mg.deadletter.x', '_mg.sys.x']) {
      const result = n.ingest(event(topic, `forged-${i++}`), protocol);
      assert.equal(result.ok, false, `${protocol} ${topic}`);
      assert.equal(!result.ok && result.code, 'MG_ERR_TOPIC_RESERVED');
    }
  }
  assert.equal(rejected(n, 'MG_ERR_TOPIC_RESERVED'), 8);
  assert.equal(sub.got.length, 0, 'nothing forged delivered');
  assert.deepEqual(n.ingest(event('_mg.deadletter.x', 'from-peer'), 'peer'), { ok: true, duplicate: false });
  assert.deepEqual(n.ingest(event('_mg.sys.mesh.n', 'own'), 'system'), { ok: true, duplicate: false });
  assert.deepEqual(
    sub.got.map((e) => e.id),
    ['from-peer', 'own'],
  );
});
