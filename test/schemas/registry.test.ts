import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson } from '../../schemas/internal.js';
import {
  compareSpecificity,
  isSchemaId,
  MAX_SCHEMA_ID,
  parseDataschemaRef,
  type RegistryChange,
  SchemaError,
  SchemaRegistry,
  schemaIdOf,
} from '../../schemas/mod.js';

const order = { type: 'object', properties: { id: { type: 'string' }, qty: { type: 'integer' } }, required: ['id'], additionalProperties: false };
const orderV2 = { ...order, properties: { ...order.properties, note: { type: 'string' } } };

function errorWith(code: string, reason?: RegExp) {
  return (err: unknown) =>
    err instanceof SchemaError && err.code === code && (reason === undefined || err.reasons.some((r) => reason.test(r)) || reason.test(err.message));
}

test('SchemaRegistry.register() numbers versions per subject; a schema keeps one id in every subject', () => {
  const r = new SchemaRegistry();
  const v1 = r.register('orders', order);
  const v2 = r.register('orders', orderV2);
  assert.deepEqual([v1.version, v1.created, v2.version, v2.created], [1, true, 2, true]);
  assert.notEqual(v1.id, v2.id, 'different schemas, different ids');
  // Same text with keys in another order: the existing version, no new one.
  assert.deepEqual(r.register('orders', { required: ['id'], additionalProperties: false, properties: order.properties, type: 'object' }), {
    id: v1.id,
    version: 1,
    created: false,
  });
  // Another subject with an already known schema: version 1 there, same id.
  assert.deepEqual(r.register('orders-copy', orderV2), { id: v2.id, version: 1, created: true });
  assert.deepEqual(r.subjects(), ['orders', 'orders-copy']);
  assert.deepEqual(r.subject('orders')?.versions, [1, 2]);
  assert.equal(r.get('orders', 'latest')?.version, 2);
  assert.equal(r.get('orders', 1)?.id, v1.id);
  assert.deepEqual(r.byId(v2.id)?.versions, [
    { subject: 'orders', version: 2 },
    { subject: 'orders-copy', version: 1 },
  ]);
  assert.equal(r.get('nope', 'latest'), undefined);
});

test('ids come from the schema text: two independent registries give the same schema the same id, whatever they held before', () => {
  const here = new SchemaRegistry();
  const there = new SchemaRegistry();
  there.register('unrelated', { type: 'string' });
  there.register('also-unrelated', { type: 'integer' });
  const a = here.register('orders', order);
  const b = there.register('purchases', { additionalProperties: false, required: ['id'], type: 'object', properties: order.properties });
  assert.equal(a.id, b.id);
  assert.equal(a.id, schemaIdOf(canonicalJson(order)));
  assert.ok(isSchemaId(a.id) && a.id <= MAX_SCHEMA_ID, `${a.id} fits a positive int32`);
  assert.notEqual(here.register('orders', orderV2).id, a.id);
  assert.deepEqual(there.byId(a.id)?.schema, here.byId(a.id)?.schema);
});

test('each schema is compiled once: every version of it shares one validate function', () => {
  const r = new SchemaRegistry();
  const { id } = r.register('a', order);
  r.register('b', order);
  assert.equal(r.get('a', 1)!.validate, r.get('b', 1)!.validate);
  assert.equal(r.validatorFor('x', undefined, 'meshgate:schema:a:1'), r.byId(id)!.validate);
});

test('an incompatible version is refused with reasons and changes nothing', () => {
  const r = new SchemaRegistry();
  r.register('orders', order, { topics: ['orders.>'] });
  const changes: RegistryChange[] = [];
  r.onChange((c) => changes.push(c));
  const bad = { ...order, required: ['id', 'qty'] };
  assert.throws(
    () => r.register('orders', bad, { topics: ['other.>'], compatibility: 'BACKWARD' }),
    errorWith('MG_ERR_SCHEMA_INCOMPATIBLE', /^BACKWARD against version 1: property 'qty' became required at \/properties\/qty$/),
  );
  assert.deepEqual(r.subject('orders'), { subject: 'orders', compatibility: 'BACKWARD', topics: ['orders.>'], types: [], versions: [1] });
  assert.deepEqual(changes, []);
  // NONE lets it through.
  assert.equal(r.register('orders', bad, { compatibility: 'NONE' }).version, 2);
  assert.equal(r.compatibility('orders'), 'NONE');
});

