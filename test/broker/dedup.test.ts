import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DedupWindow } from '../../broker/dedup.js';
import { MeshError } from '../../broker/errors.js';

function clocked(options: { ttlMs?: number; maxEntries?: number } = {}) {
  const clock = { t: 1_000 };
  const dedup = new DedupWindow({ ...options, now: () => clock.t });
  return { clock, dedup };
}

test('isDuplicate() records a new (source, id) and reports the second sighting, counting it', () => {
  const { dedup } = clocked();
  assert.equal(dedup.isDuplicate('/s', '1'), false);
  assert.equal(dedup.isDuplicate('/s', '1'), true);
  assert.equal(dedup.isDuplicate('/s', '1'), true);
  assert.equal(dedup.size, 1);
  assert.deepEqual(dedup.stats(), { entries: 1, duplicates: 2, evictedByAge: 0, evictedBySize: 0 });
});

test('the same id from another source is not a duplicate (CloudEvents: source + id identify an event)', () => {
  const { dedup } = clocked();
  assert.equal(dedup.isDuplicate('/a', '1'), false);
  assert.equal(dedup.isDuplicate('/b', '1'), false);
});

test('pairs that collide under naive source+id concatenation are never suppressed', () => {
  const { dedup } = clocked();
  const pairs: [string, string][] = [
    ['a', 'bc'], ['ab', 'c'], ['abc', ''], ['', 'abc'],
    ['1:a', 'b'], ['1', ':ab'], ['3:a', 'b'], ['a:b', 'c'], ['a', ':bc'],
    ['a\u0000', 'b'], ['a', '\u0000b'], ['10:', 'x'], ['1', '0:x'],
  ];
  for (const [source, id] of pairs) assert.equal(dedup.isDuplicate(source, id), false, JSON.stringify([source, id]));
  for (const [source, id] of pairs) assert.equal(dedup.isDuplicate(source, id), true, JSON.stringify([source, id]));
  assert.equal(dedup.size, pairs.length);
});

test('distinct ids are never suppressed, across ring growth and wrap-around', () => {
  const { clock, dedup } = clocked({ ttlMs: 1_000, maxEntries: 5_000 });
  let seen = 0;
  for (let i = 0; i < 20_000; i++) {
    if (i % 7 === 0) clock.t += 1;
    assert.equal(dedup.isDuplicate('/s', `id-${i}`), false);
    seen++;
  }
  assert.equal(seen, 20_000);
  assert.equal(dedup.stats().duplicates, 0);
});

test('a pair expires ttlMs after it was first seen (injected clock)', () => {
  const { clock, dedup } = clocked({ ttlMs: 100 });
  dedup.isDuplicate('/s', '1');
  clock.t += 99;
  assert.equal(dedup.isDuplicate('/s', '1'), true, 'still inside the window');
  clock.t += 1;
  assert.equal(dedup.isDuplicate('/s', '1'), false, 'ttlMs later it is new again');
  assert.equal(dedup.stats().evictedByAge, 1);
  assert.equal(dedup.size, 1);
});

test('a duplicate does not refresh the entry: a producer retrying forever cannot pin it', () => {
  const { clock, dedup } = clocked({ ttlMs: 100 });
  dedup.isDuplicate('/s', 'retry');
  for (let i = 0; i < 9; i++) {
    clock.t += 10;
    assert.equal(dedup.isDuplicate('/s', 'retry'), true);
  }
  clock.t += 10; // 100 ms after the first sighting
  assert.equal(dedup.isDuplicate('/s', 'retry'), false);
});

test('expiry is lazy and from the oldest: everything older than ttlMs leaves on the next check', () => {
  const { clock, dedup } = clocked({ ttlMs: 50 });
  for (let i = 0; i < 5; i++) {
    dedup.isDuplicate('/s', `${i}`); // seen at 1000, 1010, 1020, 1030, 1040
    clock.t += 10;
  }
  clock.t = 1075;
  assert.equal(dedup.size, 5, 'nothing leaves without a check');
  assert.equal(dedup.isDuplicate('/s', 'new'), false);
  // cutoff 1075 - 50 = 1025: the pairs seen at 1000, 1010 and 1020 are gone
  assert.equal(dedup.stats().evictedByAge, 3);
  assert.equal(dedup.size, 3);
  assert.equal(dedup.isDuplicate('/s', '4'), true);
  assert.equal(dedup.isDuplicate('/s', '3'), true);
  assert.equal(dedup.isDuplicate('/s', '2'), false);
});

