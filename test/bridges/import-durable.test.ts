/**
 * Durable before acknowledged, on import: a bridge acks upstream only once
 * the event is stored in every local stream it matched, and a store that
 * refuses (MG_ERR_STREAM_FULL) leaves the message with its broker: MQTT 5
 * PUBACK 0x97 Quota exceeded, MQTT 3.1.1 no PUBACK (the broker delivers
 * it again after a reconnect), AMQP nack with requeue.
 *
 * Before, the ack went as soon as node.ingest returned: before the commit,
 * and for a full store as a drop (3.1.1 PUBACK, AMQP nack without requeue,
 * MQTT 5 reason 0x83).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, type TestContext, test } from 'node:test';
import type { BridgeEntry } from '../../bridges/core/mod.js';
import type { IngestResult } from '../../broker/mod.js';
import { type MosquittoHandle, type RabbitMQHandle, startMosquitto, startRabbitMQ } from '../helpers/brokers.js';
import { freePort, NodeProcess } from '../helpers/mesh.js';
import { testTmpDir } from '../helpers/tmp.js';
import { amqpChannel, type BridgedNode, bridgesSettled, firstBridgeRow, mqttClient, startBridgedNode, until } from './bridge-harness.js';

let mq: MosquittoHandle;
let rmq: RabbitMQHandle;
before(async () => {
  // debug: mosquitto logs each PUBACK it receives with its reason code.
  [mq, rmq] = await Promise.all([startMosquitto({ config: ['log_type debug'] }), startRabbitMQ()]);
});
after(async () => {
  await Promise.all([mq, rmq].filter(Boolean).map((b) => b.stop()));
});

const fullCount = (n: BridgedNode) => (firstBridgeRow(n).refused as Record<string, number>).MG_ERR_STREAM_FULL ?? 0;

/** A node whose stream `s` takes `d.>` into an LMDB store of `maxBytes` (0: unlimited), with one bridge. */
function streamNode(t: TestContext, bridge: BridgeEntry, maxBytes: number): Promise<BridgedNode> {
  return startBridgedNode(t, [bridge], {
    storage: { dir: testTmpDir(t, 'bridge-durable'), engine: 'lmdb', maxBytes },
    streams: [{ name: 's', filters: ['d.>'] }],
  });
}

/** PUBACKs mosquitto received from `clientId`, as their reason codes. */
function pubacksFrom(clientId: string): number[] {
  const re = new RegExp(`Received PUBACK from ${clientId} \\(Mid: \\d+, RC:(\\d+)\\)`, 'g');
  return [...fs.readFileSync(mq.logFile, 'utf8').matchAll(re)].map((m) => Number(m[1]));
}

/** Publishes QoS 1 plain payloads to d/<i> until the bridge has counted `until` MG_ERR_STREAM_FULL refusals (at most 50). */
async function fillUp(t: TestContext, n: BridgedNode, protocolVersion: 4 | 5): Promise<number> {
  const producer = await mqttClient(t, mq.url, protocolVersion);
  let i = 0;
  while (fullCount(n) === 0 && i < 50) {
    await producer.publishAsync(`d/${i}`, Buffer.alloc(200, 0x61), { qos: 1 });
    i++;
    await until('import settled', () => (firstBridgeRow(n).imported as number) + fullCount(n) >= i || fullCount(n) > 0);
  }
  assert.ok(fullCount(n) > 0, 'the store never filled up');
  return i;
}

test('mqtt 5: an import a full stream store refuses is PUBACKed with 0x97 Quota exceeded, stored ones with 0', { timeout: 60_000 }, async (t) => {
  const clientId = 'mg-durable-full-5';
  const n = await streamNode(
    t,
    { type: 'mqtt', name: 'm5', url: mq.url, clientId, protocolVersion: 5, import: [{ broker: 'd/#', mesh: 'd.>', always: true }], export: [] },
    700,
  );
  await bridgesSettled(n);
  await fillUp(t, n, 5);
  await until('the refusal PUBACKed', () => pubacksFrom(clientId).includes(0x97));
  const codes = pubacksFrom(clientId);
  assert.deepEqual(
    codes.filter((c) => c !== 0),
    [0x97],
  );
  assert.equal(codes.filter((c) => c === 0).length, firstBridgeRow(n).imported as number);
});

test('mqtt 3.1.1: an import a full stream store refuses gets no PUBACK; the broker delivers it again after a reconnect', { timeout: 60_000 }, async (t) => {
  const clientId = 'mg-durable-full-4';
  const n = await streamNode(
    t,
    {
      type: 'mqtt',
      name: 'm4',
      url: mq.url,
      clientId,
      protocolVersion: 4,
      backoffMinMs: 50,
      backoffMaxMs: 200,
      import: [{ broker: 'd/#', mesh: 'd.>', always: true }],
      export: [],
    },
    700,
  );
  await bridgesSettled(n);
  await fillUp(t, n, 4);
  // The same message again, on the resumed session: it was never acknowledged, so never dropped.
  await until('refused message delivered again', () => fullCount(n) >= 2 && (firstBridgeRow(n).reconnects as number) >= 1);
  assert.equal(pubacksFrom(clientId).length, firstBridgeRow(n).imported as number, 'only stored imports are PUBACKed');
});

