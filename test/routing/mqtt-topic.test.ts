import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_TOPIC_LIMITS } from '../../routing/internal.js';
import { checkFilter, checkTopic, filterMatches, meshFilterToMqtt, meshTopicToMqtt, mqttFilterToMesh, mqttTopicToMesh, TopicError } from '../../routing/mod.js';
import { SeededRandom } from './seeded-random.js';
import { assertTopicError, mqttMatches, translationTableTests } from './translation-helpers.js';

// [mesh topic, MQTT topic name]: each pair must translate both ways.
const TOPICS: Array<[string, string]> = [
  ['a.b.c', 'a/b/c'],
  ['a', 'a'],
  ['files.v1/2', 'files/v1%2F2'],
  ['fw.v1%2E2', 'fw/v1.2'],
  ['a.%00.b', 'a//b'],
  ['%00.a', '/a'],
  ['a.%00', 'a/'],
  ['%00.%00', '/'],
  ['%00.a.%00.b.%00', '/a//b/'],
  ['c++.x#y', 'c%2B%2B/x%23y'],
  ['+.#', '%2B/%23'],
  ['%2A.%3E', '*/>'],
  ['a%2Ab.x%3Ey', 'a*b/x>y'],
  ['cpu.50%', 'cpu/50%'],
  ['%.%x.%zz.%41', '%/%x/%zz/%41'],
  ['lit.%252E', 'lit/%2E'],
  ['lit.%2F', 'lit/%252F'],
  ['%2525.x', '%2525/x'],
  ['sp%20ace', 'sp ace'],
  ['tab%09', 'tab\t'],
  ['nb%C2%A0sp', 'nb\u00a0sp'],
  ['ideo%E3%80%80sp', 'ideo\u3000sp'],
  ['caf\u00e9.\u6771\u4eac.\u{1F600}', 'caf\u00e9/\u6771\u4eac/\u{1F600}'],
  ['$SYS.broker', '$SYS/broker'],
];

test('an MQTT topic name with a wildcard is refused [MQTT-3.3.2-2]', () => {
  assertTopicError(() => mqttTopicToMesh('a/+'), 'MG_ERR_TOPIC_INVALID', /wildcard '\+' at index 2.*MQTT-3\.3\.2-2/);
  assertTopicError(() => mqttTopicToMesh('a/#'), 'MG_ERR_TOPIC_INVALID', /wildcard '#'/);
  assertTopicError(() => mqttTopicToMesh('a/b+c'), 'MG_ERR_TOPIC_INVALID', /wildcard/);
});

test('an empty MQTT topic name, or one with U+0000, is refused [MQTT-4.7.3-1] [MQTT-4.7.3-2]', () => {
  assertTopicError(() => mqttTopicToMesh(''), 'MG_ERR_TOPIC_INVALID', /MQTT-4\.7\.3-1/);
  assertTopicError(() => mqttTopicToMesh('a\u0000b'), 'MG_ERR_TOPIC_INVALID', /MQTT-4\.7\.3-2/);
});

test('an MQTT topic name over 65,535 UTF-8 bytes is refused as a limit [MQTT-4.7.3-3]', () => {
  assert.equal(mqttTopicToMesh('\u00e9'.repeat(32_767)).length, 32_767);
  assertTopicError(() => mqttTopicToMesh('\u00e9'.repeat(32_768)), 'MG_ERR_TOPIC_LIMIT', /65536 bytes.*65535/);
  assertTopicError(() => meshTopicToMqtt('\u00e9'.repeat(32_768)), 'MG_ERR_TOPIC_LIMIT');
});

test('an MQTT level not in canonical escaped form is refused, naming the level and the canonical spelling', () => {
  assertTopicError(() => mqttTopicToMesh('a/%25x'), 'MG_ERR_TOPIC_INVALID', /MQTT level 2 of 'a\/%25x' is not in canonical escaped form.*'%x'/);
  assertTopicError(() => mqttTopicToMesh('%25'), 'MG_ERR_TOPIC_INVALID', /level 1/);
});