test('check() answers without registering; a subject with no versions accepts anything', () => {
  const r = new SchemaRegistry();
  assert.deepEqual(r.check('new', order), { compatible: true, messages: [] });
  r.register('orders', order);
  assert.deepEqual(r.check('orders', orderV2), { compatible: true, messages: [] });
  const res = r.check('orders', { ...order, additionalProperties: true, properties: { id: { type: 'integer' } } });
  assert.equal(res.compatible, false);
  assert.ok(
    res.messages.some((m) => /type of \/properties\/id narrowed from string to integer/.test(m)),
    JSON.stringify(res.messages),
  );
  assert.deepEqual(r.subject('orders')?.versions, [1]);
});

test('invalid schemas, subjects, modes and filters are refused with MG_ERR_SCHEMA_INVALID', () => {
  const r = new SchemaRegistry();
  assert.throws(() => r.register('s', { type: 'object', propertiez: {} }), errorWith('MG_ERR_SCHEMA_INVALID', /unknown keyword: "propertiez"/));
  assert.throws(() => r.register('s', { type: 'strin' }), errorWith('MG_ERR_SCHEMA_INVALID'));
  assert.throws(() => r.register('s', { type: 'string', format: 'no-such-format' }), errorWith('MG_ERR_SCHEMA_INVALID'));
  assert.throws(() => r.register('s', [1, 2]), errorWith('MG_ERR_SCHEMA_INVALID', /must be a JSON object/));
  assert.throws(() => r.register('s', { $schema: 'http://json-schema.org/draft-04/schema#' }), errorWith('MG_ERR_SCHEMA_INVALID', /not supported/));
  assert.throws(() => r.register('bad subject', order), errorWith('MG_ERR_SCHEMA_INVALID', /subject/));
  assert.throws(() => r.register('s', order, { topics: ['a..b'] }), errorWith('MG_ERR_SCHEMA_INVALID', /topics\[0\]/));
  assert.throws(() => r.register('s', order, { compatibility: 'SIDEWAYS' as never }), errorWith('MG_ERR_SCHEMA_INVALID', /compatibility/));
  assert.deepEqual(r.subjects(), []);
});

test('draft 2020-12 is the default; draft-07 is compiled when $schema names it; two versions may share an $id', () => {
  const r = new SchemaRegistry();
  r.register('d7', {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://x/y.json',
    type: 'object',
    definitions: { n: { type: 'integer' } },
    properties: { n: { $ref: '#/definitions/n' } },
  });
  assert.equal(r.get('d7', 1)!.validate({ n: 'x' }), false);
  r.register('d7', {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://x/y.json',
    type: 'object',
    definitions: { n: { type: 'integer' } },
    properties: { n: { $ref: '#/definitions/n' }, m: {} },
  });
  const v = r.register('d2020', { type: 'array', prefixItems: [{ type: 'string' }], items: false });
  assert.equal(r.byId(v.id)!.validate(['a', 'b']), false);
  assert.equal(r.byId(v.id)!.validate(['a']), true);
});

