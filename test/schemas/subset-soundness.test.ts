import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { proveSubset } from '../../schemas/mod.js';

// Soundness, checked by search: whenever the prover accepts old ⊆ new, no
// instance valid under old may be invalid under new. Schemas come from the
// keywords the prover understands plus a few it must refuse; instances from
// a small domain that hits the schemas' edges.

const KEYS = ['a', 'b', 'c'];
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -2, max: 6 }),
  fc.constant(2.5),
  fc.constantFrom('', 'a', 'ab', 'abc', 'abcdef', 'B'),
);

const instance: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...KEYS, 'z'), tie('value'), { maxKeys: 3 }).map((d) => ({ ...d })),
  ),
})).value;

const typeName = fc.constantFrom('null', 'boolean', 'integer', 'number', 'string', 'object', 'array');

let keywordArb: fc.Arbitrary<[string, unknown]> | undefined;

const schema: fc.Arbitrary<unknown> = fc.letrec((tie) => {
  const keyword = fc.oneof(
    fc.tuple(fc.constant('type'), fc.oneof(typeName, fc.uniqueArray(typeName, { minLength: 1, maxLength: 3 }))),
    fc.tuple(fc.constant('enum'), fc.uniqueArray(scalar, { minLength: 1, maxLength: 3, selector: (v) => JSON.stringify(v) })),
    fc.tuple(fc.constant('const'), scalar),
    fc.tuple(fc.constant('minLength'), fc.integer({ min: 0, max: 3 })),
    fc.tuple(fc.constant('maxLength'), fc.integer({ min: 0, max: 4 })),
    fc.tuple(fc.constant('pattern'), fc.constantFrom('^a', 'b$')),
    fc.tuple(fc.constant('minimum'), fc.integer({ min: -1, max: 4 })),
    fc.tuple(fc.constant('exclusiveMaximum'), fc.integer({ min: 0, max: 5 })),
    fc.tuple(fc.constant('multipleOf'), fc.constantFrom(1, 2, 3)),
    fc.tuple(fc.constant('properties'), fc.dictionary(fc.constantFrom(...KEYS), tie('node'), { maxKeys: 2 })),
    fc.tuple(fc.constant('required'), fc.uniqueArray(fc.constantFrom(...KEYS), { maxLength: 2 })),
    fc.tuple(fc.constant('additionalProperties'), tie('node')),
    fc.tuple(fc.constant('items'), tie('node')),
    fc.tuple(fc.constant('minItems'), fc.integer({ min: 0, max: 2 })),
    fc.tuple(fc.constant('maxItems'), fc.integer({ min: 0, max: 3 })),
    fc.tuple(fc.constant('uniqueItems'), fc.boolean()),
    fc.tuple(fc.constant('anyOf'), fc.array(tie('node'), { minLength: 1, maxLength: 2 })),
  );
  keywordArb = keyword as fc.Arbitrary<[string, unknown]>;
  return {
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      { arbitrary: fc.boolean(), weight: 1 },
      { arbitrary: fc.uniqueArray(keyword, { maxLength: 3, selector: ([k]) => k }).map((pairs) => Object.fromEntries(pairs) as unknown), weight: 8 },
    ),
  };
}).node;

/**
 * A pair (old, new) where new is usually old with one keyword added,
 * replaced or removed, at the root or in one property: the changes
 * compatibility checks meet, and the ones a wrong rule would let through.
 */
function mutate(node: unknown, edit: [string, unknown], remove: boolean, depth: number, pick: number): unknown {
  if (typeof node !== 'object' || node === null) return Object.fromEntries([edit]);
  const obj = { ...(node as Record<string, unknown>) };
  const props = obj.properties as Record<string, unknown> | undefined;
  const names = props ? Object.keys(props) : [];
  if (depth === 0 && names.length > 0 && pick % 2 === 1) {
    const name = names[pick % names.length];
    obj.properties = { ...props, [name]: mutate(props![name], edit, remove, 1, pick >> 1) };
    return obj;
  }
  const keys = Object.keys(obj);
  if (remove && keys.length > 0) delete obj[keys[pick % keys.length]];
  else obj[edit[0]] = edit[1];
  return obj;
}

const pair: fc.Arbitrary<[unknown, unknown]> = schema.chain((oldS) =>
  fc.oneof(
    { arbitrary: schema.map((newS) => [oldS, newS] as [unknown, unknown]), weight: 1 },
    {
      arbitrary: fc
        .tuple(keywordArb!, fc.boolean(), fc.nat(64), fc.boolean())
        .map(
          ([edit, remove, pick, flip]) =>
            (flip ? [mutate(oldS, edit, remove, 0, pick), oldS] : [oldS, mutate(oldS, edit, remove, 0, pick)]) as [unknown, unknown],
        ),
      weight: 3,
    },
  ),
);

const ajv = new Ajv2020({ strict: false, allowUnionTypes: true });

test('proveSubset() never accepts a pair for which an instance valid under the old schema fails the new one', () => {
  let accepted = 0;
  let trivial = 0;
  fc.assert(
    fc.property(pair, fc.array(instance, { minLength: 30, maxLength: 30 }), ([oldS, newS], xs) => {
      const problems = proveSubset(oldS, newS, true);
      if (problems.length > 0) return true;
      if (oldS === false || newS === true) trivial++;
      accepted++;
      const inOld = ajv.compile(oldS as object);
      const inNew = ajv.compile(newS as object);
      for (const x of xs) {
        if (inOld(x) && !inNew(x)) throw new Error(`accepted ${JSON.stringify(oldS)} ⊆ ${JSON.stringify(newS)}, but ${JSON.stringify(x)} is a counterexample`);
      }
      return true;
    }),
    { numRuns: 1500, seed: 20261122 },
  );
  assert.ok(accepted - trivial > 150, `only ${accepted - trivial} non-trivial accepted pairs: the search says little`);
  assert.ok(accepted < 1200, `${accepted} of 1500 accepted: the pairs are too easy`);
});

test('proveSubset() accepts every schema as a subset of itself', () => {
  fc.assert(
    fc.property(schema, (s) => {
      assert.deepEqual(proveSubset(s, s, true), []);
      return true;
    }),
    { numRuns: 500, seed: 7 },
  );
});
