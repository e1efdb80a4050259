import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson } from '../../schemas/internal.js';
import { type CompatibilityMode, checkCompatibility, proveSubset, SchemaError, SchemaRegistry, schemaIdOf } from '../../schemas/mod.js';

type Json = Record<string, unknown>;
const str = { type: 'string' };
const obj = (properties: Json, extra: Json = {}): Json => ({ type: 'object', properties, ...extra });
const closed = (properties: Json, extra: Json = {}): Json => obj(properties, { additionalProperties: false, ...extra });

/**
 * One change from old to new, and whether each direction holds:
 * backward: every instance valid under old is valid under new;
 * forward: every instance valid under new is valid under old.
 * When a direction fails, `why` is the reason the checker must give.
 */
interface Change {
  readonly name: string;
  readonly old: Json;
  readonly new: Json;
  readonly backward: true | RegExp;
  readonly forward: true | RegExp;
}

const CHANGES: Change[] = [
  { name: 'identical schema', old: obj({ a: str }), new: obj({ a: str }), backward: true, forward: true },
  { name: 'description and title added', old: obj({ a: str }), new: obj({ a: { ...str, description: 'A' } }, { title: 'T' }), backward: true, forward: true },
  {
    name: 'optional property added to a closed object',
    old: closed({ a: str }),
    new: closed({ a: str, b: { type: 'integer' } }),
    backward: true,
    forward: /property 'b' added while the old schema's additionalProperties is false at \/properties\/b/,
  },
  {
    name: 'optional typed property added to an open object (old data may carry b of any type)',
    old: obj({ a: str }),
    new: obj({ a: str, b: { type: 'integer' } }),
    backward: /type of \/properties\/b narrowed from any to integer/,
    forward: true,
  },
  {
    name: 'optional property removed from a closed object',
    old: closed({ a: str, b: str }),
    new: closed({ a: str }),
    backward: /property 'b' removed while additionalProperties is false at \/properties\/b/,
    forward: true,
  },
  {
    name: 'property made required',
    old: obj({ a: str }),
    new: obj({ a: str }, { required: ['a'] }),
    backward: /property 'a' became required at \/properties\/a/,
    forward: true,
  },
  {
    name: 'property no longer required',
    old: obj({ a: str }, { required: ['a'] }),
    new: obj({ a: str }),
    backward: true,
    forward: /property 'a' is no longer required at \/properties\/a/,
  },
  {
    name: 'type widened to nullable',
    old: obj({ y: str }),
    new: obj({ y: { type: ['string', 'null'] } }),
    backward: true,
    forward: /type of \/properties\/y widened from string to \[string,null\]/,
  },
  {
    name: 'type narrowed',
    old: obj({ y: { type: ['string', 'number'] } }),
    new: obj({ y: str }),
    backward: /type of \/properties\/y narrowed from \[string,number\] to string/,
    forward: true,
  },
  {
    name: 'integer widened to number',
    old: obj({ n: { type: 'integer' } }),
    new: obj({ n: { type: 'number' } }),
    backward: true,
    forward: /type of \/properties\/n widened from integer to number/,
  },
  {
    name: 'enum value removed',
    old: obj({ e: { enum: ['x', 'y', 'z'] } }),
    new: obj({ e: { enum: ['x', 'y'] } }),
    backward: /enum value 'z' removed at \/properties\/e/,
    forward: true,
  },
  {
    name: 'enum value added',
    old: obj({ e: { enum: ['x'] } }),
    new: obj({ e: { enum: ['x', 'w'] } }),
    backward: true,
    forward: /enum value 'w' added at \/properties\/e/,
  },
  {
    name: 'additionalProperties closed',
    old: obj({ a: str }),
    new: closed({ a: str }),
    backward: /additionalProperties closed at \(root\)/,
    forward: true,
  },
  {
    name: 'maxLength tightened',
    old: obj({ s: { type: 'string', maxLength: 10 } }),
    new: obj({ s: { type: 'string', maxLength: 5 } }),
    backward: /maxLength of \/properties\/s tightened from 10 to 5/,
    forward: true,
  },
  {
    name: 'minimum added',
    old: obj({ n: { type: 'number' } }),
    new: obj({ n: { type: 'number', minimum: 0 } }),
    backward: /minimum 0 added at \/properties\/n/,
    forward: true,
  },
  {
    name: 'exclusiveMaximum loosened',
    old: obj({ n: { type: 'number', exclusiveMaximum: 10 } }),
    new: obj({ n: { type: 'number', maximum: 10 } }),
    backward: true,
    forward: /upper bound of \/properties\/n loosened from exclusiveMaximum 10 to maximum 10/,
  },
  {
    name: 'array items narrowed',
    old: obj({ l: { type: 'array', items: { type: ['string', 'integer'] } } }),
    new: obj({ l: { type: 'array', items: { type: 'string' }, maxItems: 3 } }),
    backward: /type of \/properties\/l\/items narrowed from \[string,integer\] to string/,
    forward: true,
  },
  {
    name: 'same pattern kept, maxLength raised',
    old: obj({ p: { type: 'string', pattern: '^[a-z]+$', maxLength: 5 } }),
    new: obj({ p: { type: 'string', pattern: '^[a-z]+$', maxLength: 8 } }),
    backward: true,
    forward: /maxLength of \/properties\/p loosened from 5 to 8/,
  },
  {
    name: 'nested property made required under a $ref to $defs',
    old: { type: 'object', properties: { addr: { $ref: '#/$defs/addr' } }, $defs: { addr: obj({ zip: str }) } },
    new: { type: 'object', properties: { addr: { $ref: '#/$defs/addr' } }, $defs: { addr: obj({ zip: str }, { required: ['zip'] }) } },
    backward: /property 'zip' became required at \/properties\/addr\/properties\/zip/,
    forward: true,
  },
];

