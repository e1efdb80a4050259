import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterCovers, filterMatches, minimalCover } from '../../routing/mod.js';
import { SeededRandom } from './seeded-random.js';

test('filterCovers() follows the documented examples', () => {
  assert.equal(filterCovers('db.>', 'db.orders.*'), true);
  assert.equal(filterCovers('a.*', 'a.b'), true);
  assert.equal(filterCovers('>', 'x.y.z'), true);
  assert.equal(filterCovers('>', '>'), true);
  assert.equal(filterCovers('a.*', 'a.>'), false);
  assert.equal(filterCovers('a.b', 'a.*'), false);
  assert.equal(filterCovers('a.>', 'a'), false);
  assert.equal(filterCovers('a.*.>', 'a.>'), false);
  assert.equal(filterCovers('a.>', 'a.*.>'), true);
  assert.equal(filterCovers('a.b', 'a.b'), true);
});

// Topics over the filter alphabet plus one token no filter names, up to
// one token longer than any filter: enough to find every counterexample.
const FILTER_TOKENS = ['a', 'b', '*'];
const TOPIC_TOKENS = ['a', 'b', 'z'];
const MAX_TOKENS = 4;

const ALL_TOPICS: string[] = (() => {
  const out: string[] = [];
  let layer = [''];
  for (let n = 1; n <= MAX_TOKENS + 1; n++) {
    layer = layer.flatMap((prefix) => TOPIC_TOKENS.map((t) => (prefix === '' ? t : `${prefix}.${t}`)));
    out.push(...layer);
  }
  return out;
})();

const ALL_FILTERS: string[] = (() => {
  const out: string[] = [];
  let layer = [''];
  for (let n = 1; n <= MAX_TOKENS; n++) {
    const next = layer.flatMap((prefix) => FILTER_TOKENS.map((t) => (prefix === '' ? t : `${prefix}.${t}`)));
    out.push(...next, ...layer.map((prefix) => (prefix === '' ? '>' : `${prefix}.>`)));
    layer = next;
  }
  return out;
})();

function coversByBruteForce(general: string, specific: string): boolean {
  return ALL_TOPICS.every((t) => !filterMatches(specific, t) || filterMatches(general, t));
}

test('filterCovers() equals brute force for every pair of small filters', () => {
  const matched = new Map(ALL_FILTERS.map((f) => [f, ALL_TOPICS.filter((t) => filterMatches(f, t))]));
  let covering = 0;
  for (const general of ALL_FILTERS) {
    for (const specific of ALL_FILTERS) {
      const want = matched.get(specific)!.every((t) => filterMatches(general, t));
      assert.equal(filterCovers(general, specific), want, `${general} covers ${specific}?`);
      if (want) covering++;
    }
  }
  assert.ok(covering > ALL_FILTERS.length, 'the alphabet produces real coverings');
});

function minimalCoverByBruteForce(filters: string[]): string[] {
  const distinct = [...new Set(filters)];
  return distinct.filter((s) => !distinct.some((g) => g !== s && coversByBruteForce(g, s))).sort();
}

for (const seed of [7, 8, 9, 10]) {
  test(`minimalCover() equals brute force on random filter sets (seed ${seed})`, () => {
    const rng = new SeededRandom(seed);
    for (let round = 0; round < 60; round++) {
      const filters: string[] = [];
      const n = rng.int(1, 25);
      for (let i = 0; i < n; i++) filters.push(rng.pick(ALL_FILTERS));
      if (rng.chance(0.3)) filters.push(filters[0]); // duplicates keep one copy
      assert.deepEqual(minimalCover(filters), minimalCoverByBruteForce(filters), `seed ${seed} round ${round}: ${filters.join(' ')}`);
    }
  });
}

test('minimalCover() keeps one of equal filters and sorts the result', () => {
  assert.deepEqual(minimalCover(['b.x', 'a.*', 'b.x', 'a.*']), ['a.*', 'b.x']);
  assert.deepEqual(minimalCover([]), []);
  assert.deepEqual(minimalCover(['db.orders.*', 'db.>', 'a.b', 'a.*']), ['a.*', 'db.>']);
  assert.deepEqual(minimalCover(['>', 'a', 'a.>', '*.*']), ['>']);
});

test('minimalCover() accepts any iterable, such as a Set or a generator', () => {
  assert.deepEqual(minimalCover(new Set(['a.b', 'a.*'])), ['a.*']);
  function* gen(): Generator<string> {
    yield 'x.>';
    yield 'x.y';
  }
  assert.deepEqual(minimalCover(gen()), ['x.>']);
});

test('minimalCover() reduces 100k realistic filters quickly', () => {
  const rng = new SeededRandom(42);
  const filters: string[] = [];
  for (let i = 0; i < 100_000; i++) {
    const tenant = `t${rng.int(0, 999)}`;
    const table = `tbl${rng.int(0, 199)}`;
    const r = rng.next();
    if (r < 0.6) filters.push(`tenant.${tenant}.db.${table}.${rng.pick(['insert', 'update', 'delete'])}`);
    else if (r < 0.8) filters.push(`tenant.${tenant}.db.${table}.*`);
    else if (r < 0.9) filters.push(`tenant.*.db.${table}.${rng.pick(['insert', 'update', 'delete'])}`);
    else if (r < 0.995) filters.push(`tenant.${tenant}.>`);
    else filters.push(`tenant.*.db.*.delete`);
  }
  const started = performance.now();
  const cover = minimalCover(filters);
  const ms = performance.now() - started;
  assert.ok(ms < 3000, `took ${ms.toFixed(0)} ms`);
  // Spot-check against the definition on a sample. Every filter here
  // starts 'tenant.<t>', so only kept filters with the same second token
  // or a wildcard there can cover it.
  const kept = new Set(cover);
  const bySecond = new Map<string, string[]>();
  for (const g of cover) {
    const second = g.split('.')[1] ?? '';
    if (!bySecond.has(second)) bySecond.set(second, []);
    bySecond.get(second)!.push(g);
  }
  const candidates = (f: string): string[] => {
    const second = f.split('.')[1];
    return [...(bySecond.get(second) ?? []), ...(bySecond.get('*') ?? []), ...(bySecond.get('>') ?? [])];
  };
  for (let i = 0; i < 2000; i++) {
    const f = rng.pick(filters);
    const covered = kept.has(f) || candidates(f).some((g) => filterCovers(g, f));
    assert.ok(covered, `${f} is neither kept nor covered`);
  }
  for (let i = 0; i < 2000; i++) {
    const g = rng.pick(cover);
    assert.ok(!candidates(g).some((other) => other !== g && filterCovers(other, g)), `${g} is covered by another kept filter`);
  }
});
