import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkFilter, checkTopic, TopicError, type TopicProblemCode } from '../../routing/mod.js';

/** MQTT topic matching per MQTT 5 section 4.7, written plainly as the reference. */
export function mqttMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // [MQTT-4.7.2-1] wildcards in the first level skip '$' topics.
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true; // parent and any number of children
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** AMQP 0-9-1 topic exchange matching, RabbitMQ semantics: '#' is zero or more words anywhere. */
export function amqpMatches(binding: string, key: string): boolean {
  const b = binding.split('.');
  const k = key.split('.');
  const m = (i: number, j: number): boolean => {
    if (i === b.length) return j === k.length;
    if (b[i] === '#') return m(i + 1, j) || (j < k.length && m(i, j + 1));
    if (j === k.length) return false;
    return (b[i] === '*' || b[i] === k[j]) && m(i + 1, j + 1);
  };
  return m(0, 0);
}

/** Asserts that `fn` throws a TopicError with `code` and a message matching `words`. */
export function assertTopicError(fn: () => unknown, code: TopicProblemCode, words?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TopicError, `expected TopicError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.name, 'TopicError');
    if (words !== undefined) assert.match(err.message, words);
    return true;
  });
}

/** One broker syntax's translation functions, under the names the test titles use. */
export interface Dialect {
  /** e.g. 'Mqtt', 'Amqp': the suffix of meshTopicTo<Name>() and the prefix of <name>TopicToMesh(). */
  readonly name: string;
  topicFromMesh(mesh: string): string;
  topicToMesh(broker: string): string;
  filterFromMesh(mesh: string): string;
  filterToMesh(broker: string): string[];
}

export interface TranslationTables {
  /** [mesh topic, broker topic]: each pair must translate both ways. */
  readonly topics: ReadonlyArray<readonly [string, string]>;
  /** [mesh filter, broker filter]: translates, and comes back as the same single filter. */
  readonly meshFilters: ReadonlyArray<readonly [string, string]>;
  /** [broker filter, mesh filters whose union matches the same topics]. */
  readonly brokerFilters: ReadonlyArray<readonly [string, readonly string[]]>;
}

/** Registers one test per table row: the cases each dialect's suite lists, checked the same way. */
export function translationTableTests(d: Dialect, tables: TranslationTables): void {
  const lower = d.name.toLowerCase();
  for (const [mesh, broker] of tables.topics) {
    test(`meshTopicTo${d.name}() and ${lower}TopicToMesh() map ${JSON.stringify(mesh)} <-> ${JSON.stringify(broker)}`, () => {
      assert.equal(d.topicFromMesh(mesh), broker);
      assert.equal(d.topicToMesh(broker), mesh);
      assert.equal(checkTopic(mesh), null);
    });
  }
  for (const [mesh, broker] of tables.meshFilters) {
    test(`meshFilterTo${d.name}() maps ${mesh} to ${broker}, and back to the same single filter`, () => {
      assert.equal(d.filterFromMesh(mesh), broker);
      assert.deepEqual(d.filterToMesh(broker), [mesh]);
    });
  }
  for (const [broker, mesh] of tables.brokerFilters) {
    test(`${lower}FilterToMesh() maps ${broker} to ${mesh.join(' + ')}`, () => {
      assert.deepEqual(d.filterToMesh(broker), mesh);
      for (const f of mesh) assert.equal(checkFilter(f), null);
    });
  }
}
