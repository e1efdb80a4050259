/**
 * Fidelity matrix (issue 4 §3): every ingress × every egress through real
 * brokers; the consumer must see the producer's id, source, type, time,
 * subject, datacontenttype, dataschema, extensions and trace context, and
 * byte-identical data. Printed as a table with t.diagnostic.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type BrokerHandle, startMosquitto, startNatsServer, startRabbitMQ } from '../helpers/brokers.js';
import {
  amqpChannel,
  amqpConsumer,
  bridgesSettled,
  type Inbox,
  mqttBinaryProps,
  mqttClient,
  mqttConsumer,
  natsBinaryHeaders,
  natsClient,
  natsConsumer,
  type Observed,
  startBridgedNode,
  wsConsumer,
  wsProducer,
} from './bridge-harness.js';

const PROTOCOLS = ['ws', 'mqtt5', 'mqtt311', 'amqp', 'nats'] as const;
type Proto = (typeof PROTOCOLS)[number];

const brokers: BrokerHandle[] = [];
let mq5: BrokerHandle;
let mq311: BrokerHandle;
let rmq: BrokerHandle;
let nats: BrokerHandle;

before(async () => {
  [mq5, mq311, nats, rmq] = await Promise.all([startMosquitto(), startMosquitto(), startNatsServer(), startRabbitMQ()]);
  brokers.push(mq5, mq311, nats, rmq);
});
after(async () => {
  await Promise.all(brokers.map((b) => b.stop()));
});

/** The attributes every cell's producer sets; `id` and `source` get the cell's name. */
function attributesFor(from: Proto, to: Proto, v: Variant = VARIANTS[0]): Record<string, string> {
  return {
    specversion: '1.0',
    id: `fid-${from}-${to}-${v.key}`,
    source: `/fidelity/${from}`,
    type: 'com.example.fidelity.checked',
    time: '2024-05-01T12:34:56.789Z',
    subject: 'row 42 / "quoted" 100% é€😀',
    datacontenttype: v.contentType,
    dataschema: 'https://example.com/schemas/row.json',
    tenant: 'acme corp',
    partitionkey: 'p-7',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    tracestate: 'vendor1=opaque,vendor2=x',
  };
}
/** Two payloads per cell: JSON whose spelling a re-encoder would change (whitespace, 1.50, escapes), and raw bytes. */
const VARIANTS = [
  {
    key: 'json',
    contentType: 'application/json; charset=utf-8',
    data: Buffer.from('{ "order" : 42, "total":1.50, "note":"caf\\u00e9 \\"x\\"", "tags":[ ] }', 'utf8'),
  },
  { key: 'bytes', contentType: 'application/octet-stream', data: Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 37) % 256)) },
] as const;
type Variant = (typeof VARIANTS)[number];

function structured(attrs: Record<string, string>, v: Variant): string {
  // Producer-side structured JSON: JSON data spliced verbatim, bytes as data_base64 (JSON format §3.1).
  const head = JSON.stringify(attrs).slice(0, -1);
  return v.key === 'json' ? `${head},"data":${v.data.toString('utf8')}}` : `${head},"data_base64":"${v.data.toString('base64')}"}`;
}

