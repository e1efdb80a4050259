import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { narrowFilter } from '../../../broker/auth/internal.js';
import { filterCovers, filterMatches, minimalCover } from '../../../routing/mod.js';
import { filterArb, modelPermits, rulesArb, UNIVERSE } from './permission-model.js';

test('narrowFilter() keeps the part of a subscription the allow filters reach', () => {
  const cases: Array<[string, { allow?: string[]; deny?: string[] }, string[]]> = [
    ['>', { allow: ['a.>'] }, ['a.>']],
    ['*.x', { allow: ['a.*', 'b.>'] }, ['a.x', 'b.x']],
    ['orders.>', { allow: ['orders.*', 'public.>'] }, ['orders.*']],
    // Overlapping pieces are reduced to a minimal cover.
    ['a.*', { allow: ['a.>', 'a.b', '*.b'] }, ['a.*']],
    ['>', { allow: ['a.b', 'a.*', 'c.>', 'c.d.e'] }, ['a.*', 'c.>']],
    ['>', {}, []],
  ];
  for (const [filter, read, want] of cases) assert.deepEqual(narrowFilter(filter, read), want, `${filter} under ${JSON.stringify(read)}`);
});

test('narrowFilter() leaves a partly denied piece whole, and drops only a piece some deny filter covers', () => {
  // orders.> minus orders.*.pii has no filter spelling: per-delivery checks withhold the rest.
  assert.deepEqual(narrowFilter('>', { allow: ['orders.>'], deny: ['orders.*.pii'] }), ['orders.>']);
  assert.deepEqual(narrowFilter('>', { allow: ['>'], deny: ['payroll.>'] }), ['>']);
  assert.deepEqual(narrowFilter('>', { allow: ['a.>', 'b.>'], deny: ['b.>'] }), ['a.>']);
  assert.deepEqual(narrowFilter('*.x', { allow: ['a.*', 'b.*'], deny: ['b.>'] }), ['a.x']);
  assert.deepEqual(narrowFilter('b.*', { allow: ['b.x'], deny: ['b.x'] }), []);
});

test('narrowFilter(): reserved _mg. topics come only from allow filters that name _mg', () => {
  // `>` allowed does not grant _mg.x, but "> without _mg.>" has no filter spelling.
  assert.deepEqual(narrowFilter('>', { allow: ['>'] }), ['>']);
  assert.deepEqual(narrowFilter('>', { allow: ['a.>', '_mg.dlq.*'] }), ['_mg.dlq.*', 'a.>']);
  // A piece wholly under _mg. from an allow filter that does not name _mg grants nothing.
  assert.deepEqual(narrowFilter('_mg.*', { allow: ['>', '_mg.dlq'] }), ['_mg.dlq']);
  assert.deepEqual(narrowFilter('_mg.>', { allow: ['*.dlq.>'] }), []);
  assert.deepEqual(narrowFilter('_mg.>', { allow: ['_mg.>'] }), ['_mg.>']);
});

test('property: narrowFilter() loses no readable topic, matches nothing outside the subscription nor anything no allow filter grants (fast-check, brute-force model)', () => {
  let narrowed = 0;
  fc.assert(
    fc.property(rulesArb, filterArb, (rules, filter) => {
      const got = narrowFilter(filter, rules);
      const where = `${filter} under ${JSON.stringify(rules)} -> ${JSON.stringify(got)}`;
      for (const piece of got) assert.ok(filterCovers(filter, piece), `${piece} escapes ${filter}: ${where}`);
      for (const topic of UNIVERSE) {
        const by = got.filter((piece) => filterMatches(piece, topic));
        if (filterMatches(filter, topic) && modelPermits(rules, topic)) assert.ok(by.length > 0, `readable ${topic} lost: ${where}`);
        if (by.length === 0) continue;
        assert.ok(filterMatches(filter, topic), `${topic} is outside ${filter}: ${where}`);
        // Tight up to what filters cannot spell: a reserved topic only through
        // an allow filter naming _mg, unless the piece starts with a wildcard.
        const spansReserved = by.some((piece) => piece.startsWith('*') || piece.startsWith('>'));
        const grants = (a: string) => filterMatches(a, topic) && (!topic.startsWith('_mg.') || a.split('.')[0] === '_mg' || spansReserved);
        assert.ok(rules.allow.some(grants), `${topic} is granted by no allow filter: ${where}`);
      }
      assert.deepEqual(minimalCover(got), got, `not a minimal cover: ${where}`);
      if (got.length !== 1 || got[0] !== filter) narrowed++;
    }),
    { numRuns: 3000 },
  );
  assert.ok(narrowed > 300, `only ${narrowed} of 3000 cases narrowed anything`);
});
