import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SchemaRegistry, shippedSchema } from '../../schemas/mod.js';

const example = JSON.parse(readFileSync(new URL('../../../schemas/examples/db-change-event.example.json', import.meta.url), 'utf8')) as Record<string, unknown>;

function validator(name: 'cloudevents' | 'db-change-event') {
  const r = new SchemaRegistry();
  r.register(name, shippedSchema(name));
  return r.get(name, 1)!.validate;
}

test('the shipped db-change-event example validates against schemas/db-change-event.schema.json', () => {
  const validate = validator('db-change-event');
  assert.equal(validate(example), true, JSON.stringify(validate.errors));
  const source = example.source as Record<string, unknown>;
  const { lsn: _lsn, ...withoutLsn } = source;
  assert.equal(validate({ ...example, source: { ...withoutLsn, position: { file: 'binlog.000003', pos: 4096 } } }), true, 'position instead of lsn');
  assert.equal(validate({ ...example, op: 'c', before: null }), true, 'a create');
  assert.equal(validate({ ...example, op: 'd', after: null }), true, 'a delete');
});

test('broken db-change events are refused with ajv error paths', () => {
  const validate = validator('db-change-event');
  const source = example.source as Record<string, unknown>;
  const { table: _t, ...withoutTable } = source;
  const broken: Array<[string, unknown, string]> = [
    ['unknown op', { ...example, op: 'x' }, '/op'],
    ['source without table', { ...example, source: withoutTable }, '/source'],
    ['both lsn and position', { ...example, source: { ...source, position: 'binlog.000003:4096' } }, '/source'],
    ['create with a before image', { ...example, op: 'c' }, '/before'],
    ['delete with an after image', { ...example, op: 'd' }, '/after'],
    ['ts_ms as a string', { ...example, ts_ms: 'yesterday' }, '/ts_ms'],
    ['unknown top-level member', { ...example, extra: 1 }, ''],
  ];
  for (const [name, event, path] of broken) {
    assert.equal(validate(event), false, name);
    assert.ok(
      validate.errors?.some((e) => e.instancePath === path),
      `${name}: ${JSON.stringify(validate.errors)}`,
    );
  }
});

test('the shipped CloudEvents schema takes a structured event with extensions and refuses a malformed one', () => {
  const validate = validator('cloudevents');
  const ok = {
    specversion: '1.0',
    id: 'e1',
    source: '/shop/orders',
    type: 'com.example.order.created',
    time: '2026-11-22T10:00:00Z',
    datacontenttype: 'application/json',
    data: { id: 1 },
    mgorigin: 'node-a',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  };
  assert.equal(validate(ok), true, JSON.stringify(validate.errors));
  assert.equal(validate({ specversion: '1.0', id: 'e2', source: 's', type: 't', data_base64: 'AAEC' }), true);
  for (const [name, event] of [
    ['specversion 0.3', { ...ok, specversion: '0.3' }],
    ['no id', { ...ok, id: undefined }],
    ['data and data_base64', { ...ok, data_base64: 'AA==' }],
    ['upper-case extension name', { ...ok, MyExt: 'x' }],
    ['object extension value', { ...ok, myext: { a: 1 } }],
    ['time not RFC 3339', { ...ok, time: 'yesterday' }],
  ] as const) {
    const event_ = JSON.parse(JSON.stringify(event)) as unknown;
    assert.equal(validate(event_), false, name);
  }
});

test('the shipped config schema is the one broker/config.ts compiles', () => {
  const schema = shippedSchema('config');
  assert.equal(schema.$id, 'https://meshgate.dev/schemas/config.schema.json');
});
