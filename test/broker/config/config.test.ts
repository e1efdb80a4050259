import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MeshError } from '../../../broker/base/mod.js';
import { type ConfigLayer, DEFAULTS, envLayer, resolveConfig } from '../../../broker/config/internal.js';

test('resolveConfig() on no layers gives the documented defaults (127.0.0.1:8080)', () => {
  const c = resolveConfig();
  assert.equal(c.listen.host, '127.0.0.1');
  assert.equal(c.listen.port, 8080);
  assert.equal(c.dedup.windowMs, 120_000);
  assert.deepEqual(c.limits, DEFAULTS.limits);
});

test('later layers win: file < env < flags, and nested keys merge', () => {
  const file = { listen: { port: 9000, host: '0.0.0.0' }, limits: { topic: { maxTokens: 4 } } };
  const env = envLayer({ MESHGATE_PORT: '9100', MESHGATE_REGION: 'eu-west' });
  const flags = { listen: { port: 9200 } };
  const c = resolveConfig(file, env, flags);
  assert.equal(c.listen.port, 9200);
  assert.equal(c.listen.host, '0.0.0.0');
  assert.equal(c.node.region, 'eu-west');
  assert.equal(c.limits.topic.maxTokens, 4);
  assert.equal(c.limits.topic.maxLength, DEFAULTS.limits.topic.maxLength);
});

test('a wrong value inside a list names its index and shows the value that was given', () => {
  assert.throws(
    () => resolveConfig({ mesh: { peers: ['ws://127.0.0.1:7001', 42] } } as unknown as ConfigLayer),
    (err: unknown) => {
      assert.ok(err instanceof MeshError);
      assert.match(err.message, /mesh\.peers\[1\]: must be string, got 42/);
      return true;
    },
  );
});

test('every wrong key is reported at once as MG_ERR_CONFIG_INVALID with its path', () => {
  assert.throws(
    () => resolveConfig({ listen: { port: -1 }, node: { id: 'has space' }, dedup: { windowMs: 5 } }),
    (err: unknown) => {
      assert.ok(err instanceof MeshError);
      assert.equal(err.code, 'MG_ERR_CONFIG_INVALID');
      assert.match(err.message, /listen\.port: must be >= 0, got -1/);
      assert.match(err.message, /node\.id: must match pattern/);
      assert.match(err.message, /dedup\.windowMs: must be >= 1000, got 5; fix: how long/);
      return true;
    },
  );
});

test('a mirror entry is {name, mirror: {stream, node?}} without filters; anything else is MG_ERR_CONFIG_INVALID naming the key', () => {
  const c = resolveConfig({
    mesh: { key: 'a-mesh-key' },
    streams: [{ name: 'orders-eu', mirror: { stream: 'orders', node: 'a' }, maxAge: '7d' }],
  } as unknown as ConfigLayer);
  assert.deepEqual(c.streams[0]!.mirror, { stream: 'orders', node: 'a' });
  assert.deepEqual([c.streams[0]!.filters, c.streams[0]!.maxAgeMs], [[], 7 * 86_400_000]);
  const refused = (layer: unknown, key: RegExp) =>
    assert.throws(
      () => resolveConfig(layer as ConfigLayer),
      (err: unknown) => err instanceof MeshError && err.code === 'MG_ERR_CONFIG_INVALID' && key.test(err.message),
    );
  refused({ streams: [{ name: 'm', mirror: { stream: 'o' }, filters: ['o.>'] }] }, /streams\[0\]\.filters: a mirror takes its entries/);
  refused({ streams: [{ name: 'm', mirror: { node: 'a' } }] }, /streams\[0\]\.mirror/);
  refused({ streams: [{ name: 'm', mirror: { stream: 'bad name' } }] }, /streams\[0\]\.mirror\.stream/);
  refused({ streams: [{ name: 'm' }] }, /streams\[0\]\.filters: expected at least one topic filter/);
  refused(
    { streams: [{ name: 'm', mirror: { stream: 'o' } }] },
    /streams\[0\]\.mirror: a mirror reads its source from a peer, and peering is off without mesh\.key/,
  );
  refused(
    {
      mesh: { key: 'a-mesh-key' },
      storage: { engine: 'jetstream', jetstream: { servers: ['nats://127.0.0.1:4222'] } },
      streams: [{ name: 'm', mirror: { stream: 'o' } }],
    },
    /streams\[0\]\.mirror: a mirror needs storage\.engine lmdb or memory/,
  );
  refused({ mesh: { streamLookupMs: -1 } }, /mesh\.streamLookupMs/);
});
