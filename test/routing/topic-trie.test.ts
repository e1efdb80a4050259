import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterMatches, TopicError, TopicTrie } from '../../routing/mod.js';
import { SeededRandom } from './seeded-random.js';

const sorted = <T>(values: readonly T[]): T[] => [...values].sort();

test('TopicTrie.match() lets * match exactly one token', () => {
  const trie = new TopicTrie<string>();
  trie.add('a.*', 'x');
  assert.deepEqual(trie.match('a.b'), ['x']);
  assert.deepEqual(trie.match('a'), []);
  assert.deepEqual(trie.match('a.b.c'), []);
});

test('TopicTrie.match() lets > match one or more trailing tokens, never zero', () => {
  const trie = new TopicTrie<string>();
  trie.add('a.>', 'x');
  trie.add('>', 'all');
  assert.deepEqual(sorted(trie.match('a.b')), ['all', 'x']);
  assert.deepEqual(sorted(trie.match('a.b.c.d')), ['all', 'x']);
  assert.deepEqual(trie.match('a'), ['all']);
});

test('TopicTrie.match() returns a value once even when several of its filters match', () => {
  const trie = new TopicTrie<string>();
  for (const filter of ['a.b', 'a.*', 'a.>', '*.b', '>']) trie.add(filter, 'same');
  trie.add('a.b', 'other');
  assert.deepEqual(sorted(trie.match('a.b')), ['other', 'same']);
});

test('TopicTrie.add() returns false for a pair already present, and size counts pairs', () => {
  const trie = new TopicTrie<number>();
  assert.equal(trie.add('a.b', 1), true);
  assert.equal(trie.add('a.b', 1), false);
  assert.equal(trie.add('a.b', 2), true);
  assert.equal(trie.add('a.>', 1), true);
  assert.equal(trie.size, 3);
});

test('TopicTrie.add() throws TopicError for a filter that breaks the syntax', () => {
  const trie = new TopicTrie<number>();
  assert.throws(
    () => trie.add('a.>.b', 1),
    (err: unknown) => err instanceof TopicError && err.code === 'MG_ERR_TOPIC_INVALID' && err.name === 'TopicError',
  );
  assert.throws(() => trie.add('', 1), TopicError);
  assert.equal(trie.size, 0);
});

test('TopicTrie.remove() returns false when the pair is absent and prunes empty nodes', () => {
  const trie = new TopicTrie<number>();
  trie.add('a.b.c', 1);
  trie.add('a.*', 2);
  trie.add('a.>', 3);
  assert.equal(trie.remove('a.b.c', 9), false);
  assert.equal(trie.remove('a.b', 1), false);
  assert.equal(trie.remove('x.y', 1), false);
  assert.equal(trie.remove('a.b.c', 1), true);
  assert.equal(trie.remove('a.b.c', 1), false);
  assert.equal(trie.has('a.b.c'), false);
  assert.deepEqual(sorted(trie.filters()), ['a.*', 'a.>']);
  assert.equal(trie.remove('a.*', 2), true);
  assert.equal(trie.remove('a.>', 3), true);
  assert.equal(trie.size, 0);
  assert.deepEqual(trie.filters(), []);
  assert.deepEqual(trie.match('a.b.c'), []);
});

test('TopicTrie.has() tells whether any value sits on exactly that filter', () => {
  const trie = new TopicTrie<number>();
  trie.add('a.*', 1);
  trie.add('>', 1);
  assert.equal(trie.has('a.*'), true);
  assert.equal(trie.has('>'), true);
  assert.equal(trie.has('a.b'), false);
  assert.equal(trie.has('a'), false);
  assert.equal(trie.has('a.>'), false);
});

test('TopicTrie.filters() lists each distinct filter once', () => {
  const trie = new TopicTrie<number>();
  const filters = ['>', 'a', 'a.b', 'a.*', 'a.>', '*.*.>', '*'];
  for (const f of filters) {
    trie.add(f, 1);
    trie.add(f, 2);
  }
  assert.deepEqual(sorted(trie.filters()), sorted(filters));
});

