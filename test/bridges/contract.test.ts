/**
 * One contract suite run against each bridge (STYLE: a seam with several
 * implementations gets one suite), through real brokers started once for
 * the file: interest-driven subscribe/unsubscribe observed on the broker,
 * `always` imports, plain payloads, loop guard, HA duplicates, topic
 * translation edge cases, refusals, provenance, schema validation of
 * imports, /v1/bridges and /metrics.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { after, before, describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { connect as natsConnect, headers as natsHeaders } from 'nats';
import {
  findBinary,
  type MosquittoHandle,
  type NatsServerHandle,
  natsMonitor,
  type RabbitMQHandle,
  startMosquitto,
  startNatsServer,
  startRabbitMQ,
} from '../helpers/brokers.js';
import { INVALID, INVALID_REASONS, ORDER, VALID } from '../helpers/order-schema.js';
import {
  amqpChannel,
  amqpConsumer,
  type BridgedNode,
  bridgesSettled,
  clientEvent,
  type Inbox,
  meshSubscriber,
  mqttBinaryProps,
  mqttClient,
  mqttConsumer,
  natsBinaryHeaders,
  natsClient,
  natsConsumer,
  type Observed,
  publishBinaryCe,
  startBridgedNode,
  until,
  wsConsumer,
  wsProducer,
} from './bridge-harness.js';

const run = promisify(execFile);

let mq: MosquittoHandle;
let rmq: RabbitMQHandle;
let nats: NatsServerHandle;
before(async () => {
  // $SYS every second: the honest broker-side view of subscriptions mosquitto offers.
  [mq, nats, rmq] = await Promise.all([startMosquitto({ config: ['sys_interval 1'] }), startNatsServer(), startRabbitMQ()]);
});
after(async () => {
  await Promise.all([mq, nats, rmq].filter(Boolean).map((b) => b.stop()));
});

/** What the suite needs to know about one protocol. */
interface Kit {
  readonly type: 'mqtt' | 'amqp' | 'nats';
  url(): string;
  /** `a.b.c` in the broker's own spelling. */
  topic(mesh: string): string;
  /** Broker filter for a mesh-ish pattern given as [tokens..., '>'] */
  everythingUnder(prefix: string): string;
  /** Publishes a binary-mode CloudEvent from a plain client of the protocol. */
  publishCe(t: TestContext, brokerTopic: string, attrs: Record<string, string>, data: Buffer): Promise<void>;
  /** Publishes a non-CloudEvent payload the way a device or script would; returns the stable key used for the id, if any. */
  publishPlain(t: TestContext, brokerTopic: string, payload: Buffer): Promise<string | undefined>;
  consume(t: TestContext, brokerFilter: string): Promise<Inbox<Observed>>;
  /** Upstream subscriptions of bridge `name`, as the broker reports them. */
  brokerView(name: string, b: BridgedNode): Promise<string[]>;
}

async function mosquittoSubscriptionCount(t: TestContext): Promise<() => number> {
  const c = await mqttClient(t, mq.url, 5);
  let count = -1;
  c.on('message', (_topic, payload) => (count = Number(payload.toString())));
  await c.subscribeAsync('$SYS/broker/subscriptions/count');
  // The first (retained) value may predate our own $SYS subscription; the next interval counts it.
  await until('$SYS subscriptions count includes ours', () => count >= 1, 5_000);
  return () => count;
}

