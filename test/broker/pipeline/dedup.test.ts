import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MeshError } from '../../../broker/base/mod.js';
import { DedupWindow } from '../../../broker/pipeline/internal.js';

/** The topic of every check in tests that are not about the topic scope. */
const T = 'orders.eu';

function clocked(options: { ttlMs?: number; maxEntries?: number } = {}) {
  const clock = { t: 1_000 };
  const dedup = new DedupWindow({ ...options, now: () => clock.t });
  return { clock, dedup };
}

test('isDuplicate() records a new (source, id) and reports the second sighting, counting it', () => {
  const { dedup } = clocked();
  assert.equal(dedup.isDuplicate(T, '/s', '1'), false);
  assert.equal(dedup.isDuplicate(T, '/s', '1'), true);
  assert.equal(dedup.isDuplicate(T, '/s', '1'), true);
  assert.equal(dedup.size, 1);
  assert.deepEqual(dedup.stats(), { entries: 1, duplicates: 2, evictedByAge: 0, evictedBySize: 0 });
});

test('the same id from another source is not a duplicate (CloudEvents: source + id identify an event)', () => {
  const { dedup } = clocked();
  assert.equal(dedup.isDuplicate(T, '/a', '1'), false);
  assert.equal(dedup.isDuplicate(T, '/b', '1'), false);
});

test('the same (source, id) on another topic is not a duplicate: a producer cannot suppress an event on a topic it may not publish', () => {
  const { dedup } = clocked();
  assert.equal(dedup.isDuplicate('a.decoy', 'billing-svc', 'invoice-42'), false);
  assert.equal(dedup.isDuplicate('b.billing', 'billing-svc', 'invoice-42'), false, 'the real event on its own topic passes');
  assert.equal(dedup.isDuplicate('b.billing', 'billing-svc', 'invoice-42'), true, 'a retry on the same topic is still a duplicate');
  assert.equal(dedup.isDuplicate('a.decoy', 'billing-svc', 'invoice-42'), true);
  assert.equal(dedup.size, 2);
});

test('keys whose parts split the same characters differently are never suppressed (topic, source and id boundaries)', () => {
  const { dedup } = clocked();
  const keys: [string, string, string][] = [
    ['a.b', 'c', 'x'],
    ['a', 'b.c', 'x'],
    ['a', 'b', 'c.x'],
    ['a.b.c', '', 'x'],
    ['', 'a.b.c', 'x'],
    ['a.b.c', 'x', ''],
    ['', '', 'a.b.cx'],
    ['a.b.cx', '', ''],
    ['a\u0080', 'b', 'c'],
    ['a', '\u0080b', 'c'],
    ['a\u00ff', '', ''],
    ['a', '\u00ff', ''],
    ['\u0080', '', ''],
    ['', '\u0080', ''],
    ['', '', '\u0080'],
    ['', '', ''],
  ];
  for (const [topic, source, id] of keys) assert.equal(dedup.isDuplicate(topic, source, id), false, JSON.stringify([topic, source, id]));
  for (const [topic, source, id] of keys) assert.equal(dedup.isDuplicate(topic, source, id), true, JSON.stringify([topic, source, id]));
  assert.equal(dedup.size, keys.length);
});

test('pairs that collide under naive source+id concatenation are never suppressed', () => {
  const { dedup } = clocked();
  const pairs: [string, string][] = [
    ['a', 'bc'],
    ['ab', 'c'],
    ['abc', ''],
    ['', 'abc'],
    ['1:a', 'b'],
    ['1', ':ab'],
    ['3:a', 'b'],
    ['a:b', 'c'],
    ['a', ':bc'],
    ['a\u0000', 'b'],
    ['a', '\u0000b'],
    ['10:', 'x'],
    ['1', '0:x'],
  ];
  for (const [source, id] of pairs) assert.equal(dedup.isDuplicate(T, source, id), false, JSON.stringify([source, id]));
  for (const [source, id] of pairs) assert.equal(dedup.isDuplicate(T, source, id), true, JSON.stringify([source, id]));
  assert.equal(dedup.size, pairs.length);
});