test('a mesh topic with no MQTT form is refused: one empty token, a misplaced %00, a needless %25', () => {
  assertTopicError(() => meshTopicToMqtt('%00'), 'MG_ERR_TOPIC_INVALID', /one empty token.*MQTT-4\.7\.3-1/);
  assertTopicError(() => meshTopicToMqtt('a.b%00c'), 'MG_ERR_TOPIC_INVALID', /mesh token 2 .*'%00'/);
  assertTopicError(() => meshTopicToMqtt('a.%25x'), 'MG_ERR_TOPIC_INVALID', /mesh token 2 of 'a\.%25x' is not in canonical escaped form.*'%x'/);
  assertTopicError(() => meshTopicToMqtt('a.%25'), 'MG_ERR_TOPIC_INVALID', /canonical/);
  // '%2F' is no mesh escape ('/' is a plain mesh character): it is text, and MQTT escapes its '%'.
  assert.equal(meshTopicToMqtt('a.%2Fb'), 'a/%252Fb');
});

test('an invalid mesh topic is refused with the checker message', () => {
  assertTopicError(() => meshTopicToMqtt('a..b'), 'MG_ERR_TOPIC_INVALID', /token 2 of 'a\.\.b' is empty/);
  assertTopicError(() => meshTopicToMqtt('a.*'), 'MG_ERR_TOPIC_INVALID', /wildcard/);
});

// [mesh filter, MQTT topic filter]
const MESH_FILTERS: Array<[string, string]> = [
  ['a.>', 'a/+/#'],
  ['>', '#'],
  ['*', '+'],
  ['*.x.*', '+/x/+'],
  ['a.*.>', 'a/+/+/#'],
  ['*.>', '+/+/#'],
  ['v1/2.*', 'v1%2F2/+'],
  ['#.>', '%23/+/#'],
  ['%00.>', '/+/#'],
  ['fw.v1%2E2', 'fw/v1.2'],
];

// [MQTT topic filter, mesh filters whose union matches the same topics]
const MQTT_FILTERS: Array<[string, string[]]> = [
  ['a/#', ['a', 'a.>']],
  ['#', ['>']],
  ['+/#', ['>']],
  ['a/+/#', ['a.>']],
  ['+/+/#', ['*.>']],
  ['a/+/b/#', ['a.*.b', 'a.*.b.>']],
  ['a/+', ['a.*']],
  ['+', ['*']],
  ['/#', ['%00', '%00.>']],
  ['//', ['%00.%00.%00']],
  ['fw/v1.2/#', ['fw.v1%2E2', 'fw.v1%2E2.>']],
  ['a/%2B', ['a.+']],
];

translationTableTests(
  { name: 'Mqtt', topicFromMesh: meshTopicToMqtt, topicToMesh: mqttTopicToMesh, filterFromMesh: meshFilterToMqtt, filterToMesh: mqttFilterToMesh },
  { topics: TOPICS, meshFilters: MESH_FILTERS, brokerFilters: MQTT_FILTERS },
);

test("MQTT 'a/#' matches 'a' itself, and so does its mesh translation [MQTT-4.7.1-1]", () => {
  assert.equal(mqttMatches('a/#', 'a'), true);
  const mesh = mqttFilterToMesh('a/#');
  assert.ok(mesh.some((f) => filterMatches(f, mqttTopicToMesh('a'))));
  assert.ok(mesh.some((f) => filterMatches(f, mqttTopicToMesh('a/b/c'))));
  assert.ok(!mesh.some((f) => filterMatches(f, mqttTopicToMesh('ab'))));
});

test('an MQTT filter with a misplaced or partial wildcard is refused [MQTT-4.7.1-1] [MQTT-4.7.1-2]', () => {
  assertTopicError(() => mqttFilterToMesh('a/#/b'), 'MG_ERR_TOPIC_INVALID', /level 2 .* '#' but not the last level/);
  assertTopicError(() => mqttFilterToMesh('a#'), 'MG_ERR_TOPIC_INVALID', /level 1 .* whole level/);
  assertTopicError(() => mqttFilterToMesh('a/b+'), 'MG_ERR_TOPIC_INVALID', /level 2/);
  assertTopicError(() => mqttFilterToMesh('+a/b'), 'MG_ERR_TOPIC_INVALID', /level 1/);
  assertTopicError(() => mqttFilterToMesh(''), 'MG_ERR_TOPIC_INVALID', /empty/);
  assertTopicError(() => mqttFilterToMesh('a\u0000'), 'MG_ERR_TOPIC_INVALID', /U\+0000/);
});