const KITS: Kit[] = [
  {
    type: 'mqtt',
    url: () => mq.url,
    topic: (m) => m.split('.').join('/'),
    everythingUnder: (p) => `${p.split('.').join('/')}/#`,
    publishCe: (t, topic, attrs, data) => publishBinaryCe.mqtt(t, mq.url, topic, attrs, data),
    async publishPlain(_t, topic, payload) {
      // mosquitto_pub, the device-script way (MQTT 3.1.1 by default, QoS 1).
      await run(findBinary('mosquitto_pub', 'mosquitto-clients'), [
        '-h',
        '127.0.0.1',
        '-p',
        String(mq.port),
        '-q',
        '1',
        '-t',
        topic,
        '-m',
        payload.toString('utf8'),
      ]);
      return undefined;
    },
    consume: (t, f) => mqttConsumer(t, mq.url, 5, f),
    async brokerView(_name, b) {
      // mosquitto names no subscriptions, only a total ($SYS/broker/subscriptions/count, checked alongside in the
      // interest test); the filters come from the bridge, the count from the broker.
      return b.bridges.bridges.find((x) => x.spec.type === 'mqtt')!.subscriptions();
    },
  },
  {
    type: 'amqp',
    url: () => rmq.url,
    topic: (m) => m,
    everythingUnder: (p) => `${p}.#`,
    publishCe: (t, topic, attrs, data) => publishBinaryCe.amqp(t, rmq.url, topic, attrs, data),
    async publishPlain(t, topic, payload) {
      // amqp-publish style: a body, a routing key and a message-id, no CloudEvents headers.
      const ch = await amqpChannel(t, rmq.url);
      ch.publish('amq.topic', topic, payload, { messageId: 'm-1', persistent: true });
      await ch.waitForConfirms();
      return 'message-id:m-1';
    },
    consume: (t, f) => amqpConsumer(t, rmq.url, f),
    async brokerView(name, b) {
      const queue = b.bridges.bridges.find((x) => x.spec.name === name)!.spec.queue;
      const ctl = findBinary('rabbitmqctl', 'rabbitmq-server', ['/usr/lib/rabbitmq/bin/rabbitmqctl']);
      const { stdout } = await run(ctl, ['-n', rmq.nodeName, '-q', 'list_bindings', 'source_name', 'destination_name', 'routing_key'], { env: rmq.ctlEnv });
      return stdout
        .split('\n')
        .map((l) => l.split('\t'))
        .filter(([src, dst]) => src === 'amq.topic' && dst === queue)
        .map(([, , key]) => key)
        .sort();
    },
  },
  {
    type: 'nats',
    url: () => nats.url,
    topic: (m) => m,
    everythingUnder: (p) => `${p}.>`,
    publishCe: (t, topic, attrs, data) => publishBinaryCe.nats(t, nats.url, topic, attrs, data),
    async publishPlain(t, topic, payload) {
      const nc = await natsClient(t, nats.url);
      const h = natsHeaders();
      h.set('Nats-Msg-Id', 'n-1');
      nc.publish(topic, payload, { headers: h });
      await nc.flush();
      return 'n-1';
    },
    consume: (t, f) => natsConsumer(t, nats.url, f),
    async brokerView(name) {
      const connz = await natsMonitor<{ connections: Array<{ name?: string; subscriptions_list?: string[] }> }>(nats, 'connz?subs=1');
      const conn = connz.connections.find((c) => c.name === `meshgate ${name}`);
      return [...(conn?.subscriptions_list ?? [])].sort();
    },
  },
];

function ce(id: string, extra: Record<string, string> = {}): Record<string, string> {
  return { specversion: '1.0', id, source: '/contract', type: 'com.example.contract', datacontenttype: 'application/json', ...extra };
}

let nameSeq = 0;
/** A fresh bridge name per test: brokers are shared across the file. */
function uniqueName(type: string): string {
  return `${type}-c${++nameSeq}`;
}

