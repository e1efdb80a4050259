import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_TOPIC_LIMITS } from '../../routing/internal.js';
import { amqpFilterToMesh, amqpTopicToMesh, checkTopic, filterMatches, meshFilterToAmqp, meshTopicToAmqp, TopicError } from '../../routing/mod.js';
import { SeededRandom } from './seeded-random.js';
import { amqpMatches, assertTopicError, translationTableTests } from './translation-helpers.js';

// [mesh topic, AMQP routing key]: each pair must translate both ways.
const TOPICS: Array<[string, string]> = [
  ['db.orders.insert', 'db.orders.insert'],
  ['fw.v1%2E2', 'fw.v1%2E2'],
  ['a.%00.b', 'a..b'],
  ['%00.a', '.a'],
  ['a.%00', 'a.'],
  ['a.%2A', 'a.%2A'],
  ['a.#', 'a.%23'],
  ['a.x#y', 'a.x#y'],
  ['a.x%2Ay', 'a.x*y'],
  ['a%3Eb', 'a>b'],
  ['v1/2.c++', 'v1/2.c++'],
  ['sp%20ace.tab%09', 'sp ace.tab\t'],
  ['cpu.50%', 'cpu.50%'],
  ['lit.%252E', 'lit.%252E'],
  ['lit.%23', 'lit.%2523'],
  ['caf\u00e9.\u{1F600}', 'caf\u00e9.\u{1F600}'],
];

test('an AMQP routing key word that is a bare * or # is refused: no binding could select it', () => {
  assertTopicError(() => amqpTopicToMesh('a.*'), 'MG_ERR_TOPIC_INVALID', /word 2 of AMQP routing key 'a\.\*' is a bare '\*'.*'%2A'/);
  assertTopicError(() => amqpTopicToMesh('#'), 'MG_ERR_TOPIC_INVALID', /bare '#'.*'%23'/);
});

test('the empty routing key is refused both ways: RabbitMQ versions disagree on its word count', () => {
  assertTopicError(() => amqpTopicToMesh(''), 'MG_ERR_TOPIC_INVALID', /empty/);
  assertTopicError(() => meshTopicToAmqp('%00'), 'MG_ERR_TOPIC_INVALID', /one empty token/);
});

test('routing and binding keys over 255 bytes are refused as a limit', () => {
  assert.equal(amqpTopicToMesh('a'.repeat(255)), 'a'.repeat(255));
  assertTopicError(() => amqpTopicToMesh('a'.repeat(256)), 'MG_ERR_TOPIC_LIMIT', /256 bytes.*255/);
  assertTopicError(() => amqpTopicToMesh('\u00e9'.repeat(128)), 'MG_ERR_TOPIC_LIMIT', /256 bytes/);
  assertTopicError(() => meshTopicToAmqp(`${'a'.repeat(200)}.${'b'.repeat(60)}`), 'MG_ERR_TOPIC_LIMIT');
  assertTopicError(() => amqpFilterToMesh(`${'a'.repeat(256)}.#`), 'MG_ERR_TOPIC_LIMIT');
});

test('an AMQP word not in canonical escaped form is refused, naming the word', () => {
  assertTopicError(() => amqpTopicToMesh('a.%2Ab'), 'MG_ERR_TOPIC_INVALID', /AMQP word 2 of 'a\.%2Ab' is not in canonical escaped form.*'\*b'/);
  assertTopicError(() => amqpTopicToMesh('a.%25'), 'MG_ERR_TOPIC_INVALID', /word 2/);
});

test('an invalid mesh topic is refused with the checker message', () => {
  assertTopicError(() => meshTopicToAmqp('a..b'), 'MG_ERR_TOPIC_INVALID', /token 2 of 'a\.\.b' is empty/);
  assertTopicError(() => meshTopicToAmqp('a.b%25'), 'MG_ERR_TOPIC_INVALID', /mesh token 2 .* canonical/);
});