test('distinct ids are never suppressed, across arena growth and ring wrap-around', () => {
  const { clock, dedup } = clocked({ ttlMs: 1_000, maxEntries: 5_000 });
  let seen = 0;
  for (let i = 0; i < 20_000; i++) {
    if (i % 7 === 0) clock.t += 1;
    assert.equal(dedup.isDuplicate(T, '/s', `id-${i}`), false);
    seen++;
  }
  assert.equal(seen, 20_000);
  assert.equal(dedup.stats().duplicates, 0);
});

test('a pair expires ttlMs after it was first seen (injected clock)', () => {
  const { clock, dedup } = clocked({ ttlMs: 100 });
  dedup.isDuplicate(T, '/s', '1');
  clock.t += 99;
  assert.equal(dedup.isDuplicate(T, '/s', '1'), true, 'still inside the window');
  clock.t += 1;
  assert.equal(dedup.isDuplicate(T, '/s', '1'), false, 'ttlMs later it is new again');
  assert.equal(dedup.stats().evictedByAge, 1);
  assert.equal(dedup.size, 1);
});

test('a duplicate does not refresh the entry: a producer retrying forever cannot pin it', () => {
  const { clock, dedup } = clocked({ ttlMs: 100 });
  dedup.isDuplicate(T, '/s', 'retry');
  for (let i = 0; i < 9; i++) {
    clock.t += 10;
    assert.equal(dedup.isDuplicate(T, '/s', 'retry'), true);
  }
  clock.t += 10; // 100 ms after the first sighting
  assert.equal(dedup.isDuplicate(T, '/s', 'retry'), false);
});

test('expiry is lazy and from the oldest: everything older than ttlMs leaves on the next check', () => {
  const { clock, dedup } = clocked({ ttlMs: 50 });
  for (let i = 0; i < 5; i++) {
    dedup.isDuplicate(T, '/s', `${i}`); // seen at 1000, 1010, 1020, 1030, 1040
    clock.t += 10;
  }
  clock.t = 1075;
  assert.equal(dedup.size, 5, 'nothing leaves without a check');
  assert.equal(dedup.isDuplicate(T, '/s', 'new'), false);
  // cutoff 1075 - 50 = 1025: the pairs seen at 1000, 1010 and 1020 are gone
  assert.equal(dedup.stats().evictedByAge, 3);
  assert.equal(dedup.size, 3);
  assert.equal(dedup.isDuplicate(T, '/s', '4'), true);
  assert.equal(dedup.isDuplicate(T, '/s', '3'), true);
  assert.equal(dedup.isDuplicate(T, '/s', '2'), false);
});

test('maxEntries bounds the window: the oldest pair is forgotten first and counted', () => {
  const { dedup } = clocked({ maxEntries: 3 });
  for (const id of ['a', 'b', 'c', 'd']) assert.equal(dedup.isDuplicate(T, '/s', id), false);
  assert.equal(dedup.size, 3);
  assert.equal(dedup.stats().evictedBySize, 1);
  assert.equal(dedup.isDuplicate(T, '/s', 'd'), true);
  assert.equal(dedup.isDuplicate(T, '/s', 'b'), true);
  assert.equal(dedup.isDuplicate(T, '/s', 'a'), false, 'a was evicted, so it is new again');
  assert.equal(dedup.size, 3);
});

test('maxEntries holds while the window churns well past it, and evicts the oldest first', () => {
  const { dedup } = clocked({ maxEntries: 3_000 });
  for (let i = 0; i < 10_000; i++) dedup.isDuplicate(T, '/s', `${i}`);
  assert.equal(dedup.size, 3_000);
  assert.equal(dedup.stats().evictedBySize, 7_000);
  assert.equal(dedup.isDuplicate(T, '/s', '9999'), true);
  assert.equal(dedup.isDuplicate(T, '/s', '7000'), true);
  assert.equal(dedup.isDuplicate(T, '/s', '6999'), false);
});

test('a clock that steps back does not break time order or forget pairs early', () => {
  const { clock, dedup } = clocked({ ttlMs: 100 });
  dedup.isDuplicate(T, '/s', '1');
  clock.t -= 500;
  assert.equal(dedup.isDuplicate(T, '/s', '2'), false);
  assert.equal(dedup.isDuplicate(T, '/s', '1'), true);
  clock.t += 599;
  assert.equal(dedup.isDuplicate(T, '/s', '1'), true, 'treated as 99 ms after the first sighting');
});

