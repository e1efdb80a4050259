import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SessionSubscriptions } from '../../../broker/ws/internal.js';

test('SessionSubscriptions registers a router filter once however many client filters need it', () => {
  const s = new SessionSubscriptions();
  assert.deepEqual(s.add('>', ['a.>']), ['a.>']);
  assert.deepEqual(s.add('a.>', ['a.>']), [], 'a.> is already registered');
  assert.deepEqual(s.add('*.x', ['a.x', 'b.x']), ['a.x', 'b.x']);
  assert.equal(s.size, 3, 'the size counts client filters');
  assert.deepEqual(s.routerFilters().sort(), ['a.>', 'a.x', 'b.x']);
  assert.ok(s.has('>') && s.has('a.>') && !s.has('a.x'));
});

test('SessionSubscriptions.remove() releases a router filter only when no other client filter needs it', () => {
  const s = new SessionSubscriptions();
  s.add('>', ['a.>']);
  s.add('a.>', ['a.>']);
  assert.deepEqual(s.remove('>'), [], 'a.> still needed by a.>');
  assert.deepEqual(s.routerFilters(), ['a.>']);
  assert.equal(s.remove('>'), null, 'not held any more');
  assert.deepEqual(s.remove('a.>'), ['a.>']);
  assert.equal(s.size, 0);
  assert.deepEqual(s.routerFilters(), []);
});

test('SessionSubscriptions: a client filter with no router filter is held and counted; a repeated add changes nothing', () => {
  const s = new SessionSubscriptions();
  assert.deepEqual(s.add('b.*', []), []);
  assert.equal(s.size, 1);
  assert.deepEqual(s.add('x', ['x', 'x']), ['x'], 'duplicates in one add count once');
  assert.deepEqual(s.add('x', ['y']), [], 'already held: unchanged');
  assert.deepEqual(s.remove('x'), ['x']);
  assert.deepEqual(s.remove('b.*'), []);
  assert.equal(s.size, 0);
});

test('SessionSubscriptions.clear() returns exactly the registered router filters and empties the table', () => {
  const s = new SessionSubscriptions();
  s.add('>', ['a.>', '_mg.dlq.*']);
  s.add('a.>', ['a.>']);
  s.add('c', ['c']);
  s.remove('c');
  assert.deepEqual(s.clear().sort(), ['_mg.dlq.*', 'a.>']);
  assert.equal(s.size, 0);
  assert.deepEqual(s.clear(), []);
});