const MODES: CompatibilityMode[] = ['NONE', 'BACKWARD', 'FORWARD', 'FULL', 'BACKWARD_TRANSITIVE', 'FORWARD_TRANSITIVE', 'FULL_TRANSITIVE'];

for (const mode of MODES) {
  test(`${mode}: each change is accepted or refused with its reason (table)`, () => {
    const base = mode.replace('_TRANSITIVE', '');
    for (const c of CHANGES) {
      const messages = checkCompatibility(mode, [{ version: 1, schema: c.old }], c.new);
      const expected: RegExp[] = [];
      if ((base === 'BACKWARD' || base === 'FULL') && c.backward !== true) expected.push(c.backward);
      if ((base === 'FORWARD' || base === 'FULL') && c.forward !== true) expected.push(c.forward);
      if (expected.length === 0) {
        assert.deepEqual(messages, [], `${mode} / ${c.name} should be accepted`);
      } else {
        assert.ok(messages.length > 0, `${mode} / ${c.name} should be refused`);
        for (const re of expected)
          assert.ok(
            messages.some((m) => re.test(m)),
            `${mode} / ${c.name}: ${re} not in ${JSON.stringify(messages)}`,
          );
        for (const m of messages) assert.match(m, new RegExp(`^${mode} against version 1: `));
      }
    }
  });
}

test('the table has, for BACKWARD and for FORWARD, both accepted and refused changes', () => {
  assert.ok(CHANGES.some((c) => c.backward === true) && CHANGES.some((c) => c.backward !== true));
  assert.ok(CHANGES.some((c) => c.forward === true) && CHANGES.some((c) => c.forward !== true));
  assert.ok(
    CHANGES.some((c) => c.forward === true && c.backward === true && c.old !== c.new),
    'a FULL-compatible change',
  );
});

