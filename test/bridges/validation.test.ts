/**
 * Schema validation at ingress for bridge imports (issue 5, item 3): a
 * bridge cannot carry an error back to the producer (it is the broker's
 * subscriber), so the dead letter and the counters are the channel. One
 * suite per protocol against real mosquitto, RabbitMQ and nats-server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { headers as natsHeaders } from 'nats';
import type { MeshEvent } from '../../broker/mod.js';
import type { RunningNode } from '../../broker/server.js';
import { startMosquitto, startNatsServer, startRabbitMQ, type MosquittoHandle, type NatsServerHandle, type RabbitMQHandle } from '../helpers/brokers.js';
import { amqpChannel, bridgesSettled, meshSubscriber, mqttBinaryProps, mqttClient, natsBinaryHeaders, natsClient, startBridgedNode } from './bridge-harness.js';

let mq: MosquittoHandle;
let rmq: RabbitMQHandle;
let nats: NatsServerHandle;
before(async () => {
  [mq, nats, rmq] = await Promise.all([startMosquitto(), startNatsServer(), startRabbitMQ()]);
});
after(async () => {
  await Promise.all([mq, nats, rmq].filter(Boolean).map((b) => b.stop()));
});

const ORDER = {
  type: 'object',
  required: ['op', 'after'],
  properties: {
    op: { enum: ['c', 'u', 'd'] },
    after: { type: 'object', required: ['id'], properties: { id: { type: 'integer' }, total: { type: 'integer', minimum: 0 } } },
  },
};
const VALID = { op: 'c', after: { id: 7, total: 120 } };
const INVALID = { op: 'c', after: { total: 'twelve' } };
const INVALID_REASONS = [
  { path: '/after/id', message: "must have required property 'id'" },
  { path: '/after/total', message: 'must be integer' },
];

/** How a plain client of each protocol publishes, written from the binding specs (see bridge-harness.ts). */
interface Kit {
  readonly type: 'mqtt' | 'amqp' | 'nats';
  url(): string;
  /** The mesh topic `a.b.c` in the broker's spelling. */
  topic(mesh: string): string;
  /** Broker filter for everything under a prefix. */
  under(prefix: string): string;
  /** A binary-mode CloudEvent. */
  publishCe(t: TestContext, topic: string, attrs: Record<string, string>, data: Buffer): Promise<void>;
  /** A payload that is not a CloudEvent (the bridge makes one). */
  publishPlain(t: TestContext, topic: string, payload: Buffer): Promise<void>;
}

const KITS: Kit[] = [
  {
    type: 'mqtt',
    url: () => mq.url,
    topic: (m) => m.split('.').join('/'),
    under: (p) => `${p}/#`,
    async publishCe(t, topic, attrs, data) {
      const c = await mqttClient(t, mq.url, 5);
      await c.publishAsync(topic, data, { qos: 1, properties: mqttBinaryProps(attrs) });
    },
    async publishPlain(t, topic, payload) {
      const c = await mqttClient(t, mq.url, 5);
      await c.publishAsync(topic, payload, { qos: 1 });
    },
  },
  {
    type: 'amqp',
    url: () => rmq.url,
    topic: (m) => m,
    under: (p) => `${p}.#`,
    async publishCe(t, topic, attrs, data) {
      const ch = await amqpChannel(t, rmq.url);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(attrs)) if (k !== 'datacontenttype') headers[`cloudEvents:${k}`] = v;
      ch.publish('amq.topic', topic, data, { headers, contentType: attrs.datacontenttype, persistent: true });
      await ch.waitForConfirms();
    },
    async publishPlain(t, topic, payload) {
      const ch = await amqpChannel(t, rmq.url);
      ch.publish('amq.topic', topic, payload, { messageId: 'plain-1', persistent: true });
      await ch.waitForConfirms();
    },
  },
  {
    type: 'nats',
    url: () => nats.url,
    topic: (m) => m,
    under: (p) => `${p}.>`,
    async publishCe(t, topic, attrs, data) {
      const nc = await natsClient(t, nats.url);
      nc.publish(topic, data, { headers: natsBinaryHeaders(attrs) });
      await nc.flush();
    },
    async publishPlain(t, topic, payload) {
      const nc = await natsClient(t, nats.url);
      const h = natsHeaders();
      h.set('Nats-Msg-Id', 'plain-1');
      nc.publish(topic, payload, { headers: h });
      await nc.flush();
    },
  },
];

