import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type PermissionSpec, Permissions, SessionGuard } from '../../../broker/auth/mod.js';

function guard(sub: PermissionSpec['sub']): SessionGuard {
  const permissions = Permissions.fromSpec({ sub });
  assert.ok(permissions instanceof Permissions, String(permissions));
  return new SessionGuard({ name: 'tester', permissions, expiresAt: null }, null);
}

const fitsAll = () => true;

test('SessionGuard.routerFilters(): a partial subscription registers its readable part', () => {
  const g = guard(['a.>']);
  assert.equal(g.checkSubscribe('>'), null);
  assert.equal(g.filtering, true);
  assert.deepEqual(g.routerFilters('>', fitsAll), ['a.>']);
  const two = guard(['a.*', 'b.>']);
  assert.equal(two.checkSubscribe('*.x'), null);
  assert.deepEqual(two.routerFilters('*.x', fitsAll), ['a.x', 'b.x']);
});

test('SessionGuard.routerFilters(): a full subscription, or any with auth off, registers the filter as given', () => {
  const g = guard({ allow: ['a.>', 'b.>'], deny: ['b.secret'] });
  assert.equal(g.checkSubscribe('a.*.c'), null);
  assert.equal(g.filtering, false);
  assert.deepEqual(g.routerFilters('a.*.c', fitsAll), ['a.*.c']);
  const open = new SessionGuard(null, null);
  assert.equal(open.checkSubscribe('>'), null);
  assert.deepEqual(open.routerFilters('>', fitsAll), ['>']);
});

test('SessionGuard.routerFilters(): a narrowed piece over the node limits falls back to the client filter', () => {
  const deep = 'a.*.*.*.*.*.*.*.*.*';
  const g = guard([deep, 'b.>']);
  assert.equal(g.checkSubscribe('>'), null);
  const seen: string[] = [];
  const atMostEightWildcards = (f: string) => {
    seen.push(f);
    return f.split('.').filter((t) => t === '*' || t === '>').length <= 8;
  };
  assert.deepEqual(g.routerFilters('>', atMostEightWildcards), ['>']);
  assert.ok(seen.includes(deep), 'the node check saw the narrowed piece');
  assert.deepEqual(g.routerFilters('>', fitsAll), [deep, 'b.>']);
});
