import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Authenticator, credentialOf, IpLimiter, originChecker, signHs256, TokenBucket } from '../../../broker/auth/mod.js';

test('TokenBucket allows a burst, then the rate', () => {
  let t = 0;
  const b = new TokenBucket(10, 3, () => t);
  assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
  t += 100; // one token
  assert.deepEqual([b.take(), b.take()], [true, false]);
  t += 10_000;
  assert.equal(b.full, true);
});

test('IpLimiter refuses past maxConnectionsPerIp and connectionRatePerIp, and forgets idle addresses', () => {
  let t = 0;
  const count = new IpLimiter({ maxConnectionsPerIp: 2, connectionRatePerIp: 0, connectionBurstPerIp: 0 }, () => t);
  assert.deepEqual(
    ['a', 'a', 'a', 'b'].map((ip) => count.acquire(ip)),
    ['ok', 'ok', 'MG_ERR_CONN_LIMIT', 'ok'],
  );
  count.release('a');
  assert.equal(count.acquire('a'), 'ok');
  for (const ip of ['a', 'a', 'b']) count.release(ip);
  assert.equal(count.size, 0);
  const rate = new IpLimiter({ maxConnectionsPerIp: 0, connectionRatePerIp: 2, connectionBurstPerIp: 2 }, () => t);
  assert.deepEqual(
    [1, 2, 3].map(() => rate.acquire('x')),
    ['ok', 'ok', 'MG_ERR_CONN_RATE'],
  );
  t += 500;
  assert.equal(rate.acquire('x'), 'ok');
  const off = new IpLimiter({ maxConnectionsPerIp: 0, connectionRatePerIp: 0, connectionBurstPerIp: 0 });
  assert.equal(off.active, false);
  assert.equal(off.acquire('x'), 'ok');
  assert.equal(off.size, 0);
});

test('originChecker matches exact origins, *.domain patterns and *, and lets requests without Origin through', () => {
  const allowed = originChecker(['https://app.example.com', 'https://*.example.org']);
  assert.equal(allowed('https://app.example.com'), true);
  assert.equal(allowed('HTTPS://APP.EXAMPLE.COM'), true);
  assert.equal(allowed('http://app.example.com'), false);
  assert.equal(allowed('https://app.example.com.evil.io'), false);
  assert.equal(allowed('https://a.example.org'), true);
  assert.equal(allowed('https://example.org'), false);
  assert.equal(allowed('https://evilexample.org'), false);
  assert.equal(allowed(''), true);
  assert.equal(originChecker(['*'])('https://anything'), true);
  assert.equal(originChecker(undefined)('https://anything'), true);
});

test('Authenticator: static tokens, JWTs with perms, and the three refusal codes', () => {
  let now = 1_800_000_000_000;
  const auth = new Authenticator(
    { jwt: { secret: 'jwt-secret-0123456789', clockSkewSec: 0 }, tokens: [{ name: 'ops', token: 'static-token-0123456789', sub: ['_mg.>'] }] },
    () => now,
  );
  assert.equal(auth.enabled, true);
  assert.equal(new Authenticator({}).enabled, false);
  const st = auth.authenticate('static-token-0123456789');
  assert.ok(st.ok && st.principal.name === 'ops' && st.principal.permissions.canRead('_mg.dlq'));
  assert.deepEqual(pick(auth.authenticate(null)), 'MG_ERR_AUTH_REQUIRED');
  assert.deepEqual(pick(auth.authenticate('nope')), 'MG_ERR_AUTH_INVALID');
  const jwt = signHs256({ sub: 'svc', exp: now / 1000 + 60, perms: { pub: ['a.>'], sub: { allow: ['>'], deny: ['a.secret'] } } }, 'jwt-secret-0123456789');
  const ok = auth.authenticate(jwt);
  assert.ok(ok.ok);
  assert.equal(ok.ok && ok.principal.name, 'svc');
  assert.equal(ok.ok && ok.principal.expiresAt, now + 60_000);
  assert.equal(ok.ok && ok.principal.permissions.canPublish('a.b'), true);
  assert.equal(ok.ok && ok.principal.permissions.canRead('a.secret'), false);
  // Cached, but expiry is still checked on every use.
  now += 61_000;
  assert.equal(pick(auth.authenticate(jwt)), 'MG_ERR_AUTH_EXPIRED');
  assert.equal(pick(auth.authenticate(signHs256({ perms: { pub: ['a.>.b'] } }, 'jwt-secret-0123456789'))), 'MG_ERR_AUTH_INVALID');
  assert.throws(() => new Authenticator({ tokens: [{ name: 'x', token: '0123456789abcdef', pub: ['a..b'] }] }), { code: 'MG_ERR_CONFIG_INVALID' });
});

test('credentialOf() takes Authorization: Bearer first, then ?token=', () => {
  assert.equal(credentialOf('Bearer abc', 'q'), 'abc');
  assert.equal(credentialOf('bearer   abc ', undefined), 'abc');
  assert.equal(credentialOf('Basic xyz', 'q'), 'q');
  assert.equal(credentialOf('', ''), null);
});

function pick(r: ReturnType<Authenticator['authenticate']>): string {
  return r.ok ? 'ok' : r.code;
}