test('TopicTrie.match() results are frozen and shared from the cache', () => {
  const trie = new TopicTrie<number>();
  trie.add('a.*', 1);
  const first = trie.match('a.b');
  assert.ok(Object.isFrozen(first));
  assert.equal(trie.match('a.b'), first);
  assert.ok(Object.isFrozen(trie.match('zzz')));
  const stats = trie.cacheStats();
  assert.equal(stats.hits, 1);
  assert.equal(stats.misses, 2);
});

test('TopicTrie.add() and remove() invalidate cached results', () => {
  const trie = new TopicTrie<number>();
  trie.add('a.*', 1);
  assert.deepEqual(trie.match('a.b'), [1]);
  trie.add('a.b', 2);
  assert.deepEqual(sorted(trie.match('a.b')), [1, 2]);
  trie.remove('a.*', 1);
  assert.deepEqual(trie.match('a.b'), [2]);
  trie.add('a.b', 2); // no change: the cached result stays right either way
  assert.deepEqual(trie.match('a.b'), [2]);
  trie.remove('a.b', 2);
  assert.deepEqual(trie.match('a.b'), []);
});

test('TopicTrie keeps the cache within cacheSize', () => {
  const trie = new TopicTrie<number>({ cacheSize: 10 });
  trie.add('>', 1);
  for (let i = 0; i < 1000; i++) trie.match(`t.${i}`);
  assert.ok(trie.cacheStats().entries <= 10, String(trie.cacheStats().entries));
});

test('TopicTrie keeps topics that stay in use across cache generations', () => {
  const trie = new TopicTrie<number>({ cacheSize: 8 });
  trie.add('>', 1);
  const hot = trie.match('hot');
  for (let i = 0; i < 100; i++) {
    trie.match(`cold.${i}`);
    assert.equal(trie.match('hot'), hot, `hot topic evicted after ${i} cold ones`);
  }
});

test('TopicTrie with cacheSize 0 matches without caching', () => {
  const trie = new TopicTrie<number>({ cacheSize: 0 });
  trie.add('a.*', 1);
  assert.deepEqual(trie.match('a.b'), [1]);
  assert.deepEqual(trie.match('a.b'), [1]);
  assert.equal(trie.cacheStats().hits, 0);
  assert.equal(trie.cacheStats().entries, 0);
});

test('TopicTrie refuses a cacheSize that is not a non-negative integer', () => {
  assert.throws(() => new TopicTrie({ cacheSize: -1 }), RangeError);
  assert.throws(() => new TopicTrie({ cacheSize: 1.5 }), RangeError);
});

test('TopicTrie.match() never throws, whatever the topic', () => {
  const trie = new TopicTrie<number>();
  trie.add('>', 1);
  trie.add('*', 2);
  for (const topic of ['', '.', 'a..b', '*', '>', 'a.>.b', ' ']) assert.doesNotThrow(() => trie.match(topic));
});

// --- against brute force -------------------------------------------------

const TOPIC_TOKENS = ['a', 'b', 'c', 'd', 'e'];
const FILTER_TOKENS = ['a', 'b', 'c', 'd', '*', '*'];

function randomTopic(rng: SeededRandom): string {
  const n = rng.int(1, 5);
  const tokens: string[] = [];
  for (let i = 0; i < n; i++) tokens.push(rng.pick(TOPIC_TOKENS));
  return tokens.join('.');
}

function randomFilter(rng: SeededRandom): string {
  const n = rng.int(1, 5);
  const tokens: string[] = [];
  for (let i = 0; i < n; i++) tokens.push(rng.pick(FILTER_TOKENS));
  if (rng.chance(0.3)) tokens[n - 1] = '>';
  return tokens.join('.');
}

function bruteForce(pairs: ReadonlyMap<string, Set<number>>, topic: string): number[] {
  const out = new Set<number>();
  for (const [filter, values] of pairs) {
    if (filterMatches(filter, topic)) for (const v of values) out.add(v);
  }
  return [...out].sort((x, y) => x - y);
}

function assertAgrees(trie: TopicTrie<number>, pairs: Map<string, Set<number>>, topics: string[], seed: number): void {
  for (const topic of topics) {
    const got = [...trie.match(topic)].sort((x, y) => x - y);
    assert.deepEqual(got, bruteForce(pairs, topic), `seed ${seed}, topic ${topic}`);
  }
}

