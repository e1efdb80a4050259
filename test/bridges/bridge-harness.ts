/**
 * Shared test plumbing for the bridge suites: an in-process node with
 * bridges, and plain protocol clients (MQTT.js, amqplib, nats.js, ws)
 * that produce and observe CloudEvents the way third-party software does,
 * written from the binding specs rather than from bridges/ code.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, type TestContext } from 'node:test';
import amqp from 'amqplib';
import mqtt, { type MqttClient } from 'mqtt';
import { type NatsConnection, connect as natsConnect, headers as natsHeaders } from 'nats';
import WebSocket from 'ws';
import type { BridgeEntry } from '../../bridges/core/mod.js';
import { type RunningBridges, startBridges } from '../../bridges/mod.js';
import { type ConfigLayer, resolveConfig } from '../../broker/config/mod.js';
import { decodeStructuredJson, type MeshEvent, type Subscriber } from '../../broker/mod.js';
import { type RunningNode, startNode } from '../../broker/node/internal.js';
import { type MosquittoHandle, startMosquitto } from '../helpers/brokers.js';
import { until } from '../helpers/mesh.js';

export interface BridgedNode {
  readonly running: RunningNode;
  readonly bridges: RunningBridges;
  readonly log: string[];
}

/** A node on 127.0.0.1:0 with the given bridges, closed after the test. */
export async function startBridgedNode(
  t: TestContext | { after(fn: () => unknown): void },
  bridges: BridgeEntry[],
  layer: ConfigLayer = {},
  id = 'bridge-node',
): Promise<BridgedNode> {
  const log: string[] = [];
  const config = resolveConfig({ node: { id, region: 'test' }, listen: { host: '127.0.0.1', port: 0 } }, layer, {
    bridges: bridges as unknown as Array<Record<string, unknown>>,
  } as ConfigLayer);
  const running = await startNode(config, {
    bridges: (node, entries, l) => startBridges(node, entries as unknown as BridgeEntry[], l),
    log: (l) => log.push(l),
  });
  t.after(() => running.close());
  return { running, bridges: running.bridges as RunningBridges, log };
}

/** Waits until every bridge of the node is up and its upstream subscriptions match interest. */
export async function bridgesSettled(n: BridgedNode, timeoutMs = 20_000): Promise<void> {
  await until('bridges up', () => n.bridges.bridges.every((b) => b.state === 'up'), timeoutMs);
  // Interest listeners run on setImmediate; let them fire, then wait for the (un)subscribe round trips.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  for (const b of n.bridges.bridges) await b.settled();
}

/** Polls `check` until true; for state with no event to await. */
export { until };

/**
 * One mosquitto with `config` lines for the whole test file, started
 * before its first test and stopped after its last; call the result for
 * the handle.
 */
export function mosquittoForFile(config: string[]): () => MosquittoHandle {
  let mq: MosquittoHandle | undefined;
  before(async () => {
    mq = await startMosquitto({ config });
  });
  after(() => mq?.stop());
  return () => mq!;
}

/**
 * The node's first bridge refused exactly one export, under `code`, and
 * is otherwise clean: nothing retried, held, in flight or reconnected, up,
 * and the refusal is on /metrics.
 */
export async function assertRefusedOnceAndClean(n: BridgedNode, code: string): Promise<void> {
  const s = n.bridges.bridges[0].status();
  assert.deepEqual(s.refused, { [code]: 1 });
  assert.deepEqual(
    { retries: s.retries, pending: s.pending, inFlight: s.inFlight, reconnects: s.reconnects, state: s.state },
    { retries: 0, pending: 0, inFlight: 0, reconnects: 0, state: 'up' },
  );
  const metrics = await (await fetch(`${n.running.httpUrl}/metrics`)).text();
  assert.ok(metrics.split('\n').includes(`meshgate_bridge_refused_total{bridge="${s.name}",code="${code}"} 1`), metrics);
}

/** The status row of the node's first bridge. */
export const firstBridgeRow = (n: BridgedNode) => n.bridges.bridges[0].status();

/**
 * Puts an event with `bytes` data bytes ('a' each) into the node as a
 * WebSocket producer would, for its bridges to export.
 */
export function ingestForExport(n: BridgedNode, source: string, id: string, topic: string, bytes = 1, attrs: Record<string, string> = {}): void {
  const result = n.running.node.ingest({ id, source, type: 't', topic, data: Buffer.alloc(bytes, 0x61), attrs, hops: [] }, 'ws');
  if (!result.ok) throw new Error(`ingest ${id}: ${result.code} ${result.message}`);
}

// --- what a consumer saw, protocol-independent ---------------------------

/** A CloudEvent as a consumer observed it: attribute strings and data bytes. */
export interface Observed {
  readonly attrs: Record<string, string>;
  readonly data: Buffer;
}

const PROVENANCE = /^mg/;