test('validatorFor() picks dataschema first, then the type binding, then the most specific topic filter', () => {
  const r = new SchemaRegistry();
  const s = (tag: string) => ({ type: 'object', properties: { tag: { const: tag } }, required: ['tag'] });
  r.register('all', s('all'), { topics: ['orders.>'] });
  r.register('eu', s('eu'), { topics: ['orders.eu.>'] });
  r.register('eu-created', s('eu-created'), { topics: ['orders.eu.created'] });
  r.register('star', s('star'), { topics: ['orders.*.created'] });
  r.register('typed', s('typed'), { types: ['com.example.order.created'] });
  r.register('explicit', s('explicit-1'));
  r.register('explicit', s('explicit-2'), { compatibility: 'NONE' });
  const picks = (topic: string, type?: string, dataschema?: string) => {
    const v = r.validatorFor(topic, type, dataschema);
    if (v === null) return null;
    for (const tag of ['all', 'eu', 'eu-created', 'star', 'typed', 'explicit-1', 'explicit-2']) if (v({ tag })) return tag;
    return 'refuses all';
  };
  assert.equal(picks('orders.eu.created'), 'eu-created');
  assert.equal(picks('orders.eu.updated'), 'eu');
  assert.equal(picks('orders.us.created'), 'star');
  assert.equal(picks('orders.us.updated'), 'all');
  assert.equal(picks('billing.x'), null);
  assert.equal(picks('orders.eu.created', 'com.example.order.created'), 'typed');
  assert.equal(picks('billing.x', 'com.example.order.created'), 'typed');
  assert.equal(picks('orders.eu.created', 'com.example.order.created', 'meshgate:schema:explicit:1'), 'explicit-1');
  assert.equal(picks('orders.eu.created', undefined, 'meshgate:schema:explicit:latest'), 'explicit-2');
  assert.equal(picks('x', undefined, `/v1/schemas/ids/${r.get('explicit', 1)!.id}`), 'explicit-1');
  assert.equal(picks('x', undefined, 'http://node-b:8080/v1/schemas/subjects/explicit/versions/2'), 'explicit-2');
  // A URI that is not one of the registry's forms names nothing here: bindings apply.
  assert.equal(picks('orders.eu.created', undefined, 'https://example.com/schemas/order.json'), 'eu-created');
  // A registry form naming nothing registered: refused, with the reason in errors.
  const refusing = r.validatorFor('orders.x', undefined, 'meshgate:schema:explicit:9')!;
  assert.equal(refusing({ tag: 'all' }), false);
  assert.equal(refusing.errors?.[0].keyword, 'dataschema');
});

test('compareSpecificity(): literal beats *, * beats >, leftmost difference decides', () => {
  const ordered = ['orders.eu.created', 'orders.eu.*', 'orders.eu.>', 'orders.*.created', 'orders.*.>', 'orders.>', '>'];
  const shuffled = [...ordered].reverse();
  assert.deepEqual(shuffled.sort(compareSpecificity), ordered);
});

test('parseDataschemaRef() reads the documented forms and nothing else', () => {
  assert.deepEqual(parseDataschemaRef('meshgate:schema:orders.v1:3'), { kind: 'version', subject: 'orders.v1', version: 3 });
  assert.deepEqual(parseDataschemaRef('meshgate:schema:orders:latest'), { kind: 'version', subject: 'orders', version: 'latest' });
  assert.deepEqual(parseDataschemaRef('/v1/schemas/ids/12'), { kind: 'id', id: 12 });
  assert.deepEqual(parseDataschemaRef('https://h:1/v1/schemas/ids/12'), { kind: 'id', id: 12 });
  // Content ids reach 2^31-1: ten digits.
  assert.deepEqual(parseDataschemaRef('/v1/schemas/ids/2147483647'), { kind: 'id', id: 2147483647 });
  assert.deepEqual(parseDataschemaRef('/v1/schemas/subjects/a/versions/2'), { kind: 'version', subject: 'a', version: 2 });
  for (const no of ['meshgate:schema:orders:0', 'meshgate:schema:orders', '/v1/schemas/ids/x', 'https://example.com/s.json', ''])
    assert.equal(parseDataschemaRef(no), null, no);
});

