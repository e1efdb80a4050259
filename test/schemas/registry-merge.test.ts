import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../../schemas/internal.js';
import { type RegistryChange, type RegistryState, SchemaError, SchemaRegistry } from '../../schemas/mod.js';

const order = { type: 'object', properties: { id: { type: 'string' } }, additionalProperties: false };
const orderV2 = { type: 'object', properties: { id: { type: 'string' }, note: { type: 'string' } }, additionalProperties: false };
const other = { type: 'object', properties: { sku: { type: 'string' } }, additionalProperties: false };

/** Round-trips a state through JSON, as a peer would receive it (no shared objects). */
function wire(state: RegistryState): RegistryState {
  return JSON.parse(JSON.stringify(state)) as RegistryState;
}

test("merge(): a registry catches up from another's export; merging the same state again changes nothing", () => {
  const a = new SchemaRegistry({ nodeId: 'a' });
  const { id } = a.register('orders', order, { topics: ['orders.>'], types: ['order.created'] });
  a.register('orders', orderV2);
  const b = new SchemaRegistry({ nodeId: 'b' });
  const changes: RegistryChange[] = [];
  b.onChange((c) => changes.push(c));
  assert.deepEqual(b.merge(wire(a.export())), { changed: ['orders'], skipped: [] });
  assert.deepEqual(b.export(), a.export());
  assert.deepEqual(b.subject('orders'), a.subject('orders'));
  assert.deepEqual(b.byId(id)?.versions, [{ subject: 'orders', version: 1 }]);
  assert.equal(b.validatorFor('orders.eu')!({ id: 'x', note: 'n' }), true, 'the binding validates with the latest version');
  assert.equal(b.validatorFor('x', 'order.created')!({ id: 1 }), false);
  assert.deepEqual(changes, [{ kind: 'merge', subjects: ['orders'] }]);
  assert.deepEqual(b.merge(wire(a.export())), { changed: [], skipped: [] });
  assert.equal(changes.length, 1, 'no change, no event');
});

test('merge(): the newer stamp wins the whole subject (versions, bindings, mode); an older state changes nothing', () => {
  const a = new SchemaRegistry({ nodeId: 'a' });
  a.register('orders', order, { topics: ['orders.>'] });
  const b = new SchemaRegistry({ nodeId: 'b' });
  b.merge(wire(a.export()));
  const older = wire(a.export());
  b.register('orders', orderV2, { topics: ['shop.orders'], compatibility: 'NONE' });
  assert.deepEqual(a.merge(wire(b.export())).changed, ['orders']);
  assert.deepEqual(a.subject('orders'), { subject: 'orders', compatibility: 'NONE', topics: ['shop.orders'], types: [], versions: [1, 2] });
  assert.equal(a.validatorFor('orders.x'), null, 'the old binding went with the old subject');
  assert.deepEqual(b.merge(older), { changed: [], skipped: [] });
  assert.deepEqual(b.subject('orders')?.versions, [1, 2]);
});

test('merge(): a change made after seeing a state sorts after it, whatever the node ids (Lamport clock)', () => {
  // 'z' has made many changes; 'a' sorts first by id, but changes after merging them.
  const z = new SchemaRegistry({ nodeId: 'z' });
  for (let i = 0; i < 5; i++) z.setCompatibility('orders', i % 2 === 0 ? 'NONE' : 'FULL');
  z.register('orders', order);
  const a = new SchemaRegistry({ nodeId: 'a' });
  a.merge(wire(z.export()));
  a.register('orders', orderV2, { compatibility: 'BACKWARD' });
  const [counterA, nodeA] = a.export().subjects[0].stamp;
  const [counterZ] = z.export().subjects[0].stamp;
  assert.equal(nodeA, 'a');
  assert.ok(counterA > counterZ, `${counterA} > ${counterZ}`);
  assert.deepEqual(z.merge(wire(a.export())).changed, ['orders']);
  assert.deepEqual(z.subject('orders')?.versions, [1, 2]);
});

test('merge(): two nodes registering different versions of one subject at once resolve last-writer-wins, alike on both', () => {
  const a = new SchemaRegistry({ nodeId: 'a' });
  const b = new SchemaRegistry({ nodeId: 'b' });
  const lost = a.register('orders', order).id;
  const kept = b.register('orders', other).id;
  const fromA = wire(a.export());
  a.merge(wire(b.export()));
  b.merge(fromA);
  assert.deepEqual(a.export(), b.export());
  // Same counter: the larger node id wins; the losing version is gone everywhere, id included.
  assert.equal(a.get('orders', 1)?.id, kept);
  assert.equal(a.byId(lost), undefined);
  assert.equal(b.byId(lost), undefined);
});

