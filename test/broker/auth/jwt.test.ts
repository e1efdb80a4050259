import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import { JwtVerifier, signHs256 } from '../../../broker/auth/mod.js';

const SECRET = 'a-test-secret-of-some-length';
const NOW = 1_800_000_000_000;
const now = () => NOW;
const sec = NOW / 1000;

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function signWith(alg: string, claims: Record<string, unknown>, signer: (data: Buffer) => Buffer, header: Record<string, unknown> = {}): string {
  const input = `${b64({ alg, typ: 'JWT', ...header })}.${b64(claims)}`;
  return `${input}.${signer(Buffer.from(input)).toString('base64url')}`;
}

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ecPem = ec.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const es256 = (claims: Record<string, unknown>) => signWith('ES256', claims, (d) => sign('sha256', d, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }));
const rs256 = (claims: Record<string, unknown>) => signWith('RS256', claims, (d) => sign('sha256', d, rsa.privateKey));

test('JwtVerifier accepts HS256, ES256 and RS256 tokens signed with the configured keys', () => {
  const v = new JwtVerifier({ secret: SECRET, publicKeys: [ecPem, rsaPem] }, { now });
  assert.deepEqual(v.algorithms, ['HS256', 'ES256', 'RS256']);
  for (const [token, alg] of [
    [signHs256({ sub: 'a' }, SECRET), 'HS256'],
    [es256({ sub: 'b' }), 'ES256'],
    [rs256({ sub: 'c' }), 'RS256'],
  ] as const) {
    const r = v.verify(token);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.ok && r.alg, alg);
  }
});

test('JwtVerifier refuses alg none, unknown algorithms and crit headers', () => {
  const v = new JwtVerifier({ secret: SECRET }, { now });
  const none = `${b64({ alg: 'none' })}.${b64({ sub: 'x' })}.`;
  for (const token of [none, `${b64({ alg: 'none' })}.${b64({ sub: 'x' })}.AAAA`, `${b64({ alg: 'NONE' })}.${b64({})}.`]) {
    const r = v.verify(token);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /refused/);
  }
  const hs512 = signWith('HS512', {}, (d) => createHmac('sha512', SECRET).update(d).digest());
  assert.equal(v.verify(hs512).ok, false);
  const crit = signWith('HS256', {}, (d) => createHmac('sha256', SECRET).update(d).digest(), { crit: ['exp'] });
  assert.equal(v.verify(crit).ok, false);
});

test('JwtVerifier refuses algorithm confusion: an HS256 token keyed with the RSA or EC public key', () => {
  const v = new JwtVerifier({ publicKeys: [rsaPem, ecPem] }, { now });
  for (const pem of [rsaPem, ecPem]) {
    const forged = signWith('HS256', { sub: 'admin' }, (d) => createHmac('sha256', pem).update(d).digest());
    const r = v.verify(forged);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /HS256 is not accepted/);
  }
  // An RS256 token when only an EC key is configured, and the reverse.
  assert.equal(new JwtVerifier({ publicKeys: [ecPem] }, { now }).verify(rs256({})).ok, false);
  assert.equal(new JwtVerifier({ publicKeys: [rsaPem] }, { now }).verify(es256({})).ok, false);
  // With a secret configured too, the public key is still not an HMAC key.
  const both = new JwtVerifier({ secret: SECRET, publicKeys: [rsaPem] }, { now });
  assert.equal(both.verify(signWith('HS256', {}, (d) => createHmac('sha256', rsaPem).update(d).digest())).ok, false);
});

test('JwtVerifier refuses a tampered payload, a wrong secret and a DER-encoded ES256 signature', () => {
  const v = new JwtVerifier({ secret: SECRET, publicKeys: [ecPem] }, { now });
  const [h, , s] = signHs256({ perms: { pub: ['a'] } }, SECRET).split('.');
  assert.equal(v.verify(`${h}.${b64({ perms: { pub: ['>'] } })}.${s}`).ok, false);
  assert.equal(v.verify(signHs256({}, 'another-secret-entirely')).ok, false);
  const der = signWith('ES256', {}, (d) => sign('sha256', d, ec.privateKey));
  assert.equal(v.verify(der).ok, false);
  for (const junk of ['', 'a.b', 'a.b.c.d', '!!.??.**', `${b64([1])}.${b64({})}.x`]) assert.equal(v.verify(junk).ok, false, junk);
});

test('JwtVerifier checks exp, nbf, aud and iss with the clock skew', () => {
  const v = new JwtVerifier({ secret: SECRET }, { now, clockSkewSec: 10, audience: 'mesh', issuer: 'idp' });
  const ok = (claims: Record<string, unknown>) => v.verify(signHs256({ aud: 'mesh', iss: 'idp', ...claims }, SECRET));
  assert.equal(ok({ exp: sec + 1 }).ok, true);
  assert.equal(ok({ exp: sec - 5 }).ok, true, 'within the skew');
  const expired = ok({ exp: sec - 11 });
  assert.equal(expired.ok, false);
  assert.equal(!expired.ok && expired.expired, true);
  assert.equal(ok({ nbf: sec + 5 }).ok, true, 'within the skew');
  const early = ok({ nbf: sec + 11 });
  assert.equal(early.ok === false && !early.expired, true);
  assert.equal(ok({ exp: 'soon' }).ok, false);
  assert.equal(ok({ aud: ['other', 'mesh'] }).ok, true);
  assert.equal(ok({ aud: 'other' }).ok, false);
  assert.equal(v.verify(signHs256({ iss: 'idp' }, SECRET)).ok, false, 'aud missing');
  assert.equal(ok({ iss: 'evil' }).ok, false);
});
