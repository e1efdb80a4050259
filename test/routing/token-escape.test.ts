import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AMQP_WORDS, decodeToken, encodeToken, MESH_TOKENS, MQTT_LEVELS, utf8Length } from '../../routing/internal.js';
import { TopicError } from '../../routing/mod.js';
import { SeededRandom } from './seeded-random.js';

const DIALECTS = [MESH_TOKENS, MQTT_LEVELS, AMQP_WORDS];
const PIECES = [
  'a',
  '%',
  '2',
  'E',
  'F',
  '5',
  'C',
  'A',
  '0',
  '.',
  '/',
  '+',
  '#',
  '*',
  '>',
  ' ',
  '\t',
  '\u00a0',
  '\u3000',
  '\u00e9',
  '\u{1F600}',
  '%2',
  '%25',
  '%C2',
  '%E3%80',
];

for (const dialect of DIALECTS) {
  test(`every plain text has one ${dialect.protocol} spelling that decodes back to it`, () => {
    const rng = new SeededRandom(31);
    for (let i = 0; i < 20_000; i++) {
      let text = '';
      const n = rng.int(0, 6);
      for (let j = 0; j < n; j++) text += rng.pick(PIECES);
      const spelled = encodeToken(text, dialect);
      assert.equal(decodeToken(spelled, dialect, 0, spelled), text, `${JSON.stringify(text)} -> ${JSON.stringify(spelled)}`);
    }
  });

  test(`${dialect.protocol} text with no % and nothing to escape is spelled as itself`, () => {
    for (const text of ['orders', 'caf\u00e9', 'x-1_2~3']) assert.equal(encodeToken(text, dialect), text);
  });
}

test('a literal % is escaped only where it would otherwise start an escape', () => {
  assert.equal(encodeToken('50%', MESH_TOKENS), '50%');
  assert.equal(encodeToken('%2E', MESH_TOKENS), '%252E');
  assert.equal(encodeToken('%2E', MQTT_LEVELS), '%2E');
  assert.equal(encodeToken('%2F', MQTT_LEVELS), '%252F');
  assert.equal(encodeToken('%%2E', MESH_TOKENS), '%%252E');
  assert.equal(encodeToken('%C2%A0', MESH_TOKENS), '%25C2%A0');
  assert.equal(encodeToken('%25', MESH_TOKENS), '%2525');
});

test('escapes are upper-case UTF-8; lower-case hex is literal text', () => {
  assert.equal(encodeToken('a b', MESH_TOKENS), 'a%20b');
  assert.equal(encodeToken('\u3000', MESH_TOKENS), '%E3%80%80');
  assert.equal(decodeToken('%2e', MESH_TOKENS, 0, '%2e'), '%2e');
});

test('the empty token is %00 in the mesh and empty in MQTT and AMQP', () => {
  assert.equal(encodeToken('', MESH_TOKENS), '%00');
  assert.equal(encodeToken('', MQTT_LEVELS), '');
  assert.equal(encodeToken('', AMQP_WORDS), '');
  assert.equal(decodeToken('%00', MESH_TOKENS, 0, '%00'), '');
  assert.equal(encodeToken('%00', MESH_TOKENS), '%2500');
});

test('decoding refuses U+0000 and unpaired surrogates', () => {
  assert.throws(() => decodeToken('a\u0000', MQTT_LEVELS, 0, 'a\u0000'), TopicError);
  assert.throws(() => decodeToken('a\ud800', MQTT_LEVELS, 0, 'a\ud800'), /unpaired surrogate/);
  assert.throws(() => decodeToken('a%00', MESH_TOKENS, 0, 'a%00'), /'%00'/);
});

test('utf8Length() counts UTF-8 bytes', () => {
  assert.equal(utf8Length('a\u00e9\u3000\u{1F600}'), 1 + 2 + 3 + 4);
});
