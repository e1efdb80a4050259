import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterMatches, intersectFilters } from '../../routing/mod.js';

test('intersectFilters() gives the filter both match, or null', () => {
  const cases: Array<[string, string, string | null]> = [
    ['db.>', '*.orders.insert', 'db.orders.insert'],
    ['a.*', 'b.>', null],
    ['>', 'a.*', 'a.*'],
    ['a.>', 'a.>', 'a.>'],
    ['a.>', 'a', null],
    ['a.*.c', 'a.b.*', 'a.b.c'],
    ['a.*', 'a.*.c', null],
    ['*.>', 'x.*', 'x.*'],
  ];
  for (const [a, b, want] of cases) {
    assert.equal(intersectFilters(a, b), want, `${a} ∩ ${b}`);
    assert.equal(intersectFilters(b, a), want, `${b} ∩ ${a}`);
  }
});

// Every filter of 1-3 tokens over a, b, *, > and every topic of 1-4 tokens
// over a, b and z (a token no filter names): one token longer than any
// filter, enough to tell `>` from `*` and to find every counterexample.
const FILTERS: string[] = [];
const TOPICS: string[] = [];
(() => {
  let layer = [''];
  for (let n = 1; n <= 3; n++) {
    FILTERS.push(...layer.map((p) => (p === '' ? '>' : `${p}.>`)));
    layer = layer.flatMap((p) => ['a', 'b', '*'].map((t) => (p === '' ? t : `${p}.${t}`)));
    FILTERS.push(...layer);
  }
  layer = [''];
  for (let n = 1; n <= 4; n++) {
    layer = layer.flatMap((p) => ['a', 'b', 'z'].map((t) => (p === '' ? t : `${p}.${t}`)));
    TOPICS.push(...layer);
  }
})();

test('intersectFilters() matches exactly the topics both filters match, for every pair of small filters', () => {
  let empty = 0;
  for (const a of FILTERS) {
    for (const b of FILTERS) {
      const both = intersectFilters(a, b);
      const want = TOPICS.filter((t) => filterMatches(a, t) && filterMatches(b, t));
      if (both === null) {
        assert.deepEqual(want, [], `${a} ∩ ${b} is null, yet ${want[0]} matches both`);
        empty++;
      } else
        assert.deepEqual(
          TOPICS.filter((t) => filterMatches(both, t)),
          want,
          `${a} ∩ ${b} = ${both}`,
        );
    }
  }
  assert.ok(empty > 0 && empty < FILTERS.length ** 2, 'the alphabet gives both empty and non-empty intersections');
});