for (const kit of KITS) {
  describe(`${kit.type} bridge contract`, () => {
    test(`${kit.type}: subscribes upstream only to what someone wants, and unsubscribes when interest goes (seen on the broker)`, {
      timeout: 60_000,
    }, async (t) => {
      const name = uniqueName(kit.type);
      const sysCount = kit.type === 'mqtt' ? await mosquittoSubscriptionCount(t) : null;
      const base = sysCount?.() ?? 0;
      const n = await startBridgedNode(t, [
        { type: kit.type, name, url: kit.url(), import: [{ broker: kit.everythingUnder(`ia${nameSeq}`), mesh: `ia${nameSeq}.>` }], export: [] },
      ]);
      const prefix = `ia${nameSeq}`;
      await bridgesSettled(n);
      assert.deepEqual(await kit.brokerView(name, n), [], 'nothing wanted: no upstream subscription');

      const ws = await wsConsumer(t, n.running, `${prefix}.orders.*`);
      await bridgesSettled(n);
      const want = [kit.type === 'mqtt' ? `${prefix}/orders/+` : `${prefix}.orders.*`];
      await until('broker shows the subscription', async () => JSON.stringify(await kit.brokerView(name, n)) === JSON.stringify(want), 15_000);
      if (sysCount !== null)
        await until(`mosquitto $SYS count rose by one from ${base}`, () => sysCount() === base + 1, 5_000).catch((err) =>
          assert.fail(`${(err as Error).message}; now ${sysCount()}`),
        );

      await kit.publishCe(t, kit.topic(`${prefix}.orders.created`), ce('ia-1'), Buffer.from('{"n":1}'));
      await ws.waitFor(1);
      assert.equal(ws.items[0].attrs.id, 'ia-1');

      // A wider subscriber: the cover becomes the wider filter alone.
      const wide = meshSubscriber(n.running, `${prefix}.>`);
      await bridgesSettled(n);
      const wideWant = [kit.type === 'mqtt' ? `${prefix}/+/#` : kit.type === 'amqp' ? `${prefix}.*.#` : `${prefix}.>`];
      await until('cover widened', async () => JSON.stringify(await kit.brokerView(name, n)) === JSON.stringify(wideWant), 15_000);

      n.running.node.unsubscribe(`${prefix}.>`, wide);
      await bridgesSettled(n);
      await until('back to the narrow filter', async () => JSON.stringify(await kit.brokerView(name, n)) === JSON.stringify(want), 15_000);
      if (sysCount !== null) await until('mosquitto $SYS count still one above', () => sysCount() === base + 1, 5_000);

      // The last subscriber leaves: the bridge unsubscribes upstream.
      await ws.close();
      await until('node saw the WebSocket go', () => n.running.node.wantedFilters().length === 0);
      await bridgesSettled(n);
      await until('broker shows no subscription', async () => (await kit.brokerView(name, n)).length === 0, 15_000);
      if (sysCount !== null) await until(`mosquitto $SYS count back to ${base}`, () => sysCount() === base, 5_000);
      t.diagnostic(`${kit.type}: broker-side subscriptions followed interest: none -> ${want} -> ${wideWant} -> ${want} -> none`);
    });

    test(`${kit.type}: an always import stays subscribed with nobody interested`, { timeout: 60_000 }, async (t) => {
      const name = uniqueName(kit.type);
      const prefix = `al${nameSeq}`;
      const n = await startBridgedNode(t, [
        { type: kit.type, name, url: kit.url(), import: [{ broker: kit.everythingUnder(prefix), mesh: `${prefix}.>`, always: true }], export: [] },
      ]);
      await bridgesSettled(n);
      // Configured as prefix/# (MQTT) or prefix.# (AMQP), held as the mesh side's "one or more" form.
      const want = [kit.type === 'mqtt' ? `${prefix}/+/#` : kit.type === 'amqp' ? `${prefix}.*.#` : `${prefix}.>`];
      await until('always-on subscription on the broker', async () => JSON.stringify(await kit.brokerView(name, n)) === JSON.stringify(want), 15_000);
    });

    test(`${kit.type}: a plain (non-CloudEvent) payload becomes a CloudEvent with the documented stable id and source`, { timeout: 60_000 }, async (t) => {
      const name = uniqueName(kit.type);
      const prefix = `pl${nameSeq}`;
      const n = await startBridgedNode(t, [
        { type: kit.type, name, url: kit.url(), import: [{ broker: kit.everythingUnder(prefix), mesh: `dev.>` }], export: [] },
      ]);
      const ws = await wsConsumer(t, n.running, 'dev.>');
      await bridgesSettled(n);
      const brokerTopic = kit.topic(`${prefix}.sensor42.temp`);
      const payload = Buffer.from('21.5');
      const key = await kit.publishPlain(t, brokerTopic, payload);
      await ws.waitFor(1);
      const got = ws.items[0];
      const port = new URL(kit.url()).port;
      const source = `${kit.type}://127.0.0.1:${port}/${brokerTopic.split(kit.type === 'mqtt' ? '/' : '.').join('/')}`;
      const id = createHash('sha256')
        .update(`${source}\n${key ?? ''}\n`)
        .update(payload)
        .digest('hex');
      assert.equal(got.attrs.source, source);
      assert.equal(got.attrs.id, id);
      assert.equal(got.attrs.type, `meshgate.${kit.type}.message`);
      assert.equal(got.attrs.datacontenttype, 'application/json');
      assert.ok(got.data.equals(payload));
    });

    test(`${kit.type}: provenance a producer sets is replaced at ingress`, { timeout: 60_000 }, async (t) => {
      const name = uniqueName(kit.type);
      const prefix = `pv${nameSeq}`;
      const n = await startBridgedNode(
        t,
        [{ type: kit.type, name, url: kit.url(), import: [{ broker: kit.everythingUnder(prefix), mesh: `${prefix}.>` }], export: [] }],
        {},
        `pv-node-${kit.type}`,
      );
      const inbox = meshSubscriber(n.running, `${prefix}.>`);
      await bridgesSettled(n);
      const forged = { mgorigin: 'evil-node', mgprotocol: 'ws', mgtopic: 'made.up', mghops: 'evil-node@nowhere@1,other@x@2' };
      await kit.publishCe(t, kit.topic(`${prefix}.forged`), ce('pv-1', forged), Buffer.from('{}'));
      await inbox.waitFor(1);
      const event = inbox.items[0];
      assert.equal(event.origin?.node, `pv-node-${kit.type}`);
      assert.equal(event.origin?.protocol, kit.type);
      assert.ok(event.origin?.topic.endsWith(`/${kit.topic(`${prefix}.forged`)}`), `origin topic ${event.origin?.topic} is the broker topic the producer used`);
      assert.deepEqual(
        event.hops.map((h) => h.node),
        [`pv-node-${kit.type}`],
        'one hop: this node; the forged path is gone',
      );
      for (const k of Object.keys(forged)) assert.equal(event.attrs[k], undefined, `${k} is not kept as an extension`);
    });

    test(`${kit.type}: imports are validated at ingress; invalid ones (CloudEvent and plain payload) are refused, dead-lettered with their reasons and counted`, {
      timeout: 60_000,
    }, async (t) => {
      // A bridge cannot carry an error back to the producer (it is the
      // broker's subscriber), so the dead letter and the counters are the channel.
      const name = uniqueName(kit.type);
      const prefix = `va${nameSeq}`;
      const n = await startBridgedNode(t, [
        { type: kit.type, name, url: kit.url(), import: [{ broker: kit.everythingUnder(prefix), mesh: `${prefix}.>` }], export: [] },
      ]);
      n.running.schemas.register('orders', ORDER, { topics: [`${prefix}.>`] });
      const orders = meshSubscriber(n.running, `${prefix}.>`);
      const letters = meshSubscriber(n.running, '_mg.deadletter.>');
      await bridgesSettled(n);

      const topic = kit.topic(`${prefix}.orders.eu`);
      // Invalid first: each producer's messages arrive in order, so once the
      // valid one is delivered, both invalid ones have been handled.
      await kit.publishCe(t, topic, ce('bad-ce'), Buffer.from(JSON.stringify(INVALID)));
      await kit.publishPlain(t, topic, Buffer.from(JSON.stringify(INVALID)));
      await kit.publishCe(t, topic, ce('good-ce'), Buffer.from(JSON.stringify(VALID)));
      await orders.waitFor(1);
      await letters.waitFor(2);

      assert.deepEqual(
        orders.items.map((e) => e.id),
        ['good-ce'],
      );
      assert.equal(letters.items.length, 2);
      const bodies = letters.items.map((l) => JSON.parse(Buffer.from(l.data!).toString('utf8')) as { reasons: unknown; event: Record<string, unknown> });
      for (const [i, letter] of letters.items.entries()) {
        assert.equal(letter.topic, `_mg.deadletter.${prefix}.orders.eu`);
        assert.equal(letter.type, 'meshgate.deadletter');
        assert.equal(letter.source, `meshgate://${n.running.node.nodeId}`);
        assert.equal(letter.attrs.datacontenttype, 'application/json');
        assert.deepEqual(bodies[i].reasons, INVALID_REASONS);
        assert.deepEqual(bodies[i].event.data, INVALID);
      }
      const [ceLetter, plainLetter] = bodies;
      assert.deepEqual([ceLetter.event.id, ceLetter.event.source, ceLetter.event.type], ['bad-ce', '/contract', 'com.example.contract']);
      assert.equal(plainLetter.event.type, `meshgate.${kit.type}.message`);
      assert.match(String(plainLetter.event.id), /^[0-9a-f]{64}$/);

      const metrics = await (await fetch(`${n.running.httpUrl}/metrics`)).text();
      assert.match(metrics, new RegExp(`^meshgate_events_invalid_total\\{protocol="${kit.type}"\\} 2$`, 'm'));
      assert.match(metrics, /^meshgate_events_rejected_total\{code="MG_ERR_EVENT_SCHEMA"\} 2$/m);
      const status = n.bridges.bridges.find((b) => b.spec.name === name)!.status();
      assert.equal((status.refused as Record<string, number>).MG_ERR_EVENT_SCHEMA, 2);
      assert.equal(status.imported, 1);
    });

    test(`${kit.type}: one node bridging both ways neither echoes broker events back nor exports a mesh event twice`, { timeout: 60_000 }, async (t) => {
      const name = uniqueName(kit.type);
      const prefix = `lp${nameSeq}`;
      const n = await startBridgedNode(t, [{ type: kit.type, name, url: kit.url() }]); // the shorthand: everything, both ways
      const ws = await wsConsumer(t, n.running, `${prefix}.>`);
      const upstream = await kit.consume(t, kit.everythingUnder(prefix));
      await bridgesSettled(n);
      // broker -> mesh: delivered once in the mesh; the broker consumer sees only the original.
      await kit.publishCe(t, kit.topic(`${prefix}.a`), ce('lp-from-broker'), Buffer.from('1'));
      // mesh -> broker: exported once; the bridge's own import of it is dropped (noLocal / noEcho / dedup).
      const send = await wsProducer(t, n.running, `${prefix}.b`);
      send(JSON.stringify({ ...ce('lp-from-mesh'), data: 2 }));
      await ws.waitFor(2);
      await upstream.waitFor(2);
      // A round trip through the broker after both: any echo would be here by now.
      await kit.publishCe(t, kit.topic(`${prefix}.c`), ce('lp-marker'), Buffer.from('3'));
      await ws.waitFor(3);
      await upstream.waitFor(3);
      assert.deepEqual(ws.items.map((o) => o.attrs.id).sort(), ['lp-from-broker', 'lp-from-mesh', 'lp-marker']);
      assert.deepEqual(upstream.items.map((o) => o.attrs.id).sort(), ['lp-from-broker', 'lp-from-mesh', 'lp-marker']);
      const s = n.bridges.bridges[0].status();
      assert.ok((s.loopSkipped as number) >= 2, `loop guard skipped ${s.loopSkipped}`);
    });

    test(`${kit.type}: two nodes bridging the same broker (HA) deliver each event once to each subscriber`, { timeout: 60_000 }, async (t) => {
      const prefix = `ha${++nameSeq}`;
      const key = 'test-mesh-key-0123';
      const a = await startBridgedNode(
        t,
        [{ type: kit.type, name: `${kit.type}-ha-a`, url: kit.url(), ...(kit.type === 'amqp' ? { queue: `${prefix}-a` } : {}) }],
        { mesh: { key } },
        `ha-a-${prefix}`,
      );
      const b = await startBridgedNode(
        t,
        [{ type: kit.type, name: `${kit.type}-ha-b`, url: kit.url(), ...(kit.type === 'amqp' ? { queue: `${prefix}-b` } : {}) }],
        { mesh: { key, peers: [`ws://127.0.0.1:${a.running.port}`], backoffMinMs: 20 } },
        `ha-b-${prefix}`,
      );
      const wsA = await wsConsumer(t, a.running, `${prefix}.>`);
      const wsB = await wsConsumer(t, b.running, `${prefix}.>`);
      await until('peers linked', () => a.running.mesh.peers().some((p) => p.state === 'up') && b.running.mesh.peers().some((p) => p.state === 'up'));
      await until('interest propagated', () => a.running.node.wantedFilters().length > 1 && b.running.node.wantedFilters().length > 1);
      await bridgesSettled(a);
      await bridgesSettled(b);
      const N = 20;
      for (let i = 0; i < N; i++) await kit.publishCe(t, kit.topic(`${prefix}.x${i % 3}`), ce(`ha-${i}`), Buffer.from(String(i)));
      await wsA.waitFor(N);
      await wsB.waitFor(N);
      // Both nodes import every event; a marker round trip later nothing more has arrived.
      await kit.publishCe(t, kit.topic(`${prefix}.marker`), ce('ha-marker'), Buffer.from('0'));
      await wsA.waitFor(N + 1);
      await wsB.waitFor(N + 1);
      for (const [label, inbox] of [
        ['A', wsA],
        ['B', wsB],
      ] as const) {
        const ids = inbox.items.map((o) => o.attrs.id);
        assert.equal(ids.length, new Set(ids).size, `subscriber on node ${label} got duplicates: ${ids.length} for ${new Set(ids).size}`);
        assert.equal(ids.length, N + 1);
      }
      const dupA = a.bridges.bridges[0].status().duplicates as number;
      const dupB = b.bridges.bridges[0].status().duplicates as number;
      t.diagnostic(`${kit.type} HA: each subscriber got ${N + 1} events once; duplicate imports dropped by dedup: node A ${dupA}, node B ${dupB}`);
    });

    test(`${kit.type}: maxExportBytes refuses, before sending, an export whose payload is over it (MG_ERR_EVENT_TOO_LARGE); one of exactly that size goes out`, {
      timeout: 60_000,
    }, async (t) => {
      // Binary mode: the payload (MQTT) or body (AMQP) or payload without headers (NATS) is the data, byte for byte.
      const max = 64;
      const name = uniqueName(kit.type);
      const prefix = `mx${nameSeq}`;
      const n = await startBridgedNode(t, [
        { type: kit.type, name, url: kit.url(), import: [], export: [{ mesh: `${prefix}.>`, broker: kit.topic(prefix) }], maxExportBytes: max },
      ]);
      const upstream = await kit.consume(t, kit.everythingUnder(prefix));
      await bridgesSettled(n);
      const ingest = (id: string, bytes: number) =>
        assert.ok(
          n.running.node.ingest({ id, source: '/contract', type: 't', topic: `${prefix}.x`, data: Buffer.alloc(bytes, 0x61), attrs: {}, hops: [] }, 'ws').ok,
        );
      // The larger first: had it been sent, the consumer would get it before the other one.
      ingest('mx-over', max + 1);
      ingest('mx-fits', max);
      await upstream.waitFor(1);
      const status = () => n.bridges.bridges[0].status();
      await until('mx-fits exported', () => status().exported === 1);
      assert.deepEqual(
        upstream.items.map((o) => [o.attrs.id, o.data.byteLength]),
        [['mx-fits', max]],
      );
      const s = status();
      assert.deepEqual(s.refused, { MG_ERR_EVENT_TOO_LARGE: 1 });
      assert.equal(
        s.lastRefusal,
        `MG_ERR_EVENT_TOO_LARGE: export of ${prefix}.x to ${kit.topic(`${prefix}.x`)}: the encoded payload is ${max + 1} bytes, over the bridge's maxExportBytes (${max} bytes)`,
      );
      assert.equal(s.retries, 0, 'refused, not held for a resend');
      assert.equal(s.lost, 0, 'refused, not counted lost (NATS)');
    });

    test(`${kit.type}: /v1/bridges and /metrics show state and counters`, { timeout: 60_000 }, async (t) => {
      const name = uniqueName(kit.type);
      const n = await startBridgedNode(t, [
        { type: kit.type, name, url: kit.url(), import: [], export: [{ mesh: 'st.>', broker: kit.type === 'mqtt' ? 'st' : 'st' }] },
      ]);
      await bridgesSettled(n);
      const send = await wsProducer(t, n.running, 'st.one');
      send(JSON.stringify({ ...ce('st-1'), data: 1 }));
      await until('exported', () => (n.bridges.bridges[0].status().exported as number) === 1);
      const body = (await (await fetch(`${n.running.httpUrl}/v1/bridges`)).json()) as { bridges: Array<Record<string, unknown>> };
      const row = body.bridges[0];
      assert.equal(row.name, name);
      assert.equal(row.type, kit.type);
      assert.equal(row.state, 'up');
      assert.equal(row.exported, 1);
      assert.ok(!String(row.url).includes('guest:'), 'credentials are not shown');
      const metrics = await (await fetch(`${n.running.httpUrl}/metrics`)).text();
      assert.match(metrics, new RegExp(`meshgate_bridge_exported_total\\{bridge="${name}"\\} 1`));
      assert.match(metrics, new RegExp(`meshgate_bridge_up\\{bridge="${name}"\\} 1`));
    });
  });
}

