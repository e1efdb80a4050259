/**
 * A brute-force model of read and publish rights, and generators for
 * them, shared by the property tests of permissions.ts and
 * narrow-filter.ts: checking a claim about filters on every topic of a
 * small universe finds any counterexample the alphabet can express.
 */
import fc from 'fast-check';
import { filterMatches } from '../../../routing/mod.js';

/** Every topic of 1-4 tokens over a, b, c (c appears in no filter: "any other token") and _mg. */
const TOKENS = ['a', 'b', 'c', '_mg'];
export const UNIVERSE: string[] = [];
for (let n = 1; n <= 4; n++) {
  const walk = (prefix: string[]) => {
    if (prefix.length === n) return void UNIVERSE.push(prefix.join('.'));
    for (const t of TOKENS) walk([...prefix, t]);
  };
  walk([]);
}

export const filterArb = fc
  .array(fc.constantFrom('a', 'b', '_mg', '*', '>'), { minLength: 1, maxLength: 3 })
  .filter((ts) => ts.indexOf('>') === -1 || ts.indexOf('>') === ts.length - 1)
  .map((ts) => ts.join('.'));
export const rulesArb = fc.record({ allow: fc.array(filterArb, { maxLength: 4 }), deny: fc.array(filterArb, { maxLength: 2 }) });

/** The model: readable iff no deny matches and an allow matches; reserved _mg.* only through an allow starting with _mg. */
export function modelPermits(rules: { allow: string[]; deny: string[] }, topic: string): boolean {
  if (rules.deny.some((d) => filterMatches(d, topic))) return false;
  const reserved = topic.startsWith('_mg.');
  return rules.allow.some((a) => filterMatches(a, topic) && (!reserved || a.split('.')[0] === '_mg'));
}
