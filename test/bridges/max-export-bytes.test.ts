/**
 * `maxExportBytes` against the broker it exists for: mosquitto with
 * `message_size_limit`, bridged with MQTT 3.1.1. 3.1.1 PUBACKs carry no
 * reason, so mosquitto drops an oversized PUBLISH and acknowledges it like
 * any other: without the option the bridge counts it exported and the
 * event is gone without a trace. With the option set to the broker's
 * limit, the bridge refuses it before sending, and counts and names it.
 *
 * The events are sized from what a consumer on the broker receives, so
 * the boundary is the broker's own: a payload of exactly the limit goes
 * through mosquitto (and the bridge), one byte more does not.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { runCli } from '../helpers/node.js';
import { testTmpDir } from '../helpers/tmp.js';
import {
  assertRefusedOnceAndClean,
  type BridgedNode,
  bridgesSettled,
  firstBridgeRow,
  Inbox,
  ingestForExport,
  mosquittoForFile,
  mqttClient,
  startBridgedNode,
  until,
} from './bridge-harness.js';

/** mosquitto message_size_limit: PUBLISH payload bytes. */
const LIMIT = 1024;
/** Data bytes of the event that measures the JSON event format's overhead. */
const PROBE_DATA = 100;

// debug: mosquitto logs each PUBLISH it drops as too large, so the test sees what reached the broker.
const mq = mosquittoForFile([`message_size_limit ${LIMIT}`, 'log_type debug']);

const row = firstBridgeRow;
const refusedTotal = (n: BridgedNode) => Object.values(row(n).refused as Record<string, number>).reduce((a, b) => a + b, 0);

/** PUBLISHes from `clientId` that mosquitto dropped over message_size_limit. */
function droppedOnBroker(clientId: string): number {
  return fs
    .readFileSync(mq().logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes(`Dropped too large PUBLISH from ${clientId} `)).length;
}

/** An event of `bytes` data bytes; text/plain, so structured mode carries it as a JSON string, one byte per 'a'. Ids are all five characters long. */
const ingest = (n: BridgedNode, id: string, topic: string, bytes: number) =>
  ingestForExport(n, '/max-export', id, topic, bytes, { datacontenttype: 'text/plain' });

/**
 * An MQTT 3.1.1 bridge exporting `<prefix>.>` to `<prefix>/...`, with a
 * 3.1.1 consumer on the broker recording [id, payload bytes]. It exports
 * a probe event, and from the payload the consumer got, one event whose
 * payload is exactly `LIMIT` bytes and, before it, one of `LIMIT + 1`;
 * it returns once the bridge has settled all three (exported or refused)
 * and the consumer has what went through.
 */
async function exportAroundTheLimit(
  t: TestContext,
  prefix: string,
  maxExportBytes: number | undefined,
): Promise<{ n: BridgedNode; onBroker: Inbox<[string, number]>; clientId: string }> {
  const clientId = `mg-${prefix}`;
  const n = await startBridgedNode(t, [
    {
      type: 'mqtt',
      name: `mqtt4-${prefix}`,
      url: mq().url,
      protocolVersion: 4,
      clientId,
      import: [],
      export: [{ mesh: `${prefix}.>`, broker: prefix }],
      ...(maxExportBytes === undefined ? {} : { maxExportBytes }),
    },
  ]);
  await bridgesSettled(n);
  const onBroker = new Inbox<[string, number]>();
  const consumer = await mqttClient(t, mq().url, 4);
  consumer.on('message', (_topic, payload) => onBroker.push([String((JSON.parse(payload.toString('utf8')) as { id: unknown }).id), payload.byteLength]));
  await consumer.subscribeAsync(`${prefix}/#`, { qos: 1 });

  ingest(n, 'probe', `${prefix}.x`, PROBE_DATA);
  await onBroker.waitFor(1);
  const overhead = onBroker.items[0][1] - PROBE_DATA;
  assert.ok(overhead > 0 && overhead + PROBE_DATA < LIMIT, `JSON overhead ${overhead} bytes`);
  // The larger first: had it reached the consumer, it would be there before the other one (QoS 1, one connection, in order).
  ingest(n, 'big-1', `${prefix}.x`, LIMIT + 1 - overhead);
  ingest(n, 'fit-1', `${prefix}.x`, LIMIT - overhead);
  await onBroker.waitFor(2);
  await until('all three exports settled', () => (row(n).exported as number) + refusedTotal(n) === 3);
  return { n, onBroker, clientId };
}

