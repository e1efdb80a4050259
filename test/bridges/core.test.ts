/** bridges/core without brokers: config checks, mapping, percent-encoding, plain ids. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AMQP_DIALECT } from '../../bridges/amqp/mod.js';
import { plainEvent } from '../../bridges/core/internal.js';
import { type BridgeEntry, exportSizeRefusal, percentDecode, percentEncode, resolveBridge } from '../../bridges/core/mod.js';
import { startBridges } from '../../bridges/mod.js';
import { MQTT_DIALECT } from '../../bridges/mqtt/mod.js';
import { NATS_DIALECT } from '../../bridges/nats/mod.js';
import { resolveConfig } from '../../broker/config/mod.js';
import { MeshError } from '../../broker/mod.js';
import { testMeshNode } from '../helpers/mesh-node.js';

const mqtt = (extra: Partial<BridgeEntry> = {}): BridgeEntry => ({ type: 'mqtt', url: 'mqtt://127.0.0.1:1883', ...extra });

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof MeshError, `expected MeshError, got ${String(err)}`);
    assert.equal(err.code, 'MG_ERR_CONFIG_INVALID');
    return err.message;
  }
  assert.fail('no error');
}

test('resolveBridge() fills defaults: shorthand bridges everything both ways', () => {
  const s = resolveBridge(mqtt(), 0, 'n1', MQTT_DIALECT);
  assert.equal(s.name, 'mqtt-0');
  assert.equal(s.protocolVersion, 5);
  assert.equal(s.mode, 'binary');
  assert.equal(s.brokerId, 'mqtt://127.0.0.1:1883');
  assert.equal(s.imports[0].mapping.meshFilter, '>');
  assert.equal(s.exports[0].meshFilter, '>');
  assert.equal(resolveBridge(mqtt({ protocolVersion: 4 }), 0, 'n1', MQTT_DIALECT).mode, 'structured');
  const a = resolveBridge({ type: 'amqp', url: 'amqp://u:p%40ss@127.0.0.1' }, 2, 'n1', AMQP_DIALECT);
  assert.equal(a.username, 'u');
  assert.equal(a.password, 'p@ss');
  assert.equal(a.exchange, 'amq.topic');
  assert.equal(a.queue, 'meshgate.n1.amqp-2');
  assert.ok(!a.displayUrl.includes('p%40ss'), 'credentials are kept out of the display URL');
});

test('resolveBridge() names the key and the fix for wrong values', () => {
  assert.match(
    configError(() => resolveBridge(mqtt({ protocolVersion: 4, mode: 'binary' }), 1, 'n', MQTT_DIALECT)),
    /bridges\[1\]\.mode: MQTT 3\.1\.1 has no binary content mode.*fix: set mode: structured/,
  );
  assert.match(
    configError(() => resolveBridge({ type: 'nats', url: 'mqtt://127.0.0.1:1' }, 0, 'n', NATS_DIALECT)),
    /bridges\[0\]\.url: scheme mqtt:\/\/ does not fit type nats; fix: use nats:\/\/ or tls:\/\//,
  );
  assert.match(
    configError(() => resolveBridge(mqtt({ exchange: 'x' }), 0, 'n', MQTT_DIALECT)),
    /bridges\[0\]\.exchange: applies to AMQP bridges only; fix: remove it/,
  );
  assert.match(
    configError(() => resolveBridge(mqtt({ import: [{ broker: 'a/+/b', mesh: 'x.>' }] }), 0, 'n', MQTT_DIALECT)),
    /bridges\[0\]\.import\[0\]: broker "a\/\+\/b" and mesh "x\.>" differ after their literal prefixes.*fix:/,
  );
  assert.match(
    configError(() => resolveBridge(mqtt({ import: [{ broker: 'a/#', mesh: 'x..y' }] }), 0, 'n', MQTT_DIALECT)),
    /bridges\[0\]\.import\[0\]\.mesh: .*fix:/,
  );
  assert.match(
    configError(() => resolveBridge({ type: 'amqp', url: 'amqp://h', import: [{ broker: 'a.#.b', mesh: 'x.>' }] }, 0, 'n', AMQP_DIALECT)),
    /bridges\[0\]\.import\[0\]\.broker: .*'#' must be last.*fix:/,
  );
  assert.match(
    configError(() => resolveBridge(mqtt({ backoffMinMs: 500, backoffMaxMs: 100 }), 0, 'n', MQTT_DIALECT)),
    /bridges\[0\]\.backoffMaxMs: must be >= backoffMinMs/,
  );
});

test('the config schema refuses unknown bridge keys and wrong enum values, naming the key', () => {
  assert.match(
    configError(() => resolveConfig({ bridges: [{ type: 'mqtt', url: 'mqtt://h:1', qos: 2 }] })),
    /bridges\[0\]\.qos: unknown key; fix: remove it or use one of: type, url, name/,
  );
  assert.match(
    configError(() => resolveConfig({ bridges: [{ type: 'kafka', url: 'mqtt://h:1' }] })),
    /bridges\[0\]\.type: .*fix: bridge protocol: mqtt, amqp or nats/,
  );
  assert.match(
    configError(() => resolveConfig({ bridges: [{ type: 'mqtt', url: 'mqtt://h:1', protocolVersion: 3 }] })),
    /bridges\[0\]\.protocolVersion: .*fix: MQTT only: 5/,
  );
});

/** Wrong maxExportBytes values as a config file or code could give them. */
const BAD_MAX_EXPORT_BYTES: readonly unknown[] = [0, -1, 1.5, '1024'];