for (const seed of [1, 2, 3]) {
  for (const cacheSize of [4096, 16, 0]) {
    test(`TopicTrie.match() equals brute force over random filters, adds and removes (seed ${seed}, cacheSize ${cacheSize})`, () => {
      const rng = new SeededRandom(seed);
      const trie = new TopicTrie<number>({ cacheSize });
      const pairs = new Map<string, Set<number>>();
      const add = (filter: string, value: number): void => {
        const had = pairs.get(filter)?.has(value) ?? false;
        assert.equal(trie.add(filter, value), !had);
        if (!pairs.has(filter)) pairs.set(filter, new Set());
        pairs.get(filter)!.add(value);
      };
      // Few values over many filters, so each value sits on several.
      for (let i = 0; i < 300; i++) add(randomFilter(rng), rng.int(0, 49));
      const topics: string[] = [];
      // Repeats on purpose: the second round is served from the cache.
      for (let i = 0; i < 1500; i++) topics.push(randomTopic(rng));
      assertAgrees(trie, pairs, topics, seed);
      assertAgrees(trie, pairs, topics, seed);

      // Interleave changes with matches: every change must invalidate.
      for (let round = 0; round < 200; round++) {
        if (rng.chance(0.5) && pairs.size > 0) {
          const filters = [...pairs.keys()];
          const filter = rng.pick(filters);
          const values = [...pairs.get(filter)!];
          const value = rng.chance(0.9) ? rng.pick(values) : 1000;
          const present = pairs.get(filter)!.delete(value);
          if (pairs.get(filter)!.size === 0) pairs.delete(filter);
          assert.equal(trie.remove(filter, value), present);
        } else {
          add(randomFilter(rng), rng.int(0, 49));
        }
        assertAgrees(trie, pairs, topics.slice(round * 5, round * 5 + 10), seed);
      }
      assertAgrees(trie, pairs, topics, seed);
      assert.equal(
        trie.size,
        [...pairs.values()].reduce((n, s) => n + s.size, 0),
      );
      assert.deepEqual(sorted(trie.filters()), sorted([...pairs.keys()]));

      // Remove everything: the trie ends empty.
      for (const [filter, values] of pairs) for (const v of values) assert.equal(trie.remove(filter, v), true);
      assert.equal(trie.size, 0);
      assert.deepEqual(trie.filters(), []);
      for (const topic of topics.slice(0, 100)) assert.deepEqual(trie.match(topic), []);
    });
  }
}

test('TopicTrie.match() shares one result between topics that match the same filters', () => {
  const trie = new TopicTrie<number>();
  trie.add('db.orders.>', 1);
  trie.add('db.*.insert.>', 2);
  trie.add('db.orders.insert.>', 1);
  const first = trie.match('db.orders.insert.1');
  const second = trie.match('db.orders.insert.2');
  assert.deepEqual(sorted(first), [1, 2]);
  assert.equal(second, first);
  assert.equal(trie.cacheStats().combinationHits, 1);
  // A change rebuilds the shared result.
  trie.add('db.orders.insert.3', 3);
  assert.deepEqual(sorted(trie.match('db.orders.insert.3')), [1, 2, 3]);
  trie.remove('db.*.insert.>', 2);
  assert.deepEqual(trie.match('db.orders.insert.4'), [1]);
  assert.deepEqual(sorted(first), [1, 2], 'a result handed out earlier never changes');
});

test('TopicTrie keeps deduplicating correctly when values leave and come back', () => {
  const trie = new TopicTrie<string>();
  for (let round = 0; round < 50; round++) {
    const v = `v${round % 7}`;
    trie.add('a.>', v);
    trie.add('a.*', v);
    trie.add('*.b', `w${round % 3}`);
    assert.deepEqual(
      trie.match(`a.b`).filter((x) => x === v),
      [v],
    );
    trie.remove('a.>', v);
    if (round % 2 === 0) trie.remove('a.*', v);
  }
  const got = sorted(trie.match('a.b'));
  assert.equal(new Set(got).size, got.length);
});
