/**
 * A small run of the many-connections bench (bench/connections-bench.ts)
 * against a real nats-server and a real node: every connection opens,
 * subscribes to its own topic and gets exactly the events sent to that
 * topic, for both targets (the figures themselves are not asserted).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionsBench } from '../../bench/connections-bench.js';

test('connectionsBench() delivers each event to the one connection of its topic, on nats-server and on the node', { timeout: 90_000 }, async () => {
  const [nats, meshgate] = await connectionsBench({ connections: 300, events: 900 });
  for (const row of [nats, meshgate]) {
    assert.equal(row.lost, 0, row.name);
    assert.ok(Number.isFinite(row.serverCpuUsPerEvent) && row.serverCpuUsPerEvent >= 0, row.name);
    assert.match(row.name, /300 conns \(-?\d+ KiB idle \/ -?\d+ KiB subscribed per conn\)/);
  }
  assert.match(nats.name, /^nats/);
  assert.equal(meshgate.vsAnchor?.name, 'nats');
});