test('a topic filter or type bound to one subject cannot be bound to another', () => {
  const r = new SchemaRegistry();
  r.register('a', order, { topics: ['orders.>'], types: ['t'] });
  assert.throws(() => r.register('b', order, { topics: ['orders.>'] }), errorWith('MG_ERR_SCHEMA_BINDING_CONFLICT', /orders\.>.*subject 'a'/));
  assert.throws(() => r.register('b', order, { types: ['t'] }), errorWith('MG_ERR_SCHEMA_BINDING_CONFLICT'));
  assert.equal(r.subject('b'), undefined);
  // Rebinding a elsewhere frees the filter.
  r.bind('a', { topics: ['orders.eu.>'] });
  r.register('b', order, { topics: ['orders.>'] });
  assert.equal(r.validatorFor('orders.us'), r.get('b', 1)!.validate);
  assert.throws(() => r.bind('zzz', { topics: [] }), errorWith('MG_ERR_SCHEMA_NOT_FOUND'));
});

test('onChange reports versions, subject changes and imports; export()/import() move the whole state', () => {
  const r = new SchemaRegistry();
  const changes: RegistryChange[] = [];
  const off = r.onChange((c) => changes.push(c));
  const v1 = r.register('orders', order, { topics: ['orders.>'], types: ['order.created'] });
  const v2 = r.register('orders', orderV2);
  r.setCompatibility('orders', 'FULL_TRANSITIVE');
  r.register('orders', orderV2, { types: ['order.made'] });
  // Asking for what the subject already has is no change.
  r.register('orders', orderV2, { types: ['order.made'], compatibility: 'FULL_TRANSITIVE' });
  assert.deepEqual(changes, [
    { kind: 'version', subject: 'orders', version: 1, id: v1.id },
    { kind: 'version', subject: 'orders', version: 2, id: v2.id },
    { kind: 'subject', subject: 'orders' },
    { kind: 'subject', subject: 'orders' },
  ]);
  off();
  r.setCompatibility('orders', 'FULL');
  assert.equal(changes.length, 4);

  const state = JSON.parse(JSON.stringify(r.export()));
  const copy = new SchemaRegistry();
  const seen: RegistryChange[] = [];
  copy.onChange((c) => seen.push(c));
  copy.import(state);
  assert.deepEqual(seen, [{ kind: 'import' }]);
  assert.deepEqual(copy.export(), r.export());
  assert.equal(copy.validatorFor('orders.x', 'order.made')!({ id: 'a', note: 'n' }), true);
  assert.equal(copy.validatorFor('orders.x')!({ id: 1 }), false);
  assert.equal(copy.byId(v2.id)?.versions.length, 1);
  copy.register('other', { type: 'string' });
  // A broken state changes nothing: a schema that does not compile, an id that is not the schema's content id.
  assert.throws(
    () => copy.import({ ...state, subjects: [{ ...state.subjects[0], versions: [{ version: 1, id: 1, schema: { type: 'nope' } }] }] }),
    errorWith('MG_ERR_SCHEMA_INVALID', /not a valid JSON Schema/),
  );
  assert.throws(
    () => copy.import({ ...state, subjects: [{ ...state.subjects[0], versions: [{ version: 1, id: v2.id, schema: order }] }] }),
    errorWith('MG_ERR_SCHEMA_INVALID', /is not its schema's content id/),
  );
  assert.throws(() => copy.import({ ...state, format: 1 }), errorWith('MG_ERR_SCHEMA_INVALID', /format 2/));
  assert.deepEqual(copy.subjects(), ['orders', 'other']);
});

test("a registered schema is the registry's own copy: mutating the caller's object changes nothing", () => {
  const r = new SchemaRegistry();
  const mine = { type: 'object', properties: { a: { type: 'string' } } } as Record<string, unknown>;
  r.register('s', mine);
  (mine.properties as Record<string, unknown>).a = { type: 'integer' };
  assert.deepEqual(r.get('s', 1)!.schema, { type: 'object', properties: { a: { type: 'string' } } });
  assert.equal(r.get('s', 1)!.validate({ a: 'x' }), true);
});