test('merge(): a filter or type two subjects claim goes to the subject whose name sorts first, on every node', () => {
  const a = new SchemaRegistry({ nodeId: 'a' });
  const b = new SchemaRegistry({ nodeId: 'b' });
  a.register('zeta', order, { topics: ['x.>'], types: ['t'] });
  b.register('alpha', other, { topics: ['x.>'], types: ['t'] });
  const fromA = wire(a.export());
  a.merge(wire(b.export()));
  b.merge(fromA);
  for (const r of [a, b]) {
    assert.equal(r.validatorFor('x.1'), r.get('alpha', 1)!.validate);
    assert.equal(r.validatorFor('y', 't'), r.get('alpha', 1)!.validate);
    // The losing subject still lists its binding, and may not take it while alpha holds it.
    assert.deepEqual(r.subject('zeta')?.topics, ['x.>']);
    assert.throws(
      () => r.register('beta', order, { topics: ['x.>'] }),
      (e: unknown) => e instanceof SchemaError && e.code === 'MG_ERR_SCHEMA_BINDING_CONFLICT' && /subject 'alpha'/.test(e.message),
    );
  }
  // Once alpha lets go, zeta's binding applies again.
  a.bind('alpha', { topics: ['other.>'] });
  b.merge(wire(a.export()));
  for (const r of [a, b]) assert.equal(r.validatorFor('x.1'), r.get('zeta', 1)!.validate);
});

test('merge(): equal stamps with different contents (a restarted node reusing its counter) still converge', () => {
  const before = new SchemaRegistry({ nodeId: 'n' });
  before.register('orders', order);
  const peer = new SchemaRegistry({ nodeId: 'p' });
  peer.merge(wire(before.export()));
  const restarted = new SchemaRegistry({ nodeId: 'n' });
  restarted.register('orders', other);
  assert.deepEqual(restarted.export().subjects[0].stamp, peer.export().subjects[0].stamp, 'the same stamp twice');
  const fromPeer = wire(peer.export());
  peer.merge(wire(restarted.export()));
  restarted.merge(fromPeer);
  assert.deepEqual(peer.export(), restarted.export());
});

test('merge(): a malformed subject or one whose id is not its content id is skipped, the rest merged; a non-state is refused', () => {
  const a = new SchemaRegistry({ nodeId: 'a' });
  a.register('good', order);
  a.register('forged', other);
  const state = wire(a.export()) as unknown as { subjects: Array<Record<string, unknown>> } & RegistryState;
  const forged = state.subjects.find((s) => s.subject === 'forged')!;
  (forged.versions as Array<{ id: number }>)[0].id = a.get('good', 1)!.id;
  state.subjects.push(
    { subject: 'no-stamp', topics: [], types: [], versions: [] },
    { subject: 'bad-schema', stamp: [9, 'a'], topics: [], types: [], versions: [{ version: 1, id: 5, schema: { type: 'nope' } }] },
  );
  const b = new SchemaRegistry({ nodeId: 'b' });
  const result = b.merge(state);
  assert.deepEqual(result.changed, ['good']);
  assert.deepEqual(
    result.skipped.map((s) => s.subject),
    ['no-stamp', 'forged', 'bad-schema'],
  );
  assert.match(result.skipped[0].reason, /^stamp undefined: expected \[counter >= 0, node id\]/);
  assert.match(result.skipped[1].reason, /is not its schema's content id/);
  assert.match(result.skipped[2].reason, /not a valid JSON Schema/);
  for (const bad of [null, 'x', { format: 1, subjects: [] }, { format: 2 }, { format: 2, subjects: {} }]) {
    assert.throws(
      () => b.merge(bad as never),
      (e: unknown) => e instanceof SchemaError && e.code === 'MG_ERR_SCHEMA_INVALID',
      JSON.stringify(bad),
    );
  }
  assert.deepEqual(b.subjects(), ['good']);
});

test('export(subjects) exports only the named subjects, sorted; unknown names are left out', () => {
  const r = new SchemaRegistry({ nodeId: 'a' });
  r.register('b', order);
  r.register('a', other);
  r.register('c', orderV2);
  assert.deepEqual(
    r.export(['c', 'a', 'nope', 'a']).subjects.map((s) => s.subject),
    ['a', 'c'],
  );
  assert.deepEqual(
    r.export().subjects.map((s) => s.subject),
    ['a', 'b', 'c'],
  );
});

// ---------------------------------------------------------------- properties
const SUBJECTS = ['s1', 's2', 's3'];
const SCHEMAS: unknown[] = [{ type: 'object' }, { type: 'object', properties: { a: { type: 'string' } } }, { type: 'string' }, { type: 'integer' }, {}];
const TOPICS = [['x.>'], ['x.y'], ['x.>', 'y.*'], []];
const TYPES = [['t1'], ['t2'], []];

type Op =
  | { kind: 'register'; node: number; subject: number; schema: number; topics?: number; types?: number; none: boolean }
  | { kind: 'mode'; node: number; subject: number; full: boolean }
  | { kind: 'bind'; node: number; subject: number; topics: number; types: number }
  | { kind: 'sync'; node: number; from: number };

const node = fc.integer({ min: 0, max: 2 });
const subject = fc.integer({ min: 0, max: SUBJECTS.length - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('register' as const),
    node,
    subject,
    schema: fc.integer({ min: 0, max: SCHEMAS.length - 1 }),
    topics: fc.option(fc.integer({ min: 0, max: TOPICS.length - 1 }), { nil: undefined }),
    types: fc.option(fc.integer({ min: 0, max: TYPES.length - 1 }), { nil: undefined }),
    none: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('mode' as const), node, subject, full: fc.boolean() }),
  fc.record({
    kind: fc.constant('bind' as const),
    node,
    subject,
    topics: fc.integer({ min: 0, max: TOPICS.length - 1 }),
    types: fc.integer({ min: 0, max: TYPES.length - 1 }),
  }),
  fc.record({ kind: fc.constant('sync' as const), node, from: node }),
);