function attrs(id: string): Record<string, string> {
  return { specversion: '1.0', id, source: '/shop', type: 'com.example.order', datacontenttype: 'application/json' };
}

async function metric(node: RunningNode, series: string): Promise<number> {
  const text = await (await fetch(`${node.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

function letterBody(letter: MeshEvent): { reasons: unknown; event: Record<string, unknown> } {
  return JSON.parse(Buffer.from(letter.data!).toString('utf8')) as { reasons: unknown; event: Record<string, unknown> };
}

for (const kit of KITS) {
  describe(`${kit.type} bridge import validation`, () => {
    test(`${kit.type}: a valid import is delivered; invalid ones (CloudEvent and plain payload) are refused, dead-lettered with their reasons and counted`, { timeout: 60_000 }, async (t) => {
      const prefix = `shop-${kit.type}`;
      const name = `${kit.type}-validation`;
      const n = await startBridgedNode(t, [{ type: kit.type, name, url: kit.url(), import: [{ broker: kit.under(kit.topic(prefix)), mesh: `${prefix}.>` }], export: [] }]);
      n.running.schemas.register('orders', ORDER, { topics: [`${prefix}.>`] });
      const orders = meshSubscriber(n.running, `${prefix}.>`);
      const letters = meshSubscriber(n.running, '_mg.deadletter.>');
      await bridgesSettled(n);

      const topic = kit.topic(`${prefix}.orders.eu`);
      // Invalid first: each producer's messages arrive in order, so once the
      // valid one is delivered, both invalid ones have been handled.
      await kit.publishCe(t, topic, attrs('bad-ce'), Buffer.from(JSON.stringify(INVALID)));
      await kit.publishPlain(t, topic, Buffer.from(JSON.stringify(INVALID)));
      await kit.publishCe(t, topic, attrs('good-ce'), Buffer.from(JSON.stringify(VALID)));
      await orders.waitFor(1);
      await letters.waitFor(2);

      assert.deepEqual(orders.items.map((e) => e.id), ['good-ce']);
      assert.equal(letters.items.length, 2);
      for (const letter of letters.items) {
        assert.equal(letter.topic, `_mg.deadletter.${prefix}.orders.eu`);
        assert.equal(letter.type, 'meshgate.deadletter');
        assert.equal(letter.source, `meshgate://${n.running.node.nodeId}`);
        assert.equal(letter.attrs.datacontenttype, 'application/json');
        assert.deepEqual(letterBody(letter).reasons, INVALID_REASONS);
        assert.deepEqual(letterBody(letter).event.data, INVALID);
      }
      const [ceLetter, plainLetter] = letters.items.map(letterBody);
      assert.deepEqual(
        [ceLetter.event.id, ceLetter.event.source, ceLetter.event.type, ceLetter.event.datacontenttype],
        ['bad-ce', '/shop', 'com.example.order', 'application/json'],
      );
      assert.equal(plainLetter.event.type, `meshgate.${kit.type}.message`);
      assert.match(String(plainLetter.event.id), /^[0-9a-f]{64}$/);

      assert.equal(await metric(n.running, `meshgate_events_invalid_total{protocol="${kit.type}"}`), 2);
      assert.equal(await metric(n.running, 'meshgate_events_rejected_total{code="MG_ERR_EVENT_SCHEMA"}'), 2);
      const row = n.bridges.bridges.find((b) => b.spec.name === name)!;
      assert.equal((row.status().refused as Record<string, number>).MG_ERR_EVENT_SCHEMA, 2);
      assert.equal(row.status().imported, 1);
    });
  });
}