describe('topic translation through real brokers', () => {
  test('MQTT levels with dots, spaces and percent signs reach the mesh escaped and go back spelled as they came', { timeout: 60_000 }, async (t) => {
    const n = await startBridgedNode(t, [
      { type: 'mqtt', name: 'mqtt-tr', url: mq.url, import: [{ broker: 'fw/#', mesh: 'fw.>' }], export: [{ mesh: 'out.>', broker: 'back' }] },
    ]);
    const sub = meshSubscriber(n.running, 'fw.>');
    const back = await mqttConsumer(t, mq.url, 5, 'back/#');
    await bridgesSettled(n);
    const m = await mqttClient(t, mq.url, 5);
    const topics = ['fw/v1.2/x', 'fw/a b/%zz', 'fw//empty', 'fw/*/>'];
    for (const [i, topic] of topics.entries()) await m.publishAsync(topic, '1', { qos: 1, properties: mqttBinaryProps(ce(`tr-${i}`)) });
    await sub.waitFor(topics.length);
    assert.deepEqual(
      sub.items.map((e) => e.topic),
      ['fw.v1%2E2.x', 'fw.a%20b.%zz', 'fw.%00.empty', 'fw.%2A.%3E'],
    );
    // mesh -> MQTT: '/' inside a token becomes %2F, so the level count survives.
    for (const topic of ['out.files.v1/2', 'out.a%2Eb']) n.running.node.ingest(clientEvent(topic, '/tr', 't', topic, '1'), 'ws');
    await back.waitFor(2);
    const c = await mqttClient(t, mq.url, 5);
    const seen: string[] = [];
    c.on('message', (topic) => seen.push(topic));
    await c.subscribeAsync('back/#');
    n.running.node.ingest(clientEvent('tr-z', '/tr', 't', 'out.files.v1/2', '1'), 'ws');
    await until('MQTT consumer saw the export', () => seen.length === 1);
    assert.deepEqual(seen, ['back/files/v1%2F2']);
  });

  test('an MQTT topic with no mesh form is refused (bridge PUBACK reason 0x90) and counted', { timeout: 60_000 }, async (t) => {
    const n = await startBridgedNode(t, [
      { type: 'mqtt', name: 'mqtt-bad', url: mq.url, import: [{ broker: 'bad/#', mesh: 'bad.>', always: true }], export: [] },
    ]);
    await bridgesSettled(n);
    const m = await mqttClient(t, mq.url, 5);
    // '%25' not followed by an escape is not canonical ('%' is spelled '%' there), so it has no reversible mesh form.
    // The publisher's PUBACK comes from the broker; the bridge's own PUBACK to the broker carries 0x90 (Topic Name invalid).
    await m.publishAsync('bad/%25', '1', { qos: 1, properties: mqttBinaryProps(ce('bad-1')) });
    await until('refusal counted', () => ((n.bridges.bridges[0].status().refused as Record<string, number>).MG_ERR_TOPIC_INVALID ?? 0) === 1);
  });

  test('AMQP routing keys with a bare * word are nacked and counted; escaped words round-trip', { timeout: 60_000 }, async (t) => {
    const n = await startBridgedNode(t, [
      {
        type: 'amqp',
        name: 'amqp-tr',
        url: rmq.url,
        queue: 'amqp-tr',
        import: [{ broker: 'kt.#', mesh: 'kt.>', always: true }],
        export: [{ mesh: 'ko.>', broker: 'kb' }],
      },
    ]);
    const sub = meshSubscriber(n.running, 'kt.>');
    const back = await amqpConsumer(t, rmq.url, 'kb.#');
    await bridgesSettled(n);
    const ch = await amqpChannel(t, rmq.url);
    const headers = (id: string) => Object.fromEntries(Object.entries(ce(id)).map(([k, v]) => [`cloudEvents_${k}`, v]));
    ch.publish('amq.topic', 'kt.*.x', Buffer.from('1'), { headers: headers('kt-bad') });
    ch.publish('amq.topic', 'kt.v1%2E2.a b', Buffer.from('1'), { headers: headers('kt-ok') });
    await ch.waitForConfirms();
    await sub.waitFor(1);
    assert.equal(sub.items[0].topic, 'kt.v1%2E2.a%20b');
    await until('refusal counted', () => ((n.bridges.bridges[0].status().refused as Record<string, number>).MG_ERR_TOPIC_INVALID ?? 0) === 1);
    n.running.node.ingest(clientEvent('ko-1', '/tr', 't', 'ko.%2A.a%20b', '1'), 'ws');
    await back.waitFor(1);
    assert.equal(back.items[0].attrs.id, 'ko-1');
  });

  test('NATS headers with characters that need percent-encoding, and a malformed one, through nats-server', { timeout: 60_000 }, async (t) => {
    const n = await startBridgedNode(t, [
      { type: 'nats', name: 'nats-pe', url: nats.url, import: [{ broker: 'pe.>', mesh: 'pe.>', always: true }], export: [] },
    ]);
    const sub = meshSubscriber(n.running, 'pe.>');
    await bridgesSettled(n);
    const nc = await natsConnect({ servers: nats.url });
    t.after(() => nc.close());
    const h = natsHeaders();
    for (const [k, v] of Object.entries(ce('pe-1'))) h.set(`CE-${k.toUpperCase()}`, v); // names are case-insensitive
    h.set('ce-subject', 'Euro%20%E2%82%AC%20%F0%9F%98%80');
    h.set('ce-quoted', '"a \\"b\\" %25"'); // an RFC 7230 quoted-string, then one percent-decoding
    nc.publish('pe.one', Buffer.from('1'), { headers: h });
    const bad = natsHeaders();
    for (const [k, v] of Object.entries(ce('pe-2'))) bad.set(`ce-${k}`, v);
    bad.set('ce-subject', '%C0%A0'); // an overlong encoding of U+0020: must be refused
    nc.publish('pe.two', Buffer.from('1'), { headers: bad });
    await nc.flush();
    await sub.waitFor(1);
    assert.equal(sub.items[0].attrs.subject, 'Euro € 😀');
    assert.equal(sub.items[0].attrs.quoted, 'a "b" %');
    await until('refusal counted', () => ((n.bridges.bridges[0].status().refused as Record<string, number>).MG_ERR_EVENT_INVALID ?? 0) === 1);
  });
});