test('transitive modes check every earlier version; non-transitive modes only the latest', () => {
  for (const [plain, transitive, versions] of [
    // v1 -> v2 was registered under NONE (b made required); v3 only relaxes a maxLength, so v2 -> v3 is fine, v1 -> v3 is not.
    [
      'BACKWARD',
      'BACKWARD_TRANSITIVE',
      [
        obj({ a: str, b: str }),
        obj({ a: { type: 'string', maxLength: 5 }, b: str }, { required: ['b'] }),
        obj({ a: { type: 'string', maxLength: 9 }, b: str }, { required: ['b'] }),
      ],
    ],
    // v1 -> v2 under NONE removes enum value 'z'; v3 = v2 adds a description.
    ['FORWARD', 'FORWARD_TRANSITIVE', [obj({ e: { enum: ['x'] } }), obj({ e: { enum: ['x', 'z'] } }), obj({ e: { enum: ['x', 'z'], description: 'e' } })]],
    ['FULL', 'FULL_TRANSITIVE', [obj({ e: { enum: ['x'] } }), obj({ e: { enum: ['x', 'z'] } }), obj({ e: { enum: ['x', 'z'], description: 'e' } })]],
  ] as const) {
    for (const [mode, accepted] of [
      [plain, true],
      [transitive, false],
    ] as const) {
      const registry = new SchemaRegistry();
      registry.register('s', versions[0], { compatibility: 'NONE' });
      registry.register('s', versions[1]);
      registry.setCompatibility('s', mode);
      if (accepted) {
        assert.deepEqual(registry.register('s', versions[2]), { id: schemaIdOf(canonicalJson(versions[2])), version: 3, created: true }, mode);
      } else {
        assert.throws(
          () => registry.register('s', versions[2]),
          (err: unknown) =>
            err instanceof SchemaError &&
            err.code === 'MG_ERR_SCHEMA_INCOMPATIBLE' &&
            err.reasons.every((r) => r.startsWith(`${mode} against version 1: `)) &&
            err.reasons.length > 0,
          mode,
        );
        assert.deepEqual(registry.subject('s')?.versions, [1, 2]);
      }
    }
  }
});

test('constructs the checker does not understand are refused as "cannot prove compatible", in every mode but NONE', () => {
  const cases: Array<[string, Json, Json, RegExp]> = [
    ['oneOf', obj({ a: str }), obj({ a: { oneOf: [str, { type: 'integer' }] } }), /cannot prove compatible: oneOf at \/properties\/a/],
    ['anyOf', obj({ a: str }), obj({ a: { anyOf: [str, { type: 'null' }] } }), /cannot prove compatible: anyOf at \/properties\/a/],
    ['allOf', obj({ a: str }), obj({ a: { allOf: [str] } }), /cannot prove compatible: allOf at \/properties\/a/],
    ['not', obj({ a: str }), obj({ a: { not: { type: 'integer' } } }), /cannot prove compatible: not at \/properties\/a/],
    // biome-ignore lint/suspicious/noThenProperty: `then` is the JSON Schema keyword under test, not a thenable
    ['if/then/else', obj({ a: str }), obj({ a: str }, { if: { required: ['a'] }, then: { required: ['b'] } }), /cannot prove compatible: if at \(root\)/],
    ['patternProperties', obj({ a: str }), obj({ a: str }, { patternProperties: { '^x': str } }), /cannot prove compatible: patternProperties at \(root\)/],
    ['dependentRequired', obj({ a: str }), obj({ a: str }, { dependentRequired: { a: ['b'] } }), /cannot prove compatible: dependentRequired at \(root\)/],
    [
      'differing patterns',
      obj({ p: { type: 'string', pattern: '^[a-z]+$' } }),
      obj({ p: { type: 'string', pattern: '^[a-z0-9]+$' } }),
      /cannot prove compatible: pattern at \/properties\/p/,
    ],
    [
      '$ref with a sibling keyword',
      obj({ a: str }, { $defs: { s: str } }),
      obj({ a: { $ref: '#/$defs/s', maxLength: 3 } }, { $defs: { s: str } }),
      /cannot prove compatible: \$ref at \/properties\/a \(with sibling keyword maxLength\)/,
    ],
    [
      'prefixItems',
      obj({ l: { type: 'array' } }),
      obj({ l: { type: 'array', prefixItems: [str] } }),
      /cannot prove compatible: prefixItems at \/properties\/l/,
    ],
  ];
  for (const [name, oldS, newS, re] of cases) {
    for (const mode of MODES) {
      const messages = checkCompatibility(mode, [{ version: 1, schema: oldS }], newS);
      if (mode === 'NONE') assert.deepEqual(messages, [], `${name} under NONE`);
      else
        assert.ok(
          messages.some((m) => re.test(m)),
          `${name} under ${mode}: ${JSON.stringify(messages)}`,
        );
    }
  }
});