test('maxExportBytes: absent is no limit; a positive integer is kept; 0, negative, fractional or string values stop start-up naming the key and the fix', async () => {
  assert.equal(resolveBridge(mqtt(), 0, 'n', MQTT_DIALECT).maxExportBytes, undefined);
  assert.equal(resolveBridge(mqtt({ maxExportBytes: 1 }), 0, 'n', MQTT_DIALECT).maxExportBytes, 1);
  assert.equal(resolveBridge({ type: 'nats', url: 'nats://h', maxExportBytes: 65_536 }, 0, 'n', NATS_DIALECT).maxExportBytes, 65_536);
  assert.equal(resolveConfig({ bridges: [{ type: 'amqp', url: 'amqp://h', maxExportBytes: 134_217_728 }] }).bridges[0].maxExportBytes, 134_217_728);
  const node = testMeshNode({ dedup: { windowMs: 1000, maxEntries: 10 } });
  for (const bad of BAD_MAX_EXPORT_BYTES) {
    const shown = JSON.stringify(bad);
    // A config file: the schema, with every other key.
    const fromFile = configError(() =>
      resolveConfig({
        bridges: [
          { type: 'mqtt', url: 'mqtt://h:1' },
          { type: 'mqtt', url: 'mqtt://h:2', maxExportBytes: bad },
        ],
      }),
    );
    // (Not the value after "got": broker/config.ts does not look inside arrays for it, and shows undefined.)
    assert.match(
      fromFile,
      new RegExp(
        `bridges\\[1\\]\\.maxExportBytes: must be ${typeof bad === 'number' && Number.isInteger(bad) ? '>= 1' : 'integer'}, got .*; fix: largest encoded payload the bridge exports, bytes, an integer >= 1 `,
      ),
      shown,
    );
    // Entries given in code, which never meet the schema: resolveBridge, and startBridges before anything connects.
    const fix = `must be a whole number of bytes >= 1, got ${shown}; fix: the broker's limit (mosquitto message_size_limit, RabbitMQ max_message_size), e.g. 1048576, or remove the key for no limit`;
    assert.ok(
      configError(() => resolveBridge(mqtt({ maxExportBytes: bad as number }), 2, 'n', MQTT_DIALECT)).endsWith(`bridges[2].maxExportBytes: ${fix}`),
      shown,
    );
    await assert.rejects(
      startBridges(node, [mqtt({ maxExportBytes: bad as number })], () => undefined),
      (err: unknown) => err instanceof MeshError && err.code === 'MG_ERR_CONFIG_INVALID' && err.message.endsWith(`bridges[0].maxExportBytes: ${fix}`),
      shown,
    );
  }
});