test('an MQTT shared subscription is refused: the bridge strips $share/<group>/ first', () => {
  assertTopicError(() => mqttFilterToMesh('$share/g/a/#'), 'MG_ERR_TOPIC_INVALID', /shared subscription/);
});

test('meshFilterToMqtt() refuses an invalid mesh filter and one empty token', () => {
  assertTopicError(() => meshFilterToMqtt('a.>.b'), 'MG_ERR_TOPIC_INVALID', /not the last token/);
  assertTopicError(() => meshFilterToMqtt('%00'), 'MG_ERR_TOPIC_INVALID', /one empty token/);
});

// --- properties on random input -------------------------------------------

const MQTT_PIECES = [
  'a',
  'Z',
  '.',
  '*',
  '>',
  ' ',
  '%',
  '%2E',
  '%2F',
  '%2B',
  '%23',
  '%25',
  '%2A',
  '%3E',
  '%20',
  '%C2%A0',
  '%00',
  '%0',
  '%e2',
  '2',
  'E',
  'F',
  '5',
  '\u00e9',
  '\u00a0',
  '\t',
  '$',
  '\u{1F600}',
];
const MESH_PIECES = [
  'a',
  'Z',
  '/',
  '+',
  '#',
  '%',
  '%2E',
  '%2F',
  '%2B',
  '%23',
  '%25',
  '%2A',
  '%3E',
  '%20',
  '%C2%A0',
  '%00',
  '%0',
  '2',
  'E',
  'F',
  '5',
  '\u00e9',
  '$',
];

function randomToken(rng: SeededRandom, pieces: string[], min: number): string {
  let s = '';
  const n = rng.int(min, 4);
  for (let i = 0; i < n; i++) s += rng.pick(pieces);
  return s;
}

function randomJoined(rng: SeededRandom, pieces: string[], min: number, sep: string): string {
  const n = rng.int(1, 4);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(randomToken(rng, pieces, min));
  return parts.join(sep);
}

test('every MQTT topic name either round-trips through the mesh or is refused for a non-canonical %', () => {
  const rng = new SeededRandom(11);
  let ok = 0;
  let total = 0;
  for (let i = 0; i < 20_000; i++) {
    const mqtt = randomJoined(rng, MQTT_PIECES, 0, '/');
    if (mqtt === '') continue;
    total++;
    let mesh: string;
    try {
      mesh = mqttTopicToMesh(mqtt);
    } catch (err) {
      assert.ok(err instanceof TopicError && err.code === 'MG_ERR_TOPIC_INVALID', String(err));
      assert.ok(mqtt.includes('%'), `${JSON.stringify(mqtt)} refused: ${(err as Error).message}`);
      continue;
    }
    ok++;
    assert.equal(checkTopic(mesh, NO_TOPIC_LIMITS), null, `${JSON.stringify(mqtt)} -> ${JSON.stringify(mesh)}`);
    assert.equal(meshTopicToMqtt(mesh), mqtt, `${JSON.stringify(mqtt)} -> ${JSON.stringify(mesh)}`);
  }
  assert.ok(ok > total * 0.7, `only ${ok} of ${total} representable`);
});

