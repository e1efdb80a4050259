import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveBridge } from '../../../bridges/core/mod.js';
import { MQTT_DIALECT } from '../../../bridges/mqtt/mod.js';
import { type PgSinkEntry, type PgSourceEntry, resolvePgSink, resolvePgSource } from '../../../bridges/postgres/mod.js';
import { type ConfigLayer, resolveConfig } from '../../../broker/config/mod.js';
import type { MeshError } from '../../../broker/mod.js';

const base: PgSourceEntry = { type: 'postgres-source', url: 'postgres://cdc:secret@db.eu:5433/shop', tables: ['public.orders'] };

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: MeshError) => {
    assert.equal(err.code, 'MG_ERR_CONFIG_INVALID');
    assert.match(err.message, message);
    return true;
  });
}

test('a postgres-source entry gets its defaults: slot, publication, topic template and a credential-free source URI', () => {
  const s = resolvePgSource(base, 2, 'eu-1');
  assert.match(s.slot, /^meshgate_[0-9a-f]{16}$/);
  assert.equal(s.publication, s.slot);
  assert.equal(s.topic, 'db.{schema}.{table}.{op}');
  assert.equal(s.sourceUri, 'postgres://db.eu:5433/shop');
  assert.doesNotMatch(s.displayUrl, /secret/);
  assert.equal(s.name, 'postgres-source-2');
  assert.equal(resolvePgSource(base, 2, 'eu-1').slot, s.slot, 'the default slot is stable across starts');
});

test('wrong postgres-source values name the key and the fix', () => {
  refused(() => resolvePgSource({ ...base, url: 'mysql://x/y' }, 0, 'n'), /bridges\[0\]\.url: scheme mysql:\/\/ .*fix: use postgres:\/\//);
  refused(() => resolvePgSource({ ...base, url: 'postgres://h:5432/' }, 0, 'n'), /bridges\[0\]\.url: names no database.*fix:/);
  refused(() => resolvePgSource({ ...base, tables: ['orders'] }, 0, 'n'), /bridges\[0\]\.tables\[0\]: expected schema\.table.*fix: e\.g\. public\.orders/);
  refused(() => resolvePgSource({ ...base, topic: 'db.{tbl}' }, 0, 'n'), /bridges\[0\]\.topic: unknown placeholder \{tbl\}; fix:/);
  refused(
    () => resolvePgSource({ ...base, exchange: 'x' } as unknown as PgSourceEntry, 0, 'n'),
    /bridges\[0\]\.exchange: does not apply to postgres-source bridges; fix: remove it/,
  );
  refused(
    () => resolveBridge({ type: 'mqtt', url: 'mqtt://127.0.0.1:1883', tables: ['public.x'] } as never, 1, 'n', MQTT_DIALECT),
    /bridges\[1\]\.tables: applies to postgres-source bridges only; fix: remove it/,
  );
});

test('the config file schema requires tables for a postgres-source entry and accepts postgres:// URLs', () => {
  const layer = (entry: Record<string, unknown>) => ({ bridges: [entry] }) as ConfigLayer;
  assert.throws(
    () => resolveConfig({}, layer({ type: 'postgres-source', url: 'postgres://127.0.0.1/shop' })),
    (err: MeshError) => err.code === 'MG_ERR_CONFIG_INVALID' && /bridges\[0\]/.test(err.message) && /tables/.test(err.message),
  );
  const ok = resolveConfig({}, layer({ type: 'postgres-source', url: 'postgres://127.0.0.1/shop', tables: ['public.orders'], slot: 'meshgate_shop' }));
  assert.equal(ok.bridges.length, 1);
});

const sink: PgSinkEntry = { type: 'postgres-sink', url: 'postgres://apply:secret@db.us:5434/shop', filter: 'db.public.orders.>' };

test('a postgres-sink entry gets its defaults: stream, replication origin, batch size, the target as a source would name it', () => {
  const s = resolvePgSink(
    { ...sink, name: 'us.apply', tables: { 'public.orders': { table: 'sales.orders_copy', columns: { qty: 'quantity' } }, 'public.items': 'items2' } },
    3,
  );
  assert.equal(s.stream, 'pgsink-us_apply');
  assert.equal(s.origin, 'meshgate_us_apply');
  assert.equal(s.batchSize, 500);
  assert.equal(s.sourceUri, 'postgres://db.us:5434/shop');
  assert.doesNotMatch(s.displayUrl, /secret/);
  assert.deepEqual(s.tables.get('public.orders'), { schema: 'sales', table: 'orders_copy', columns: new Map([['qty', 'quantity']]) });
  assert.deepEqual(s.tables.get('public.items'), { schema: 'public', table: 'items2', columns: new Map() });
  assert.equal(resolvePgSink(sink, 4).name, 'postgres-sink-4');
});

test('wrong postgres-sink values name the key and the fix', () => {
  refused(() => resolvePgSink({ ...sink, filter: 'db..x' }, 0), /bridges\[0\]\.filter: .*fix: e\.g\. db\.public\.orders\.>/);
  refused(() => resolvePgSink({ ...sink, url: 'mysql://x/y' }, 0), /bridges\[0\]\.url: scheme mysql:\/\/ .*fix: use postgres:\/\//);
  refused(() => resolvePgSink({ ...sink, tables: { orders: 'x' } }, 0), /bridges\[0\]\.tables\.orders: expected a source schema\.table/);
  refused(() => resolvePgSink({ ...sink, tables: { 'public.orders': 'A.B' } }, 0), /bridges\[0\]\.tables\.public\.orders: expected a target table.*fix:/);
  refused(() => resolvePgSink({ ...sink, stream: 'no spaces' }, 0), /bridges\[0\]\.stream: expected 1-64 .*fix:/);
  refused(
    () => resolvePgSink({ ...sink, slot: 'x' } as unknown as PgSinkEntry, 0),
    /bridges\[0\]\.slot: does not apply to postgres-sink bridges; fix: remove it/,
  );
  refused(
    () => resolveBridge({ type: 'nats', url: 'nats://127.0.0.1:4222', filter: 'db.>' } as never, 1, 'n', MQTT_DIALECT),
    /bridges\[1\]\.filter: applies to postgres-sink bridges only; fix: remove it/,
  );
  const layer = (entry: Record<string, unknown>) => ({ bridges: [entry] }) as ConfigLayer;
  assert.throws(
    () => resolveConfig({}, layer({ type: 'postgres-sink', url: 'postgres://127.0.0.1/shop' })),
    (err: MeshError) => err.code === 'MG_ERR_CONFIG_INVALID' && /bridges\[0\]/.test(err.message) && /filter/.test(err.message),
  );
  assert.throws(
    () => resolveConfig({}, layer({ type: 'postgres-sink', url: 'postgres://127.0.0.1/shop', filter: 'db.>', tables: ['public.orders'] })),
    (err: MeshError) => err.code === 'MG_ERR_CONFIG_INVALID' && /tables/.test(err.message),
  );
});
