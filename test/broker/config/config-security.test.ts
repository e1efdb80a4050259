import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MeshError } from '../../../broker/base/mod.js';
import { envLayer, resolveConfig } from '../../../broker/config/mod.js';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof MeshError);
    assert.equal(err.code, 'MG_ERR_CONFIG_INVALID');
    return err.message;
  }
  assert.fail('expected MG_ERR_CONFIG_INVALID');
}

test('security config is off by default: no auth, no TLS, no abuse limits', () => {
  const c = resolveConfig();
  assert.deepEqual(c.auth, {});
  assert.equal(c.tls, undefined);
  assert.equal(c.mesh.tls, undefined);
  assert.deepEqual([c.limits.maxConnectionsPerIp, c.limits.connectionRatePerIp, c.limits.publishRate], [0, 0, 0]);
});

test('auth, tls and mesh.tls keys are validated with the key and the fix named', () => {
  assert.match(
    configError(() => resolveConfig({ auth: { jwt: { secret: 'short' } } })),
    /auth\.jwt\.secret: .*16/,
  );
  assert.match(
    configError(() => resolveConfig({ auth: { tokens: [{ name: 'x', token: '0123456789abcdef', sub: { allow: ['a'], nope: [] } }] } })),
    /auth\.tokens\[0\]\.sub/,
  );
  assert.match(
    configError(() => resolveConfig({ tls: { certFile: 'c.pem' } })),
    /tls: must have required property 'keyFile'/,
  );
  assert.match(
    configError(() => resolveConfig({ limits: { publishRate: -1 } })),
    /limits\.publishRate/,
  );
  const peers = configError(() =>
    resolveConfig({ mesh: { key: 'k-0123456789', peers: ['ws://10.0.0.2:8080'], tls: { certFile: 'c', keyFile: 'k', caFile: 'ca' } } }),
  );
  assert.match(peers, /mesh\.peers\[0\]: expected a wss:\/\/ URL when mesh\.tls is set/);
});

test('MESHGATE_JWT_SECRET sets auth.jwt.secret', () => {
  const c = resolveConfig(envLayer({ MESHGATE_JWT_SECRET: 'env-secret-0123456789' }));
  assert.equal(c.auth.jwt?.secret, 'env-secret-0123456789');
});