// [mesh filter, AMQP binding key]
const MESH_FILTERS: Array<[string, string]> = [
  ['a.>', 'a.*.#'],
  ['>', '#'],
  ['*.b', '*.b'],
  ['*.>', '*.*.#'],
  ['#.>', '%23.*.#'],
  ['%2A.*', '%2A.*'],
  ['a.%00.*', 'a..*'],
];

// [AMQP binding key, mesh filters whose union matches the same keys]
const AMQP_FILTERS: Array<[string, string[]]> = [
  ['a.#', ['a', 'a.>']],
  ['#', ['>']],
  ['a.*.#', ['a.>']],
  ['#.*', ['>']],
  ['*.#.*', ['*.>']],
  ['a.#.#', ['a', 'a.>']],
  ['#.#', ['>']],
  ['a.*', ['a.*']],
  ['%23.*', ['#.*']],
  ['a..#', ['a.%00', 'a.%00.>']],
  ['x*y.#', ['x%2Ay', 'x%2Ay.>']],
];

translationTableTests(
  { name: 'Amqp', topicFromMesh: meshTopicToAmqp, topicToMesh: amqpTopicToMesh, filterFromMesh: meshFilterToAmqp, filterToMesh: amqpFilterToMesh },
  { topics: TOPICS, meshFilters: MESH_FILTERS, brokerFilters: AMQP_FILTERS },
);

test("amqpFilterToMesh() refuses a '#' followed by a literal word, which mesh syntax cannot express", () => {
  assertTopicError(() => amqpFilterToMesh('#.b'), 'MG_ERR_TOPIC_INVALID', /word 1 of AMQP binding key '#\.b' is '#' followed by the word 'b'/);
  assertTopicError(() => amqpFilterToMesh('a.#.c'), 'MG_ERR_TOPIC_INVALID', /word 2 .* '#' must be last/);
  assertTopicError(() => amqpFilterToMesh('#.*.b'), 'MG_ERR_TOPIC_INVALID', /word 1/);
  assertTopicError(() => amqpFilterToMesh(''), 'MG_ERR_TOPIC_INVALID', /empty/);
});

test('meshFilterToAmqp() refuses an invalid mesh filter and one empty token', () => {
  assertTopicError(() => meshFilterToAmqp('>.a'), 'MG_ERR_TOPIC_INVALID', /not the last token/);
  assertTopicError(() => meshFilterToAmqp('%00'), 'MG_ERR_TOPIC_INVALID', /one empty token/);
});

// --- properties on random input -------------------------------------------

const AMQP_PIECES = [
  'a',
  'Z',
  '*',
  '#',
  '>',
  ' ',
  '%',
  '%2E',
  '%2F',
  '%23',
  '%25',
  '%2A',
  '%3E',
  '%20',
  '%C2%A0',
  '%00',
  '2',
  'E',
  'A',
  '\u00e9',
  '\t',
  '/',
  '+',
];
const MESH_PIECES = ['a', 'Z', '/', '+', '#', '%', '%2E', '%2F', '%23', '%25', '%2A', '%3E', '%20', '%00', '2', 'E', 'A', '\u00e9'];

function randomJoined(rng: SeededRandom, pieces: string[], min: number): string {
  const n = rng.int(1, 4);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    const m = rng.int(min, 3);
    for (let j = 0; j < m; j++) s += rng.pick(pieces);
    parts.push(s);
  }
  return parts.join('.');
}

