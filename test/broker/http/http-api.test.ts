import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ce, openClient, startTestNode } from '../../helpers/node.js';

test('/metrics exposes connections, subscriptions and event counters in Prometheus text format', async (t) => {
  const node = await startTestNode(t);
  const c = await openClient(t, node.wsUrl);
  await c.request({ op: 'sub', filter: 'm.>' });
  await c.request({ op: 'pub', topic: 'm.1', event: ce('1') });
  await c.request({ op: 'pub', topic: 'm.1', event: ce('1') });
  await c.request({ op: 'pub', topic: 'bad topic', event: ce('2') });
  const res = await fetch(`${node.httpUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /^meshgate_connections 1$/m);
  assert.match(text, /^meshgate_subscriptions 1$/m);
  assert.match(text, /^meshgate_events_in_total\{protocol="ws"\} 1$/m);
  assert.match(text, /^meshgate_events_duplicate_total 1$/m);
  assert.match(text, /^meshgate_deliveries_total 1$/m);
  assert.match(text, /^meshgate_events_rejected_total\{code="MG_ERR_TOPIC_INVALID"\} 1$/m);
  assert.match(text, /^# TYPE meshgate_slow_consumer_closes_total counter$/m);
  assert.match(text, /^meshgate_bytes_in_total \d+$/m);
});

test('/v1/stats answers JSON with node identity and counters; unknown paths are 404 JSON', async (t) => {
  const node = await startTestNode(t);
  const stats = (await (await fetch(`${node.httpUrl}/v1/stats`)).json()) as Record<string, unknown>;
  assert.equal(stats.node, 'test-node');
  assert.equal(stats.connections, 0);
  assert.equal(typeof (stats.dedup as Record<string, number>).entries, 'number');
  const missing = await fetch(`${node.httpUrl}/nope`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as Record<string, string>).error, 'MG_ERR_NOT_FOUND');
});