test('exportSizeRefusal() lets a payload of exactly maxExportBytes through and refuses one byte more as MG_ERR_EVENT_TOO_LARGE, naming both', () => {
  assert.equal(exportSizeRefusal({ maxExportBytes: undefined }, 10_000_000), null);
  assert.equal(exportSizeRefusal({ maxExportBytes: 1024 }, 1024), null);
  assert.equal(exportSizeRefusal({ maxExportBytes: 1024 }, 0), null);
  const err = exportSizeRefusal({ maxExportBytes: 1024 }, 1025);
  assert.ok(err instanceof MeshError);
  assert.equal(err.code, 'MG_ERR_EVENT_TOO_LARGE');
  assert.equal(err.message, "the encoded payload is 1025 bytes, over the bridge's maxExportBytes (1024 bytes)");
});

test('startBridges() checks every entry before connecting and refuses duplicate names', async () => {
  const node = testMeshNode({ dedup: { windowMs: 1000, maxEntries: 10 } });
  await assert.rejects(
    startBridges(node, [mqtt({ name: 'x' }), { type: 'nats', url: 'nats://127.0.0.1:1', name: 'x' }], () => undefined),
    (err: MeshError) => err.code === 'MG_ERR_CONFIG_INVALID' && /bridges\[1\]\.name/.test(err.message),
  );
});

test('TopicMapping rewrites the literal prefix both ways and keeps the wildcard part', () => {
  const s = resolveBridge(
    mqtt({ import: [{ broker: 'sensors/+/temp', mesh: 'iot.*.temp' }], export: [{ mesh: 'db.>', broker: 'cdc/db' }] }),
    0,
    'n',
    MQTT_DIALECT,
  );
  const im = s.imports[0].mapping;
  assert.equal(im.toMesh('sensors.42.temp'), 'iot.42.temp');
  assert.equal(im.toMesh('sensors.42.hum'), null);
  assert.equal(im.filterToBroker('iot.7.temp'), 'sensors.7.temp');
  const ex = s.exports[0];
  assert.equal(ex.toBroker('db.orders.insert'), 'cdc.db.orders.insert');
  assert.equal(MQTT_DIALECT.topicFromMesh(ex.toBroker('db.orders.insert')!), 'cdc/db/orders/insert');
  assert.equal(ex.toBroker('other.x'), null);
});

test('percentEncode() follows the CloudEvents NATS binding §3.1.3.2 example; percentDecode() refuses overlongs', () => {
  assert.equal(percentEncode('Euro € 😀'), 'Euro%20%E2%82%AC%20%F0%9F%98%80');
  assert.equal(percentEncode('a"b%c'), 'a%22b%25c');
  assert.equal(percentDecode('Euro%20%e2%82%ac%20%F0%9F%98%80'), 'Euro € 😀');
  assert.equal(percentDecode('"quoted \\"x\\" %25"'), 'quoted "x" %');
  assert.equal(percentDecode('%C0%A0'), null);
  assert.equal(percentDecode('%G1'), null);
  for (const s of ['', 'plain', 'ü 100% "q"', '\u{1F600}']) assert.equal(percentDecode(percentEncode(s)), s);
});

test('plainEvent() ids are stable across bridges and depend on broker, topic, key and payload', () => {
  const a = plainEvent('mqtt', 'mqtt://h:1883', 'sensors/42 x/t', '/', 'sensors.42%20x.t', Buffer.from('21.5'), undefined, undefined);
  const b = plainEvent('mqtt', 'mqtt://h:1883', 'sensors/42 x/t', '/', 'sensors.42%20x.t', Buffer.from('21.5'), undefined, undefined);
  assert.equal(a.id, b.id);
  assert.equal(a.source, 'mqtt://h:1883/sensors/42%20x/t');
  assert.equal(a.type, 'meshgate.mqtt.message');
  assert.equal(a.attrs.datacontenttype, 'application/json');
  assert.notEqual(plainEvent('mqtt', 'mqtt://h:1883', 'sensors/42 x/t', '/', 'x', Buffer.from('21.6'), undefined, undefined).id, a.id);
  assert.notEqual(
    plainEvent('amqp', 'amqp://h:5672', 'k', '.', 'k', Buffer.from('x'), undefined, 'message-id:1').id,
    plainEvent('amqp', 'amqp://h:5672', 'k', '.', 'k', Buffer.from('x'), undefined, 'message-id:2').id,
  );
  assert.equal(
    plainEvent('nats', 'nats://h:4222', 'k', '.', 'k', Buffer.from([0xff, 0]), undefined, undefined).attrs.datacontenttype,
    'application/octet-stream',
  );
});