test('amqp: an import a full stream store refuses is nacked with requeue and delivered again', { timeout: 60_000 }, async (t) => {
  const queue = 'mg-durable-full';
  const n = await streamNode(
    t,
    { type: 'amqp', name: 'a', url: rmq.url, queue, backoffMinMs: 50, import: [{ broker: 'd.#', mesh: 'd.>', always: true }], export: [] },
    700,
  );
  await bridgesSettled(n);
  const ch = await amqpChannel(t, rmq.url);
  let i = 0;
  while (fullCount(n) === 0 && i < 50) {
    ch.publish('amq.topic', `d.${i}`, Buffer.alloc(200, 0x61), { messageId: `m${i}` });
    await ch.waitForConfirms();
    i++;
    await until('import settled', () => (firstBridgeRow(n).imported as number) + fullCount(n) >= i);
  }
  assert.ok(fullCount(n) > 0, 'the store never filled up');
  // Requeued, not dead-lettered: RabbitMQ brings it back and the store refuses it again.
  await until('refused message delivered again', () => fullCount(n) >= 2);
  assert.equal(firstBridgeRow(n).reconnects, 0);
});

for (const protocolVersion of [4, 5] as const) {
  test(`mqtt ${protocolVersion === 5 ? '5' : '3.1.1'}: the PUBACK of an import into a stream waits for the commit`, { timeout: 60_000 }, async (t) => {
    const clientId = `mg-durable-wait-${protocolVersion}`;
    const n = await streamNode(
      t,
      { type: 'mqtt', name: 'w', url: mq.url, clientId, protocolVersion, import: [{ broker: 'd/#', mesh: 'd.>', always: true }], export: [] },
      0,
    );
    await bridgesSettled(n);
    // Hold the commit's answer back: the node's own durable promise, released when the test says so.
    const node = n.running.node;
    const ingest = node.ingest.bind(node);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let committed: Promise<unknown> | null = null;
    node.ingest = (...args: Parameters<typeof ingest>): IngestResult => {
      const r = ingest(...args);
      if (!r.ok || r.durable === undefined) return r;
      committed = r.durable;
      return { ...r, durable: gate.then(() => r.durable!) };
    };
    const producer = await mqttClient(t, mq.url, protocolVersion);
    await producer.publishAsync('d/x', Buffer.from('held'), { qos: 1 });
    await until('imported into the stream', () => committed !== null);
    assert.equal(await committed, null);
    // A round trip through mosquitto after the commit: a PUBACK the bridge had sent would be logged by now.
    await producer.publishAsync('other/x', Buffer.from('ping'), { qos: 1 });
    assert.deepEqual(pubacksFrom(clientId), [], 'PUBACK sent before the commit was answered');
    release();
    await until('PUBACK after the commit', () => pubacksFrom(clientId).length === 1);
    assert.deepEqual(pubacksFrom(clientId), [0]);
  });
}

interface Entries {
  entries: Array<{ offset: number; id: string }>;
}

test('kill -9 of a meshgate node during an MQTT import loop: after restart every event the broker took is in the stream', { timeout: 120_000 }, async (t) => {
  // 3.1.1: the bridge resumes its session on every start, so what it had not PUBACKed is delivered again after the restart.
  const bridge = {
    type: 'mqtt',
    name: 'crash',
    url: mq.url,
    clientId: 'mg-durable-crash',
    protocolVersion: 4,
    import: [{ broker: 'd/#', mesh: 'd.>', always: true }],
  };
  const spec = {
    id: 'crash',
    port: await freePort(),
    config: { storage: { dir: testTmpDir(t, 'bridge-crash') }, streams: [{ name: 's', filters: ['d.>'] }], bridges: [bridge] },
  };
  const imported = async (node: NodeProcess) => {
    const rows = (await node.json<{ bridges: Array<{ state: string; subscriptions: string[]; imported: number }> }>('/v1/bridges')).bridges;
    return rows[0]?.state === 'up' && rows[0].subscriptions.length === 1 ? rows[0].imported : -1;
  };
  const node = new NodeProcess(t, spec);
  await node.start();
  await until('bridge up and subscribed', async () => (await imported(node)) >= 0, 20_000);

  // A producer of structured CloudEvents (ids kept) with 50 QoS 1 publishes in flight (bounded at 1,000); the node is killed once 200 are imported.
  const producer = await mqttClient(t, mq.url, 4);
  const taken: string[] = [];
  let sent = 0;
  let stop = false;
  const pump = (async () => {
    const window = new Set<Promise<void>>();
    while (!stop && sent < 1000) {
      const id = `e${sent++}`;
      const p: Promise<void> = producer
        .publishAsync(`d/${id}`, JSON.stringify({ specversion: '1.0', id, source: '/crash', type: 't' }), { qos: 1 })
        .then(() => {
          taken.push(id);
          window.delete(p);
        });
      window.add(p);
      if (window.size >= 50) await Promise.race(window);
    }
    await Promise.all(window);
  })();
  await until('200 imported', async () => (await imported(node)) >= 200, 60_000);
  await node.kill9();
  stop = true;
  await pump;

  const again = new NodeProcess(t, spec);
  await again.start();
  const stored = new Set<string>();
  const missing = async () => {
    for (let after = 0; after >= 0; ) {
      const page = await again.json<Entries>(`/v1/streams/s/entries?after=${after}&limit=1000`);
      for (const e of page.entries) stored.add(e.id);
      after = page.entries.length === 0 ? -1 : page.entries.at(-1)!.offset;
    }
    return taken.filter((id) => !stored.has(id));
  };
  await until('every event mosquitto took is stored', async () => (await missing()).length === 0, 60_000).catch(async () => {
    const lost = await missing();
    assert.fail(`${lost.length} of ${taken.length} events mosquitto took are not in the stream, e.g. ${lost.slice(0, 5).join(', ')}`);
  });
  await again.stop();
});