test('maxEntries bounds the window: the oldest pair is forgotten first and counted', () => {
  const { dedup } = clocked({ maxEntries: 3 });
  for (const id of ['a', 'b', 'c', 'd']) assert.equal(dedup.isDuplicate('/s', id), false);
  assert.equal(dedup.size, 3);
  assert.equal(dedup.stats().evictedBySize, 1);
  assert.equal(dedup.isDuplicate('/s', 'd'), true);
  assert.equal(dedup.isDuplicate('/s', 'b'), true);
  assert.equal(dedup.isDuplicate('/s', 'a'), false, 'a was evicted, so it is new again');
  assert.equal(dedup.size, 3);
});

test('maxEntries holds across growth from the initial ring size', () => {
  const { dedup } = clocked({ maxEntries: 3_000 });
  for (let i = 0; i < 10_000; i++) dedup.isDuplicate('/s', `${i}`);
  assert.equal(dedup.size, 3_000);
  assert.equal(dedup.stats().evictedBySize, 7_000);
  assert.equal(dedup.isDuplicate('/s', '9999'), true);
  assert.equal(dedup.isDuplicate('/s', '7000'), true);
  assert.equal(dedup.isDuplicate('/s', '6999'), false);
});

test('a clock that steps back does not break time order or forget pairs early', () => {
  const { clock, dedup } = clocked({ ttlMs: 100 });
  dedup.isDuplicate('/s', '1');
  clock.t -= 500;
  assert.equal(dedup.isDuplicate('/s', '2'), false);
  assert.equal(dedup.isDuplicate('/s', '1'), true);
  clock.t += 599;
  assert.equal(dedup.isDuplicate('/s', '1'), true, 'treated as 99 ms after the first sighting');
});

test('the default clock works without injection', () => {
  const dedup = new DedupWindow();
  assert.equal(dedup.isDuplicate('/s', '1'), false);
  assert.equal(dedup.isDuplicate('/s', '1'), true);
});

test('bad options stop construction with MG_ERR_CONFIG_INVALID naming the key', () => {
  for (const [options, key] of [
    [{ ttlMs: 0 }, 'dedup.ttlMs'],
    [{ ttlMs: -1 }, 'dedup.ttlMs'],
    [{ ttlMs: Number.NaN }, 'dedup.ttlMs'],
    [{ maxEntries: 0 }, 'dedup.maxEntries'],
    [{ maxEntries: 1.5 }, 'dedup.maxEntries'],
  ] as const) {
    assert.throws(
      () => new DedupWindow(options),
      (err: unknown) => err instanceof MeshError && err.code === 'MG_ERR_CONFIG_INVALID' && err.message.startsWith(key),
    );
  }
});

test('one id from several sources: each pair is its own entry, and they expire oldest first', () => {
  const { dedup } = clocked({ maxEntries: 3 });
  assert.equal(dedup.isDuplicate('/s1', 'x'), false);
  assert.equal(dedup.isDuplicate('/s2', 'x'), false, 'same id, other source: not a duplicate');
  assert.equal(dedup.isDuplicate('/s3', 'x'), false);
  assert.equal(dedup.isDuplicate('/s2', 'x'), true);
  assert.equal(dedup.isDuplicate('/s', 'y'), false, 'the window is full: (/s1, x) is forgotten');
  assert.equal(dedup.isDuplicate('/s2', 'x'), true);
  assert.equal(dedup.isDuplicate('/s3', 'x'), true);
  assert.equal(dedup.isDuplicate('/s1', 'x'), false, 'the oldest pair went first');
  assert.equal(dedup.size, 3);
});
