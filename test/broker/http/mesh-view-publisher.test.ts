import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openClient, startTestNode } from '../../helpers/node.js';

test('a node publishes its mesh view on _mg.sys.mesh.<node id> while a subscriber names it, not for a plain >', async (t) => {
  const node = await startTestNode(t);
  const everything = await openClient(t, node.wsUrl);
  await everything.request({ op: 'sub', filter: '>' });
  const viewer = await openClient(t, node.wsUrl);
  await viewer.request({ op: 'sub', filter: '_mg.sys.mesh.test-node' });
  const frame = await viewer.waitFor((f) => f.op === 'event');
  const event = frame.event as Record<string, unknown>;
  assert.equal(frame.topic, '_mg.sys.mesh.test-node');
  assert.equal(event.type, 'meshgate.mesh');
  assert.equal(event.mgprotocol, 'system');
  const view = event.data as { node: string; nodes: Array<{ id: string; self: boolean }> };
  assert.equal(view.node, 'test-node');
  assert.ok(view.nodes.some((n) => n.id === 'test-node' && n.self));

  // Once no one names the topic, publishing stops: the `>` subscriber alone does not keep it going.
  await viewer.request({ op: 'unsub', filter: '_mg.sys.mesh.test-node' });
  const before = node.node.metrics.snapshot().meshgate_events_in_total as Record<string, number>;
  // Two publisher periods: a view would have been published in each.
  await new Promise((r) => setTimeout(r, 2200));
  const after = node.node.metrics.snapshot().meshgate_events_in_total as Record<string, number>;
  assert.equal(after['protocol=system'], before['protocol=system']);
});