test('the default clock works without injection', () => {
  const dedup = new DedupWindow();
  assert.equal(dedup.isDuplicate(T, '/s', '1'), false);
  assert.equal(dedup.isDuplicate(T, '/s', '1'), true);
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
  assert.equal(dedup.isDuplicate(T, '/s1', 'x'), false);
  assert.equal(dedup.isDuplicate(T, '/s2', 'x'), false, 'same id, other source: not a duplicate');
  assert.equal(dedup.isDuplicate(T, '/s3', 'x'), false);
  assert.equal(dedup.isDuplicate(T, '/s2', 'x'), true);
  assert.equal(dedup.isDuplicate(T, '/s', 'y'), false, 'the window is full: (/s1, x) is forgotten');
  assert.equal(dedup.isDuplicate(T, '/s2', 'x'), true);
  assert.equal(dedup.isDuplicate(T, '/s3', 'x'), true);
  assert.equal(dedup.isDuplicate(T, '/s1', 'x'), false, 'the oldest pair went first');
  assert.equal(dedup.size, 3);
});

/** The window's contract, written the obvious way: a list in time order, searched end to end. */
class ModelWindow {
  /** In time order; a forgotten entry keeps its place (and its count) until it leaves, but matches nothing. */
  readonly held: { topic: string; source: string; id: string; t: number; gone?: boolean }[] = [];
  last = -Infinity;
  duplicates = 0;
  evictedByAge = 0;
  evictedBySize = 0;
  constructor(
    readonly ttlMs: number,
    readonly maxEntries: number,
  ) {}
  isDuplicate(topic: string, source: string, id: string, now: number): boolean {
    const t = Math.max(now, this.last);
    this.last = t;
    while (this.held.length > 0 && this.held[0].t <= t - this.ttlMs) {
      this.held.shift();
      this.evictedByAge++;
    }
    if (this.held.some((e) => !e.gone && e.topic === topic && e.source === source && e.id === id)) {
      this.duplicates++;
      return true;
    }
    if (this.held.length === this.maxEntries) {
      this.held.shift();
      this.evictedBySize++;
    }
    this.held.push({ topic, source, id, t });
    return false;
  }
  forget(topic: string, source: string, id: string): boolean {
    const e = this.held.find((e) => !e.gone && e.topic === topic && e.source === source && e.id === id);
    if (e !== undefined) e.gone = true;
    return e !== undefined;
  }
}

test('the window answers exactly as the obvious model does: random checks across topics, forgets, clock steps, bounds, odd and long keys', () => {
  // Few distinct keys, so duplicates, evictions and re-sightings are common;
  // non-ASCII and long keys exercise the arena's wide chars, wrap and growth;
  // small windows make table collisions and backward shifts frequent.
  const text = fc.oneof(
    fc.constantFrom('', 'a', 'b', 'ab', 'é', 'a\u0000', '\u{1F600}', '\uffff'),
    fc.string({ maxLength: 3, unit: 'binary' }),
    // Letters in a phase per key, so one key overwriting part of another would show.
    fc.nat({ max: 3 }).map((n) => Array.from({ length: 20_000 + n }, (_, i) => String.fromCharCode(97 + ((i + 7 * n) % 26))).join('')),
  );
  // Topics that split the same characters differently from a source ("a.b", "c" vs "a", "b.c"), and the texts above.
  const topic = fc.oneof(fc.constantFrom('a', 'a.b', 'b.c', 'c', 'orders.eu'), text);
  const step = fc.oneof(
    { weight: 8, arbitrary: fc.record({ topic, source: text, id: text }) },
    { weight: 2, arbitrary: fc.record({ advance: fc.integer({ min: -5, max: 40 }) }) },
    // A refused commit forgets a key anywhere in the window (MeshNode on a failed durable store):
    // the k-th most recently checked key, so forgets mostly hit held keys.
    { weight: 2, arbitrary: fc.record({ forgetBack: fc.nat({ max: 70 }) }) },
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 100 }), fc.array(step, { maxLength: 400 }), (maxEntries, ttlMs, steps) => {
      const clock = { t: 0 };
      const dedup = new DedupWindow({ ttlMs, maxEntries, now: () => clock.t });
      const model = new ModelWindow(ttlMs, maxEntries);
      const checked: { topic: string; source: string; id: string }[] = [];
      for (const s of steps) {
        if ('advance' in s) {
          clock.t += s.advance;
          continue;
        }
        if ('forgetBack' in s) {
          const f = checked[checked.length - 1 - s.forgetBack];
          if (f !== undefined) assert.equal(dedup.forget(f.topic, f.source, f.id), model.forget(f.topic, f.source, f.id), 'forget');
          continue;
        }
        checked.push(s);
        const expected = model.isDuplicate(s.topic, s.source, s.id, clock.t);
        assert.equal(dedup.isDuplicate(s.topic, s.source, s.id), expected, JSON.stringify([s.topic.slice(0, 20), s.source.slice(0, 20), s.id.slice(0, 20)]));
      }
      assert.deepEqual(dedup.stats(), {
        entries: model.held.length,
        duplicates: model.duplicates,
        evictedByAge: model.evictedByAge,
        evictedBySize: model.evictedBySize,
      });
    }),
    { numRuns: 300 },
  );
});