test('mqtt 3.1.1 without maxExportBytes: an export over mosquitto message_size_limit is acknowledged, counted exported, and lost (why the option exists)', {
  timeout: 60_000,
}, async (t) => {
  const { n, onBroker, clientId } = await exportAroundTheLimit(t, 'msloff', undefined);
  assert.deepEqual(onBroker.items.slice(1), [['fit-1', LIMIT]], 'a payload of exactly message_size_limit reaches the consumer; one byte more does not');
  assert.equal(droppedOnBroker(clientId), 1, 'mosquitto dropped the oversized PUBLISH');
  const s = row(n);
  assert.equal(s.exported, 3, 'the dropped event is counted exported: the plain 3.1.1 PUBACK says nothing');
  assert.deepEqual(s.refused, {});
  assert.equal(s.lastRefusal, null);
});

test('mqtt 3.1.1 with maxExportBytes = message_size_limit: the oversized export is refused once before sending as MG_ERR_EVENT_TOO_LARGE; one at the limit and later ones arrive', {
  timeout: 60_000,
}, async (t) => {
  const { n, onBroker, clientId } = await exportAroundTheLimit(t, 'mslon', LIMIT);
  assert.deepEqual(onBroker.items.slice(1), [['fit-1', LIMIT]]);
  const s = row(n);
  assert.equal(s.exported, 2);
  assert.deepEqual(s.refused, { MG_ERR_EVENT_TOO_LARGE: 1 });
  assert.equal(
    s.lastRefusal,
    `MG_ERR_EVENT_TOO_LARGE: export of mslon.x to mslon/x: the encoded payload is ${LIMIT + 1} bytes, over the bridge's maxExportBytes (${LIMIT} bytes)`,
  );

  // Refused for good: an export after it goes through, and the refused one never reaches the broker, then or later.
  ingest(n, 'aft-1', 'mslon.x', PROBE_DATA);
  await onBroker.waitFor(3);
  await until('aft-1 PUBACKed', () => row(n).exported === 3);
  assert.deepEqual(
    onBroker.items.map(([id]) => id),
    ['probe', 'fit-1', 'aft-1'],
  );
  assert.equal(droppedOnBroker(clientId), 0, 'the oversized PUBLISH was never sent');
  await assertRefusedOnceAndClean(n, 'MG_ERR_EVENT_TOO_LARGE');
});

test('a wrong maxExportBytes in the config file stops start-up naming the key and the fix', { timeout: 30_000 }, async (t) => {
  const file = join(testTmpDir(t, 'mg-max-export'), 'bad.yaml');
  // Nothing listens on port 1: start-up must fail on the values, before any bridge connects.
  const bridge = (value: string) => `  - type: mqtt\n    url: mqtt://127.0.0.1:1\n    protocolVersion: 4\n    maxExportBytes: ${value}\n`;
  fs.writeFileSync(file, `listen:\n  host: 127.0.0.1\n  port: 0\nbridges:\n${bridge('0')}${bridge('-1')}${bridge('1.5')}${bridge('"1MB"')}`);
  const cli = runCli(t, ['start', '--config', file]);
  assert.equal(await cli.exited, 1);
  assert.match(cli.stderr, /MG_ERR_CONFIG_INVALID/);
  // Each key named with the reason and the fix. (Not the value after "got": broker/config.ts does not look inside arrays for it.)
  const fix = 'fix: largest encoded payload the bridge exports, bytes, an integer >= 1 ';
  assert.match(cli.stderr, new RegExp(`bridges\\[0\\]\\.maxExportBytes: must be >= 1, got .*; ${fix}`));
  assert.match(cli.stderr, new RegExp(`bridges\\[1\\]\\.maxExportBytes: must be >= 1, got .*; ${fix}`));
  assert.match(cli.stderr, new RegExp(`bridges\\[2\\]\\.maxExportBytes: must be integer, got .*; ${fix}`));
  assert.match(cli.stderr, new RegExp(`bridges\\[3\\]\\.maxExportBytes: must be integer, got .*; ${fix}`));
  assert.doesNotMatch(cli.stdout, / ready\n/);
});
