import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { filtersOverlap, type PermissionSpec, Permissions } from '../../../broker/auth/mod.js';
import { filterMatches } from '../../../routing/mod.js';
import { filterArb, modelPermits, rulesArb, UNIVERSE } from './permission-model.js';

function compile(spec: PermissionSpec): Permissions {
  const p = Permissions.fromSpec(spec);
  assert.ok(p instanceof Permissions, String(p));
  return p;
}

test('filtersOverlap() is true exactly when some topic matches both filters', () => {
  fc.assert(
    fc.property(filterArb, filterArb, (a, b) => {
      const witness = UNIVERSE.some((t) => filterMatches(a, t) && filterMatches(b, t));
      assert.equal(filtersOverlap(a, b), witness, `${a} vs ${b}`);
      assert.equal(filtersOverlap(b, a), witness);
    }),
    { numRuns: 2000 },
  );
});

test('Permissions: canPublish and canRead agree with the brute-force model for random rules and topics', () => {
  fc.assert(
    fc.property(rulesArb, rulesArb, (pub, sub) => {
      const p = compile({ pub, sub });
      for (const topic of UNIVERSE) {
        assert.equal(p.canPublish(topic), modelPermits(pub, topic), `pub ${topic}`);
        assert.equal(p.canRead(topic), modelPermits(sub, topic), `read ${topic}`);
      }
    }),
    { numRuns: 300 },
  );
});

test("Permissions.canSubscribe(): 'full' means every matched topic is readable, 'none' means none is", () => {
  fc.assert(
    fc.property(rulesArb, filterArb, (sub, filter) => {
      const p = compile({ sub });
      const matched = UNIVERSE.filter((t) => filterMatches(filter, t));
      const readable = matched.filter((t) => modelPermits(sub, t));
      const standing = p.canSubscribe(filter);
      if (standing === 'full') assert.equal(readable.length, matched.length, `${filter} full under ${JSON.stringify(sub)}`);
      if (standing === 'none') assert.equal(readable.length, 0, `${filter} none under ${JSON.stringify(sub)}`);
      // 'none' whenever nothing is readable through a single deny or no overlapping allow.
      if (readable.length === matched.length && sub.deny.length === 0 && sub.allow.includes(filter) && !filter.startsWith('*') && !filter.startsWith('>')) {
        assert.equal(standing, 'full');
      }
    }),
    { numRuns: 3000 },
  );
});

test('Permissions: deny takes precedence over allow', () => {
  const p = compile({ pub: { allow: ['orders.>'], deny: ['orders.secret'] }, sub: { allow: ['>'], deny: ['orders.*.pii'] } });
  assert.equal(p.canPublish('orders.new'), true);
  assert.equal(p.canPublish('orders.secret'), false);
  assert.equal(p.canRead('orders.7.pii'), false);
  assert.equal(p.canRead('orders.7.total'), true);
  assert.equal(p.canSubscribe('orders.*.pii'), 'none');
  assert.equal(p.canSubscribe('orders.>'), 'partial');
});

test('Permissions: reserved _mg. topics need an allow filter that names _mg', () => {
  const everything = compile({ pub: ['>'], sub: ['>'] });
  assert.equal(everything.canRead('_mg.dlq.orders'), false);
  assert.equal(everything.canPublish('_mg.system'), false);
  assert.equal(everything.canSubscribe('>'), 'partial');
  assert.equal(everything.canSubscribe('_mg.>'), 'none');
  assert.equal(everything.canSubscribe('orders.>'), 'full');
  const ops = compile({ sub: ['>', '_mg.>'] });
  assert.equal(ops.canRead('_mg.dlq.orders'), true);
  assert.equal(ops.canSubscribe('>'), 'full');
  assert.equal(ops.canSubscribe('_mg.dlq.*'), 'full');
  assert.equal(Permissions.ALL.canSubscribe('>'), 'full');
  assert.equal(Permissions.ALL.canPublish('_mg.x'), true);
});

test('Permissions.fromSpec() refuses invalid filters and too many of them, and allows nothing by default', () => {
  assert.match(String(Permissions.fromSpec({ pub: ['a.>.b'] })), /pub\.allow/);
  assert.match(String(Permissions.fromSpec({ sub: { allow: ['a'], deny: [''] } })), /sub\.deny/);
  assert.match(String(Permissions.fromSpec({ sub: { allow: ['a'], nope: [] } as never })), /unknown key nope/);
  assert.match(String(Permissions.fromSpec({ sub: Array.from({ length: 257 }, (_, i) => `t${i}`) })), /more than 256/);
  const nothing = compile({});
  assert.equal(nothing.canPublish('a'), false);
  assert.equal(nothing.canSubscribe('>'), 'none');
});
