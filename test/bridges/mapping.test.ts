/**
 * bridges/core/mapping.ts matches and rewrites topics without splitting
 * them per message; these properties pin it to routing's filterMatches
 * and to the token-wise prefix swap it replaced.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { matches, TopicMapping } from '../../bridges/core/internal.js';
import { filterMatches } from '../../routing/mod.js';

const token = fc.constantFrom('a', 'b', 'ab', 'a%2E', 'x');
const topic = fc.array(token, { minLength: 1, maxLength: 5 }).map((t) => t.join('.'));
/** A filter: literal or `*` tokens, optionally ending in `>`. */
const filter = fc
  .tuple(fc.array(fc.oneof(token, fc.constant('*')), { minLength: 0, maxLength: 4 }), fc.boolean())
  .filter(([tokens, tail]) => tokens.length > 0 || tail)
  .map(([tokens, tail]) => [...tokens, ...(tail ? ['>'] : [])].join('.'));
const prefix = fc.array(token, { minLength: 0, maxLength: 3 });

/** The token-wise rewrite: swap the first `from.length` tokens for `to`. */
function swapTokens(text: string, from: readonly string[], to: readonly string[]): string {
  return [...to, ...text.split('.').slice(from.length)].join('.');
}

test('matches() agrees with routing filterMatches() for every filter and topic', () => {
  fc.assert(
    fc.property(filter, topic, (f, t) => matches(f.split('.'), t) === filterMatches(f, t)),
    { numRuns: 5000 },
  );
});

test('TopicMapping.toBroker() and toMesh() give what matching then swapping whole tokens gives', () => {
  fc.assert(
    fc.property(filter, prefix, topic, (meshFilter, brokerPrefix, t) => {
      const tokens = meshFilter.split('.');
      let lit = 0;
      while (lit < tokens.length && tokens[lit] !== '*' && tokens[lit] !== '>') lit++;
      const meshPrefix = tokens.slice(0, lit);
      // Config forbids a mapping that would map onto an empty topic.
      fc.pre(brokerPrefix.length > 0 || lit < tokens.length);
      const m = new TopicMapping(meshFilter, brokerPrefix);
      assert.equal(m.toBroker(t), filterMatches(meshFilter, t) ? swapTokens(t, meshPrefix, brokerPrefix) : null);
      assert.equal(m.toMesh(t), filterMatches(m.brokerFilter, t) ? swapTokens(t, brokerPrefix, meshPrefix) : null);
    }),
    { numRuns: 5000 },
  );
});