describe('meshgate start --bridge', () => {
  test('the shorthand bridges all three brokers both ways: a NATS event reaches MQTT and AMQP consumers', { timeout: 60_000 }, async (t) => {
    const { runCli } = await import('../helpers/node.js');
    const cli = runCli(t, [
      'start',
      '--port',
      '0',
      '--node-id',
      'cli-bridges',
      '--bridge',
      `mqtt=${mq.url}`,
      '--bridge',
      `amqp=${rmq.url}`,
      '--bridge',
      `nats=${nats.url}`,
    ]);
    await cli.waitForOutput(/health\s+(http:\/\/\S+)\/healthz/);
    const http = /health\s+(http:\/\/\S+)\/healthz/.exec(cli.stdout)![1];
    await until('every bridge up', async () => {
      const body = (await (await fetch(`${http}/v1/bridges`)).json()) as { bridges: Array<{ state: string; subscriptions: string[] }> };
      return body.bridges.length === 3 && body.bridges.every((b) => b.state === 'up' && b.subscriptions.length > 0);
    });
    const toMqtt = await mqttConsumer(t, mq.url, 5, 'cli/#');
    const toAmqp = await amqpConsumer(t, rmq.url, 'cli.#');
    const nc = await natsClient(t, nats.url);
    nc.publish('cli.hello', Buffer.from('"hi"'), { headers: natsBinaryHeaders(ce('cli-1')) });
    await nc.flush();
    await toMqtt.waitFor(1);
    await toAmqp.waitFor(1);
    assert.equal(toMqtt.items[0].attrs.id, 'cli-1');
    assert.equal(toAmqp.items[0].attrs.id, 'cli-1');
    cli.child.kill('SIGTERM');
    assert.equal(await cli.exited, 0);
  });

  test('a wrong bridge value stops start-up naming the key', { timeout: 30_000 }, async (t) => {
    const { runCli } = await import('../helpers/node.js');
    const cli = runCli(t, ['start', '--port', '0', '--bridge', 'nats=mqtt://127.0.0.1:1']);
    await cli.waitForOutput(/MG_ERR_CONFIG_INVALID[\s\S]*bridges\[0\]\.url: scheme mqtt:\/\/ does not fit type nats; fix: use nats:\/\/ or tls:\/\//);
    assert.doesNotMatch(cli.stdout, / ready\n/);
    // Nothing it opened may keep the process alive after the error.
    assert.equal(await cli.exited, 1);
  });
});
