import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AttrValue, MeshEvent } from '../../../broker/event/mod.js';
import { IngressValidator } from '../../../broker/pipeline/mod.js';
import { SchemaRegistry, shippedSchema } from '../../../schemas/mod.js';
import { ORDER } from '../../helpers/order-schema.js';

function event(topic: string, data: unknown, attrs: Record<string, AttrValue> = {}, type = 'order.changed'): MeshEvent {
  const bytes = data === undefined ? undefined : Buffer.from(typeof data === 'string' ? data : JSON.stringify(data));
  return { id: 'e1', source: '/test', type, topic, data: bytes, attrs, hops: [] };
}

function setup(): { registry: SchemaRegistry; validator: IngressValidator } {
  const registry = new SchemaRegistry();
  registry.register('orders', ORDER, { topics: ['orders.>'] });
  return { registry, validator: new IngressValidator(registry) };
}

test('IngressValidator.check() passes an event on a topic no schema is bound to, whatever its data', () => {
  const { validator } = setup();
  assert.equal(validator.check(event('billing.eu', 'not json at all', { datacontenttype: 'application/octet-stream' })), null);
});

test('IngressValidator.check() passes valid data and reports every violation with its JSON pointer', () => {
  const { validator } = setup();
  assert.equal(validator.check(event('orders.eu', { op: 'c', after: { id: 1, total: 5 } })), null);
  assert.deepEqual(validator.check(event('orders.eu', { op: 'x', after: { id: 'one', total: -1 } })), [
    { path: '/op', message: 'must be equal to one of the allowed values' },
    { path: '/after/id', message: 'must be integer' },
    { path: '/after/total', message: 'must be >= 0' },
  ]);
});

test("IngressValidator.check() points a missing required property at the property itself, with ajv's message", () => {
  const { validator } = setup();
  assert.deepEqual(validator.check(event('orders.eu', { op: 'c', after: { total: 1 } })), [{ path: '/after/id', message: "must have required property 'id'" }]);
  assert.deepEqual(validator.check(event('orders.eu', {})), [
    { path: '/op', message: "must have required property 'op'" },
    { path: '/after', message: "must have required property 'after'" },
  ]);
});

test('IngressValidator.check() points an extra property at it, escaping ~ and / (RFC 6901)', () => {
  const registry = new SchemaRegistry();
  registry.register('closed', { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false }, { topics: ['closed'] });
  assert.deepEqual(new IngressValidator(registry).check(event('closed', { a: 'x', 'b/c~d': 1 })), [
    { path: '/b~1c~0d', message: 'must NOT have additional properties' },
  ]);
});

test('IngressValidator.check() reads data as JSON for application/json, text/json, */*+json and no datacontenttype', () => {
  const { validator } = setup();
  for (const ct of [undefined, 'application/json', 'text/json', 'application/vnd.shop.order+json; charset=utf-8']) {
    const attrs: Record<string, AttrValue> = ct === undefined ? {} : { datacontenttype: ct };
    assert.equal(validator.check(event('orders.eu', { op: 'u', after: { id: 2 } }, attrs)), null, String(ct));
    assert.deepEqual(
      validator.check(event('orders.eu', { op: 'u', after: { id: 2.5 } }, attrs)),
      [{ path: '/after/id', message: 'must be integer' }],
      String(ct),
    );
  }
});

test('IngressValidator.check() refuses non-JSON data on an event a schema is bound to, naming the content type', () => {
  const { validator } = setup();
  const reasons = validator.check(event('orders.eu', '{"op":"c","after":{"id":1}}', { datacontenttype: 'text/plain' }));
  assert.equal(reasons?.length, 1);
  assert.equal(reasons[0].path, '');
  assert.match(reasons[0].message, /^data is text\/plain, but a JSON Schema is bound to this event; fix: /);
});

test('IngressValidator.check() refuses bytes that are not JSON text, and validates absent data as null', () => {
  const { validator } = setup();
  const garbage = validator.check(event('orders.eu', '{"op":'));
  assert.equal(garbage?.length, 1);
  assert.equal(garbage[0].path, '');
  assert.match(garbage[0].message, /^data is not valid JSON \(/);
  assert.deepEqual(validator.check(event('orders.eu', undefined)), [{ path: '', message: 'must be object' }]);
  const registry = new SchemaRegistry();
  registry.register('nothing', { type: 'null' }, { topics: ['ping'] });
  assert.equal(new IngressValidator(registry).check(event('ping', undefined)), null);
});

test('IngressValidator.check() takes dataschema first: a registered version overrides the topic binding; an unknown one is refused', () => {
  const { registry, validator } = setup();
  registry.register('loose', { type: 'object' });
  // Valid only under 'loose': the ref wins over the topic binding.
  assert.equal(validator.check(event('orders.eu', { anything: true }, { dataschema: 'meshgate:schema:loose:1' })), null);
  assert.deepEqual(validator.check(event('billing.eu', { a: 1 }, { dataschema: 'meshgate:schema:nope:1' })), [
    { path: '', message: 'names no registered schema (meshgate:schema:nope:1)' },
  ]);
  // Any other URI is not the registry's: the topic binding applies.
  assert.deepEqual(validator.check(event('orders.eu', { op: 'c', after: {} }, { dataschema: 'https://example.com/order.json' })), [
    { path: '/after/id', message: "must have required property 'id'" },
  ]);
});

test('IngressValidator.check() uses the schema bound to the event type before the topic binding', () => {
  const { registry, validator } = setup();
  registry.register('refunds', { type: 'object', required: ['refund'] }, { types: ['order.refunded'] });
  assert.deepEqual(validator.check(event('orders.eu', { op: 'c', after: { id: 1 } }, {}, 'order.refunded')), [
    { path: '/refund', message: "must have required property 'refund'" },
  ]);
});

test('IngressValidator.check() reports at most maxReasons reasons (default 20)', () => {
  const registry = new SchemaRegistry();
  registry.register('numbers', { type: 'array', items: { type: 'integer' } }, { topics: ['numbers'] });
  const data = Array.from({ length: 50 }, (_, i) => `n${i}`);
  const all = new IngressValidator(registry).check(event('numbers', data));
  assert.equal(all?.length, 20);
  assert.deepEqual(all[19], { path: '/19', message: 'must be integer' });
  assert.equal(new IngressValidator(registry, { maxReasons: 3 }).check(event('numbers', data))?.length, 3);
  assert.throws(() => new IngressValidator(registry, { maxReasons: 0 }), RangeError);
});

test('IngressValidator.check() with the shipped db-change-event schema: the example passes, a broken row image is named', () => {
  const registry = new SchemaRegistry();
  registry.register('db-change', shippedSchema('db-change-event'), { topics: ['db.>'] });
  const validator = new IngressValidator(registry);
  const example = {
    before: { id: 1004 },
    after: { id: 1004 },
    op: 'u',
    source: { db: 'shop', table: 'orders', lsn: 24023128, txId: 565, ts_ms: 1763800000000 },
    ts_ms: 1763800000123,
  };
  assert.equal(validator.check(event('db.orders.update', example)), null);
  const reasons = validator.check(event('db.orders.update', { ...example, source: { ...example.source, ts_ms: 'yesterday' } }));
  assert.deepEqual(reasons, [{ path: '/source/ts_ms', message: 'must be integer' }]);
});