test('every AMQP routing key either round-trips through the mesh or is refused for a bare wildcard word or a non-canonical %', () => {
  const rng = new SeededRandom(21);
  let ok = 0;
  let total = 0;
  for (let i = 0; i < 20_000; i++) {
    const key = randomJoined(rng, AMQP_PIECES, 0);
    if (key === '') continue;
    total++;
    let mesh: string;
    try {
      mesh = amqpTopicToMesh(key);
    } catch (err) {
      assert.ok(err instanceof TopicError && err.code === 'MG_ERR_TOPIC_INVALID', String(err));
      const words = key.split('.');
      assert.ok(key.includes('%') || words.includes('*') || words.includes('#'), `${JSON.stringify(key)}: ${(err as Error).message}`);
      continue;
    }
    ok++;
    assert.equal(checkTopic(mesh, NO_TOPIC_LIMITS), null, `${JSON.stringify(key)} -> ${JSON.stringify(mesh)}`);
    assert.equal(meshTopicToAmqp(mesh), key, `${JSON.stringify(key)} -> ${JSON.stringify(mesh)}`);
  }
  assert.ok(ok > total * 0.6, `only ${ok} of ${total} representable`);
});

test('every mesh topic either round-trips through AMQP or is refused for a non-canonical %', () => {
  const rng = new SeededRandom(22);
  let ok = 0;
  let total = 0;
  for (let i = 0; i < 20_000; i++) {
    const mesh = randomJoined(rng, MESH_PIECES, 1);
    if (checkTopic(mesh, NO_TOPIC_LIMITS) !== null) continue;
    total++;
    let key: string;
    try {
      key = meshTopicToAmqp(mesh);
    } catch (err) {
      assert.ok(err instanceof TopicError && err.code === 'MG_ERR_TOPIC_INVALID', String(err));
      assert.ok(mesh.includes('%'), `${JSON.stringify(mesh)}: ${(err as Error).message}`);
      continue;
    }
    ok++;
    assert.equal(amqpTopicToMesh(key), mesh, `${JSON.stringify(mesh)} -> ${JSON.stringify(key)}`);
  }
  assert.ok(ok > total * 0.5, `only ${ok} of ${total} representable`);
});

test('translated filters match exactly the translated keys the originals match, both ways', () => {
  const rng = new SeededRandom(23);
  const keys: string[] = [];
  for (let i = 0; i < 300; i++) {
    const n = rng.int(1, 4);
    const k = Array.from({ length: n }, () => rng.pick(['a', 'b', ''])).join('.');
    if (k !== '') keys.push(k);
  }
  let expressible = 0;
  for (let i = 0; i < 600; i++) {
    const n = rng.int(1, 4);
    const binding = Array.from({ length: n }, () => rng.pick(['a', 'b', '', '*', '*', '#'])).join('.');
    if (binding === '') continue;
    const words = binding.split('.');
    const h = words.indexOf('#');
    const canExpress = h < 0 || words.slice(h + 1).every((w) => w === '*' || w === '#');
    let meshFilters: string[];
    try {
      meshFilters = amqpFilterToMesh(binding);
    } catch (err) {
      assert.ok(err instanceof TopicError, String(err));
      assert.equal(canExpress, false, `${binding} refused: ${err.message}`);
      continue;
    }
    assert.equal(canExpress, true, `${binding} should have been refused`);
    expressible++;
    for (const key of keys) {
      const mesh = amqpTopicToMesh(key);
      assert.equal(
        meshFilters.some((f) => filterMatches(f, mesh)),
        amqpMatches(binding, key),
        `AMQP ${binding} vs ${JSON.stringify(key)}; mesh ${meshFilters.join(' + ')} vs ${mesh}`,
      );
    }
  }
  assert.ok(expressible > 200);
  const meshTopics = keys.map(amqpTopicToMesh);
  for (let i = 0; i < 400; i++) {
    const n = rng.int(1, 4);
    const tokens = Array.from({ length: n }, () => rng.pick(['a', 'b', '%00', '*', '*']));
    if (rng.chance(0.4)) tokens[n - 1] = '>';
    const meshFilter = tokens.join('.');
    if (meshFilter === '%00') continue;
    const binding = meshFilterToAmqp(meshFilter);
    for (const topic of meshTopics) {
      assert.equal(amqpMatches(binding, meshTopicToAmqp(topic)), filterMatches(meshFilter, topic), `mesh ${meshFilter} vs ${topic}; AMQP ${binding}`);
    }
  }
});
