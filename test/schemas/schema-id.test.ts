import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson } from '../../schemas/internal.js';
import { MAX_SCHEMA_ID, SchemaError, SchemaRegistry, schemaIdOf } from '../../schemas/mod.js';

/**
 * Two different schemas with the same content id, found by search: ids
 * have 31 bits, so a collision turns up after ~60,000 candidates (the
 * birthday bound). Deterministic: SHA-256 does not change.
 */
function collidingPair(): [unknown, unknown] {
  const seen = new Map<number, number>();
  for (let i = 0; ; i++) {
    const id = schemaIdOf(canonicalJson({ description: `c${i}` }));
    const earlier = seen.get(id);
    if (earlier !== undefined) return [{ description: `c${earlier}` }, { description: `c${i}` }];
    seen.set(id, i);
  }
}

test('schemaIdOf() is a whole number in 1..2^31-1, the same for the same text, different for different texts', () => {
  const ids = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const text = canonicalJson({ type: 'object', title: `t${i}` });
    const id = schemaIdOf(text);
    assert.ok(Number.isInteger(id) && id >= 1 && id <= MAX_SCHEMA_ID, String(id));
    assert.equal(schemaIdOf(text), id);
    ids.add(id);
  }
  assert.equal(ids.size, 1000);
  assert.equal(MAX_SCHEMA_ID, 2 ** 31 - 1);
});

test("a schema whose content id another schema already has is refused with MG_ERR_SCHEMA_INVALID; a peer's subject with it is skipped", () => {
  const [first, second] = collidingPair();
  assert.notEqual(canonicalJson(first), canonicalJson(second));
  const id = schemaIdOf(canonicalJson(first));
  assert.equal(schemaIdOf(canonicalJson(second)), id);

  const r = new SchemaRegistry({ nodeId: 'a' });
  r.register('first', first);
  assert.throws(
    () => r.register('second', second),
    (e: unknown) =>
      e instanceof SchemaError &&
      e.code === 'MG_ERR_SCHEMA_INVALID' &&
      e.message.includes(`schema id ${id}`) &&
      /already belongs to a different schema; fix: change the schema's text/.test(e.message),
  );
  assert.deepEqual(r.subjects(), ['first']);
  assert.deepEqual(r.byId(id)?.schema, first);

  // The same clash arriving from a peer: that subject is skipped, the others merged.
  const peer = new SchemaRegistry({ nodeId: 'b' });
  peer.register('second', second);
  peer.register('fine', { type: 'string' });
  const result = r.merge(JSON.parse(JSON.stringify(peer.export())));
  assert.deepEqual(result.changed, ['fine']);
  assert.deepEqual(
    result.skipped.map((s) => s.subject),
    ['second'],
  );
  assert.match(result.skipped[0].reason, /already belongs to a different schema/);
  assert.deepEqual(r.byId(id)?.schema, first, 'the id still means the schema this registry had');
});