function fromMeshEvent(e: MeshEvent): Observed {
  const attrs: Record<string, string> = { specversion: '1.0', id: e.id, source: e.source, type: e.type };
  for (const [k, v] of Object.entries(e.attrs)) attrs[k] = String(v);
  if (e.traceparent !== undefined) attrs.traceparent = e.traceparent;
  if (e.tracestate !== undefined) attrs.tracestate = e.tracestate;
  return { attrs, data: Buffer.from(e.data ?? new Uint8Array(0)) };
}

/** Structured JSON -> Observed (the broker's own JSON decoder; provenance is dropped as untrusted). */
export function observeStructured(text: string): Observed {
  const r = decodeStructuredJson(text, 'x');
  if (!r.ok) throw new Error(`not a CloudEvent: ${r.problem.attribute} ${r.problem.reason}: ${text}`);
  return fromMeshEvent(r.event);
}

/** Collects events and lets a test await a count. */
export class Inbox<T> {
  readonly items: T[] = [];
  #waiters: Array<{ n: number; resolve: () => void }> = [];
  push(item: T): void {
    this.items.push(item);
    this.#waiters = this.#waiters.filter((w) => {
      if (this.items.length < w.n) return true;
      w.resolve();
      return false;
    });
  }
  /** Resolves when `n` items have arrived; rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs = 15_000): Promise<void> {
    if (this.items.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${this.items.length} of ${n} items after ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

// --- WebSocket (CloudEvents WebSocket binding, cloudevents.json) --------

export async function wsConsumer(t: TestContext, node: RunningNode, filter: string): Promise<Inbox<Observed> & { close(): Promise<void> }> {
  const inbox = new Inbox<Observed>() as Inbox<Observed> & { close(): Promise<void> };
  const ws = new WebSocket(`${node.httpUrl.replace('http', 'ws')}/v1/ce/${encodeURIComponent(filter)}`, 'cloudevents.json');
  t.after(() => ws.terminate());
  ws.on('message', (raw: Buffer) => inbox.push(observeStructured(raw.toString('utf8'))));
  await once(ws, 'open');
  inbox.close = async () => {
    ws.close();
    await once(ws, 'close');
  };
  return inbox;
}

export async function wsProducer(t: TestContext, node: RunningNode, topic: string): Promise<(json: string) => void> {
  const ws = new WebSocket(`${node.httpUrl.replace('http', 'ws')}/v1/ce/${encodeURIComponent(topic)}`, 'cloudevents.json');
  t.after(() => ws.terminate());
  await once(ws, 'open');
  return (json) => ws.send(json);
}

/** An in-process mesh subscriber (counts what the node delivers to it). */
/** A plain event as a client ingress would hand it to the node: no trace context, no provenance yet. */
export function clientEvent(id: string, source: string, type: string, topic: string, data: string): MeshEvent {
  return { id, source, type, topic, data: Buffer.from(data), attrs: {}, traceparent: undefined, tracestate: undefined, origin: undefined, hops: [] };
}

export function meshSubscriber(node: RunningNode, filter: string): Inbox<MeshEvent> & Subscriber {
  const inbox = new Inbox<MeshEvent>() as Inbox<MeshEvent> & Subscriber;
  (inbox as { format: Subscriber['format'] }).format = { name: 'test', binary: true, encode: () => new Uint8Array(0), batch: null };
  (inbox as { deliver: Subscriber['deliver'] }).deliver = (_f, e) => inbox.push(e);
  const problem = node.node.subscribe(filter, inbox);
  if (problem !== null) throw new Error(problem.message);
  return inbox;
}

// --- MQTT -----------------------------------------------------------------

export async function mqttClient(t: TestContext, url: string, protocolVersion: 4 | 5, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { protocolVersion, reconnectPeriod: 0, ...extra });
  t.after(() => c.endAsync(true));
  return c;
}

/** MQTT 5 binary-mode observation: user properties are the attributes, Content Type the datacontenttype (CE MQTT binding §3.1). */
export function observeMqtt(payload: Buffer, props: { contentType?: string; userProperties?: Record<string, string | string[]> } | undefined): Observed {
  if (props?.contentType?.startsWith('application/cloudevents') || props?.userProperties === undefined) return observeStructured(payload.toString('utf8'));
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(props.userProperties)) if (!PROVENANCE.test(k)) attrs[k] = Array.isArray(v) ? v[0] : v;
  if (props.contentType !== undefined) attrs.datacontenttype = props.contentType;
  return { attrs, data: Buffer.from(payload) };
}

export async function mqttConsumer(t: TestContext, url: string, protocolVersion: 4 | 5, filter: string): Promise<Inbox<Observed>> {
  const inbox = new Inbox<Observed>();
  const c = await mqttClient(t, url, protocolVersion);
  c.on('message', (_topic, payload, packet) =>
    inbox.push(protocolVersion === 5 ? observeMqtt(payload, packet.properties) : observeStructured(payload.toString('utf8'))),
  );
  await c.subscribeAsync(filter, { qos: 1 });
  return inbox;
}

