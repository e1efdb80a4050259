import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MeshEvent } from '../../../broker/event/mod.js';
import type { DurabilityGate, MeshNode, Subscriber } from '../../../broker/pipeline/mod.js';
import { testMeshNode } from '../../helpers/mesh-node.js';

function node(): MeshNode {
  return testMeshNode();
}

const subscriber: Subscriber = { format: { name: 'test', binary: true, encode: () => new Uint8Array(0), batch: null }, deliver: () => undefined };
const event = (id: string): MeshEvent => ({ id, source: 'svc', type: 't', topic: 'orders.eu', attrs: {}, hops: [] });

test('an event whose store commit fails after ingest is forgotten by dedup, so the retry is stored rather than acked as a duplicate', async () => {
  const n = node();
  n.subscribe('orders.>', subscriber);
  // The seam MeshNode waits on for every event a local stream took: here the commit fails.
  let commits: Array<{ code: 'MG_ERR_STREAM_IO'; message: string } | null> = [{ code: 'MG_ERR_STREAM_IO', message: 'write failed' }, null];
  const gate: DurabilityGate = { take: () => Promise.resolve(commits.shift() ?? null) };
  n.setDurability(gate);
  const first = n.ingest(event('e-1'), 'ws');
  assert.ok(first.ok && first.durable !== undefined, 'the ack waits for the commit');
  assert.deepEqual(await (first.ok ? first.durable : undefined), { code: 'MG_ERR_STREAM_IO', message: 'write failed' });
  const retry = n.ingest(event('e-1'), 'ws');
  assert.ok(retry.ok && !retry.duplicate, 'the retry is a new event, not a duplicate of one never stored');
  assert.equal(await (retry.ok ? retry.durable : undefined), null);
  commits = [];
  const again = n.ingest(event('e-1'), 'ws');
  assert.ok(again.ok && again.duplicate, 'once stored, a repeat is a duplicate again');
});