test('an unchanged sub-schema the checker cannot analyse does not block a compatible change elsewhere', () => {
  const oneOf = { oneOf: [str, { type: 'integer' }] };
  assert.deepEqual(checkCompatibility('FULL', [{ version: 1, schema: obj({ a: oneOf, b: str }) }], obj({ a: oneOf, b: { ...str, description: 'b' } })), []);
  // Changed beside it: still refused.
  assert.ok(
    checkCompatibility('BACKWARD', [{ version: 1, schema: obj({ a: oneOf }) }], obj({ a: { ...oneOf, minLength: 1 } })).some((m) =>
      /cannot prove compatible: oneOf/.test(m),
    ),
  );
});

test('a finite old schema (enum/const) is checked value by value, exactly, whatever the new one holds', () => {
  assert.deepEqual(proveSubset({ enum: ['a', 'b'] }, { anyOf: [{ const: 'a' }, { const: 'b' }, { type: 'integer' }] }, true), []);
  const problems = proveSubset({ const: 3 }, { type: 'integer', maximum: 2 }, true);
  assert.equal(problems.length, 1);
  assert.match(problems[0].message, /value 3 allowed by the old schema is refused by the new one at \(root\)/);
});

test('recursive schemas are proved by induction on instance depth', () => {
  const tree = (required: string[]): Json => ({
    $ref: '#/$defs/node',
    $defs: {
      node: { type: 'object', properties: { name: str, children: { type: 'array', items: { $ref: '#/$defs/node' } } }, required, additionalProperties: false },
    },
  });
  assert.deepEqual(checkCompatibility('FULL', [{ version: 1, schema: tree(['name']) }], tree(['name'])), []);
  const refused = checkCompatibility('BACKWARD', [{ version: 1, schema: tree([]) }], tree(['name']));
  assert.ok(
    refused.some((m) => /property 'name' became required at \/properties\/name/.test(m)),
    JSON.stringify(refused),
  );
  assert.deepEqual(checkCompatibility('BACKWARD', [{ version: 1, schema: tree(['name']) }], tree([])), []);
});

test('a draft-07 schema is compared with a draft 2020-12 one; tuple-form items is refused as unproven', () => {
  const d7 = { $schema: 'http://json-schema.org/draft-07/schema#', ...obj({ a: str }) };
  assert.deepEqual(checkCompatibility('BACKWARD', [{ version: 1, schema: d7 }], obj({ a: { type: ['string', 'null'] } })), []);
  const tuple = { $schema: 'http://json-schema.org/draft-07/schema#', ...obj({ t: { type: 'array', items: [str] } }) };
  assert.ok(
    checkCompatibility('BACKWARD', [{ version: 1, schema: obj({ t: { type: 'array' } }) }], tuple).some((m) =>
      /cannot prove compatible: items at \/properties\/t \(array form\)/.test(m),
    ),
  );
});

test('property names with /, ~ and % are reported as escaped JSON pointers', () => {
  const messages = checkCompatibility(
    'BACKWARD',
    [{ version: 1, schema: obj({ 'a/b': str, '100%': str, 't~': { enum: [1, 2] } }) }],
    obj({ 'a/b': str, '100%': str, 't~': { enum: [1] } }, { required: ['a/b', '100%'] }),
  );
  assert.deepEqual(messages.sort(), [
    'BACKWARD against version 1: enum value 2 removed at /properties/t~0',
    "BACKWARD against version 1: property '100%' became required at /properties/100%",
    "BACKWARD against version 1: property 'a/b' became required at /properties/a~1b",
  ]);
});

test('a format added to a number (ajv-formats int32) is refused, not ignored', () => {
  const messages = checkCompatibility('BACKWARD', [{ version: 1, schema: obj({ n: { type: 'number' } }) }], obj({ n: { type: 'number', format: 'int32' } }));
  assert.deepEqual(messages, ['BACKWARD against version 1: format "int32" added at /properties/n']);
});

test('identical sub-schemas are not taken as equal when their $defs refer outside the definitions', () => {
  const schema = (b: Json): Json => ({ type: 'object', properties: { a: { $ref: '#/$defs/x' }, b }, $defs: { x: { $ref: '#/properties/b' } } });
  const messages = checkCompatibility('BACKWARD', [{ version: 1, schema: schema(str) }], schema({ type: 'integer' }));
  assert.ok(
    messages.some((m) => /type of \/properties\/a narrowed from string to integer/.test(m)),
    JSON.stringify(messages),
  );
});