/** Three registries after `ops`: local changes (refusals ignored) and merges between them. */
function run(ops: readonly Op[]): SchemaRegistry[] {
  const nodes = ['a', 'b', 'c'].map((nodeId) => new SchemaRegistry({ nodeId }));
  for (const o of ops) {
    const r = nodes[o.node];
    try {
      if (o.kind === 'register')
        r.register(SUBJECTS[o.subject], SCHEMAS[o.schema], {
          topics: o.topics === undefined ? undefined : TOPICS[o.topics],
          types: o.types === undefined ? undefined : TYPES[o.types],
          compatibility: o.none ? 'NONE' : undefined,
        });
      else if (o.kind === 'mode') r.setCompatibility(SUBJECTS[o.subject], o.full ? 'FULL' : 'NONE');
      else if (o.kind === 'bind') r.bind(SUBJECTS[o.subject], { topics: TOPICS[o.topics], types: TYPES[o.types] });
      else r.merge(wire(nodes[o.from].export()));
    } catch (err) {
      if (!(err instanceof SchemaError)) throw err;
    }
  }
  return nodes;
}

/** A fresh registry's state after merging `states` in order. */
function join(...states: RegistryState[]): RegistryState {
  const r = new SchemaRegistry({ nodeId: 'joiner' });
  for (const s of states) r.merge(wire(s));
  return r.export();
}

/** What a registry does with events: the schema id each probe topic and type validates with. */
function behaviour(r: SchemaRegistry): string {
  const idOf = (v: unknown) => {
    if (v === null) return null;
    for (const s of r.subjects()) if (r.get(s, 'latest')?.validate === v) return r.get(s, 'latest')!.id;
    return 'unknown';
  };
  return canonicalJson({ topics: ['x.y', 'x.z', 'y.q'].map((t) => idOf(r.validatorFor(t))), types: ['t1', 't2'].map((t) => idOf(r.validatorFor('none', t))) });
}

test('merge is commutative, associative and idempotent, and registries that exchanged states behave alike (property)', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const nodes = run(ops);
      const [s0, s1, s2] = nodes.map((n) => n.export());
      assert.deepEqual(join(s0, s1), join(s1, s0), 'commutative');
      assert.deepEqual(join(join(s0, s1), s2), join(s0, join(s1, s2)), 'associative');
      assert.deepEqual(join(s0, s0), join(s0), 'idempotent');
      assert.deepEqual(join(s0), s0, 'a fresh registry adopts a state as it is');
      assert.deepEqual(nodes[0].merge(wire(s0)), { changed: [], skipped: [] }, 'merging its own state changes nothing');
      // Full exchange: everyone merges everyone else's state.
      for (const n of nodes) for (const s of [s0, s1, s2]) n.merge(wire(s));
      const states = nodes.map((n) => JSON.stringify(n.export()));
      assert.equal(states[1], states[0]);
      assert.equal(states[2], states[0]);
      assert.equal(JSON.stringify(join(s0, s1, s2)), states[0]);
      assert.equal(behaviour(nodes[1]), behaviour(nodes[0]));
      assert.equal(behaviour(nodes[2]), behaviour(nodes[0]));
    }),
    { numRuns: 60 },
  );
});