/** Publishes `attrs` + `data` the way an MQTT 5 CloudEvents SDK would (binary mode). */
export function mqttBinaryProps(attrs: Record<string, string>): { contentType?: string; userProperties: Record<string, string> } {
  const userProperties: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (k !== 'datacontenttype') userProperties[k] = v;
  return attrs.datacontenttype === undefined ? { userProperties } : { contentType: attrs.datacontenttype, userProperties };
}

// --- AMQP -------------------------------------------------------------------

export async function amqpChannel(t: TestContext, url: string): Promise<amqp.ConfirmChannel> {
  const conn = await amqp.connect(url);
  t.after(() => conn.close().catch(() => undefined));
  return conn.createConfirmChannel();
}

export async function amqpConsumer(t: TestContext, url: string, bindingKey: string, exchange = 'amq.topic'): Promise<Inbox<Observed>> {
  const inbox = new Inbox<Observed>();
  const ch = await amqpChannel(t, url);
  const q = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(q.queue, exchange, bindingKey);
  await ch.consume(q.queue, (msg) => {
    if (msg === null) return;
    const ct = msg.properties.contentType as string | undefined;
    if (ct?.startsWith('application/cloudevents')) inbox.push(observeStructured(msg.content.toString('utf8')));
    else {
      const attrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(msg.properties.headers ?? {})) {
        const m = /^(?:cloudEvents[_:]|ce[-_])(.+)$/.exec(k);
        if (m && !PROVENANCE.test(m[1])) attrs[m[1]] = String(v);
      }
      if (ct !== undefined) attrs.datacontenttype = ct;
      inbox.push({ attrs, data: Buffer.from(msg.content) });
    }
    ch.ack(msg);
  });
  return inbox;
}

// --- NATS -------------------------------------------------------------------

export async function natsClient(t: TestContext, url: string, extra: Parameters<typeof natsConnect>[0] = {}): Promise<NatsConnection> {
  const nc = await natsConnect({ servers: url, ...extra });
  t.after(() => nc.close());
  return nc;
}

/** Percent-encoding of the CE NATS binding §3.1.3.2, written independently of bridges/. */
export function natsEncode(v: string): string {
  return Array.from(Buffer.from(v, 'utf8'))
    .map((b) => (b > 0x20 && b < 0x7f && b !== 0x22 && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

export function natsBinaryHeaders(attrs: Record<string, string>): ReturnType<typeof natsHeaders> {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(attrs)) h.set(`ce-${k}`, natsEncode(v));
  return h;
}

export async function natsConsumer(t: TestContext, url: string, subject: string): Promise<Inbox<Observed>> {
  const inbox = new Inbox<Observed>();
  const nc = await natsClient(t, url);
  nc.subscribe(subject, {
    callback: (_err, msg) => {
      const h = msg.headers;
      const ct = h?.get('Content-Type');
      if (h === undefined || ct?.startsWith('application/cloudevents')) inbox.push(observeStructured(Buffer.from(msg.data).toString('utf8')));
      else {
        const attrs: Record<string, string> = {};
        for (const k of h.keys()) {
          const m = /^ce-(.+)$/i.exec(k);
          if (m && !PROVENANCE.test(m[1])) attrs[m[1].toLowerCase()] = decodeURIComponent(h.get(k));
        }
        inbox.push({ attrs, data: Buffer.from(msg.data) });
      }
    },
  });
  await nc.flush();
  return inbox;
}

// --- binary-mode CloudEvents from plain clients -------------------------------

type CePublisher = (t: TestContext, url: string, topic: string, attrs: Record<string, string>, data: Buffer) => Promise<void>;

/**
 * Publishes a binary-mode CloudEvent the way a plain client of each
 * protocol does, written from the binding specs: MQTT 5 user properties,
 * AMQP `cloudEvents:` headers (confirmed), NATS headers (flushed).
 */
export const publishBinaryCe: Record<'mqtt' | 'amqp' | 'nats', CePublisher> = {
  async mqtt(t, url, topic, attrs, data) {
    const c = await mqttClient(t, url, 5);
    await c.publishAsync(topic, data, { qos: 1, properties: mqttBinaryProps(attrs) });
  },
  async amqp(t, url, topic, attrs, data) {
    const ch = await amqpChannel(t, url);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(attrs)) if (k !== 'datacontenttype') headers[`cloudEvents:${k}`] = v;
    ch.publish('amq.topic', topic, data, { headers, contentType: attrs.datacontenttype, persistent: true });
    await ch.waitForConfirms();
  },
  async nats(t, url, topic, attrs, data) {
    const nc = await natsClient(t, url);
    nc.publish(topic, data, { headers: natsBinaryHeaders(attrs) });
    await nc.flush();
  },
};