test('fidelity matrix: every ingress x egress keeps every attribute, trace context and the data bytes', { timeout: 120_000 }, async (t) => {
  const n = await startBridgedNode(t, [
    { type: 'mqtt', name: 'mqtt5', url: mq5.url, protocolVersion: 5, mode: 'binary' },
    { type: 'mqtt', name: 'mqtt311', url: mq311.url, protocolVersion: 4 },
    { type: 'amqp', name: 'amqp', url: rmq.url },
    { type: 'nats', name: 'nats', url: nats.url },
  ]);
  const node = n.running;

  // Consumers, one per egress, each listening to fid.*.<egress> in its own protocol.
  const inboxes: Record<Proto, Inbox<Observed>> = {
    ws: await wsConsumer(t, node, 'fid.*.ws'),
    mqtt5: await mqttConsumer(t, mq5.url, 5, 'fid/+/mqtt5'),
    mqtt311: await mqttConsumer(t, mq311.url, 4, 'fid/+/mqtt311'),
    amqp: await amqpConsumer(t, rmq.url, 'fid.*.amqp'),
    nats: await natsConsumer(t, nats.url, 'fid.*.nats'),
  };
  await bridgesSettled(n);

  // Producers, one per ingress.
  const m5 = await mqttClient(t, mq5.url, 5);
  const m3 = await mqttClient(t, mq311.url, 4);
  const ach = await amqpChannel(t, rmq.url);
  const nc = await natsClient(t, nats.url);
  const wsSenders = new Map<string, (json: string) => void>();
  for (const to of PROTOCOLS) wsSenders.set(to, await wsProducer(t, node, `fid.ws.${to}`));

  for (const v of VARIANTS)
    for (const from of PROTOCOLS) {
      for (const to of PROTOCOLS) {
        const attrs = attributesFor(from, to, v);
        const DATA = v.data;
        switch (from) {
          case 'ws':
            wsSenders.get(to)!(structured(attrs, v));
            break;
          case 'mqtt5':
            await m5.publishAsync(`fid/mqtt5/${to}`, DATA, { qos: 1, properties: mqttBinaryProps(attrs) });
            break;
          case 'mqtt311':
            await m3.publishAsync(`fid/mqtt311/${to}`, structured(attrs, v), { qos: 1 });
            break;
          case 'amqp': {
            // An "amqp-publish style" producer using the ce- header prefix the bridge accepts.
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(attrs)) if (k !== 'datacontenttype') headers[`ce-${k}`] = v;
            ach.publish('amq.topic', `fid.amqp.${to}`, DATA, { headers, contentType: attrs.datacontenttype, persistent: true });
            await ach.waitForConfirms();
            break;
          }
          case 'nats':
            nc.publish(`fid.nats.${to}`, DATA, { headers: natsBinaryHeaders(attrs) });
            await nc.flush();
            break;
        }
      }
    }

  const arrived = await Promise.allSettled(PROTOCOLS.map((to) => inboxes[to].waitFor(PROTOCOLS.length * VARIANTS.length, 10_000)));
  // Anything extra (a loop, an echo) would have arrived by the time a round trip through every broker completes.
  await nc.flush();
  const rows: string[][] = [];
  const failures: string[] = [];
  for (const from of PROTOCOLS) {
    const row: string[] = [from];
    for (const to of PROTOCOLS) {
      let cellOk = true;
      for (const v of VARIANTS) {
        const want = attributesFor(from, to, v);
        const got = inboxes[to].items.filter((o) => o.attrs.id === want.id);
        const diffs: string[] = [];
        if (got.length !== 1) diffs.push(`received ${got.length}x`);
        const o = got[0];
        if (o !== undefined) {
          for (const k of new Set([...Object.keys(want), ...Object.keys(o.attrs)]))
            if (want[k] !== o.attrs[k]) diffs.push(`${k}: ${JSON.stringify(o.attrs[k])}`);
          if (!o.data.equals(v.data)) diffs.push(`data: ${o.data.toString('hex').slice(0, 40)}`);
        }
        if (diffs.length > 0) {
          cellOk = false;
          failures.push(`${from} -> ${to} (${v.key}): ${diffs.join('; ')}`);
        }
      }
      row.push(cellOk ? (from === to && from !== 'ws' ? 'ok*' : 'ok') : 'FAIL');
    }
    rows.push(row);
  }
  for (const b of n.bridges.bridges) t.diagnostic(JSON.stringify(b.status()));
  const w = 9;
  t.diagnostic(['in \\ out'.padEnd(w), ...PROTOCOLS.map((p) => p.padEnd(w))].join('|'));
  for (const r of rows) t.diagnostic(r.map((c) => c.padEnd(w)).join('|'));
  t.diagnostic("ok* = same broker both ends: the consumer gets the producer's own message once; the bridge does not echo it back (loop guard)");
  t.diagnostic(`checked per cell, for JSON data and for 256 raw bytes: ${Object.keys(attributesFor('ws', 'ws')).join(', ')}, data bytes`);
  assert.deepEqual(failures, []);
  assert.ok(arrived.every((a) => a.status === 'fulfilled'));
});