test('every mesh topic either round-trips through MQTT or is refused for a non-canonical %', () => {
  const rng = new SeededRandom(12);
  let ok = 0;
  let total = 0;
  for (let i = 0; i < 20_000; i++) {
    const mesh = randomJoined(rng, MESH_PIECES, 1, '.');
    if (checkTopic(mesh, NO_TOPIC_LIMITS) !== null) continue;
    total++;
    let mqtt: string;
    try {
      mqtt = meshTopicToMqtt(mesh);
    } catch (err) {
      assert.ok(err instanceof TopicError && err.code === 'MG_ERR_TOPIC_INVALID', String(err));
      assert.ok(mesh.includes('%'), `${JSON.stringify(mesh)} refused: ${(err as Error).message}`);
      continue;
    }
    ok++;
    assert.equal(mqttTopicToMesh(mqtt), mesh, `${JSON.stringify(mesh)} -> ${JSON.stringify(mqtt)}`);
  }
  assert.ok(ok > total * 0.5, `only ${ok} of ${total} representable`);
});

test('mesh filters round-trip through MQTT to the same single filter', () => {
  const rng = new SeededRandom(13);
  for (let i = 0; i < 5000; i++) {
    const tokens = randomJoined(rng, MESH_PIECES, 1, '.')
      .split('.')
      .map((t) => (rng.chance(0.3) ? '*' : t));
    if (rng.chance(0.3)) tokens[tokens.length - 1] = '>';
    const filter = tokens.join('.');
    if (checkFilter(filter, NO_TOPIC_LIMITS) !== null) continue;
    let mqtt: string;
    try {
      mqtt = meshFilterToMqtt(filter);
    } catch (err) {
      assert.ok(err instanceof TopicError && filter.includes('%'), String(err));
      continue;
    }
    assert.deepEqual(mqttFilterToMesh(mqtt), [filter], `${filter} -> ${mqtt}`);
  }
});

test('translated filters match exactly the translated topics the originals match, both ways', () => {
  const rng = new SeededRandom(14);
  const levels = ['a', 'b', ''];
  const mqttTopics: string[] = [];
  for (let i = 0; i < 300; i++) {
    const n = rng.int(1, 4);
    const t = Array.from({ length: n }, () => rng.pick(levels)).join('/');
    if (t !== '') mqttTopics.push(t);
  }
  for (let i = 0; i < 400; i++) {
    const n = rng.int(1, 4);
    const parts = Array.from({ length: n }, () => rng.pick(['a', 'b', '', '+', '+']));
    if (rng.chance(0.4)) parts[n - 1] = '#';
    const mqttFilter = parts.join('/');
    if (mqttFilter === '') continue;
    const meshFilters = mqttFilterToMesh(mqttFilter);
    for (const topic of mqttTopics) {
      const mesh = mqttTopicToMesh(topic);
      assert.equal(
        meshFilters.some((f) => filterMatches(f, mesh)),
        mqttMatches(mqttFilter, topic),
        `MQTT ${mqttFilter} vs ${topic}; mesh ${meshFilters.join(' + ')} vs ${mesh}`,
      );
    }
  }
  const meshTopics = mqttTopics.map(mqttTopicToMesh);
  for (let i = 0; i < 400; i++) {
    const n = rng.int(1, 4);
    const tokens = Array.from({ length: n }, () => rng.pick(['a', 'b', '%00', '*', '*']));
    if (rng.chance(0.4)) tokens[n - 1] = '>';
    const meshFilter = tokens.join('.');
    if (meshFilter === '%00') continue;
    const mqttFilter = meshFilterToMqtt(meshFilter);
    for (const topic of meshTopics) {
      assert.equal(mqttMatches(mqttFilter, meshTopicToMqtt(topic)), filterMatches(meshFilter, topic), `mesh ${meshFilter} vs ${topic}; MQTT ${mqttFilter}`);
    }
  }
});

test("mesh wildcards also match '$' topics, which MQTT first-level wildcards skip [MQTT-4.7.2-1]", () => {
  // The one documented difference: '$' topics are broker-internal on the MQTT side.
  assert.deepEqual(mqttFilterToMesh('#'), ['>']);
  assert.equal(filterMatches('>', mqttTopicToMesh('$SYS/uptime')), true);
  assert.equal(mqttMatches('#', '$SYS/uptime'), false);
  assert.equal(mqttMatches(meshFilterToMqtt('$SYS.>'), '$SYS/uptime'), true);
});