test('a window that churns far past its bound stays exact: every re-sent recent pair is caught, every old one passes', () => {
  const { dedup } = clocked({ maxEntries: 1_000 });
  for (let i = 0; i < 50_000; i++) {
    assert.equal(dedup.isDuplicate(T, `/s${i % 3}`, `id-${i}`), false);
    if (i >= 999) assert.equal(dedup.isDuplicate(T, `/s${(i - 999) % 3}`, `id-${i - 999}`), true, `id-${i - 999} is the oldest held`);
  }
  assert.equal(dedup.isDuplicate(T, '/s0', 'id-0'), false, 'long forgotten');
  assert.equal(dedup.stats().duplicates, 50_000 - 999);
});

test('keys of mixed lengths churning through a small window: the arena wraps and grows, and no held key is ever damaged', () => {
  const { dedup } = clocked({ maxEntries: 8 });
  let seed = 7;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  // Each key's letters run in its own phase, so a key overwritten by another shows.
  const keyOf = (i: number) => {
    // Lengths creep up, so the arena keeps running short: it wraps and grows all along.
    const length = 1 + Math.floor(random() ** 2 * (100 + 4 * i));
    // Every third key is all non-ASCII (three arena bytes a char, the most a key can take).
    const base = i % 3 === 0 ? 0xc0 : 97;
    return Array.from({ length }, (_, j) => String.fromCharCode(base + ((j + i) % 26))).join('');
  };
  const keys: string[] = [];
  for (let i = 0; i < 3_000; i++) {
    keys.push(keyOf(i));
    assert.equal(dedup.isDuplicate(T, '/s', keys[i]), false, `key ${i} is new`);
    const oldest = Math.max(0, i - 7);
    for (const k of [oldest, i - Math.floor(random() * (i - oldest + 1)), i]) {
      assert.equal(dedup.isDuplicate(T, '/s', keys[k]), true, `key ${k} is held at step ${i}`);
    }
    keys[oldest - 1] = ''; // let the strings go: only the window's copies remain
  }
});

test('forget() takes one key out from anywhere in the window; the rest stay exact as the forgotten entry ages out', () => {
  const { dedup } = clocked({ maxEntries: 4 });
  for (const id of ['a', 'b', 'c']) assert.equal(dedup.isDuplicate(T, '/s', id), false);
  assert.equal(dedup.forget(T, '/s', 'b'), true, 'b was held');
  assert.equal(dedup.forget(T, '/s', 'b'), false, 'and is held no more');
  assert.equal(dedup.forget('other.topic', '/s', 'a'), false, 'the key is scoped by topic');
  assert.equal(dedup.isDuplicate(T, '/s', 'a'), true);
  assert.equal(dedup.isDuplicate(T, '/s', 'c'), true);
  assert.equal(dedup.isDuplicate(T, '/s', 'b'), false, 'a forgotten key counts as new');
  // Churn past the bound: the forgotten entry (and every other) leaves in time order.
  for (let i = 0; i < 20; i++) assert.equal(dedup.isDuplicate(T, '/s', `n${i}`), false);
  for (let i = 16; i < 20; i++) assert.equal(dedup.isDuplicate(T, '/s', `n${i}`), true, `n${i} is among the newest 4`);
  assert.equal(dedup.isDuplicate(T, '/s', 'b'), false, 'long gone');
  assert.equal(dedup.stats().entries, 4);
});
