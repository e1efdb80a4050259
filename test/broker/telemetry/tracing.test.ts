/**
 * OpenTelemetry across the mesh: one trace per event over a bridge hop
 * and two peer hops, spans named and attributed per the messaging
 * semantic conventions, collected with the SDK's in-memory exporter.
 * The nodes run in this process so every span lands in one exporter; the
 * brokers, sockets and peer links are real.
 */

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { SpanKind, type TracerProvider } from '@opentelemetry/api';
import { tracing } from '@opentelemetry/sdk-node';
import type { BridgeEntry } from '../../../bridges/core/mod.js';
import { type RunningBridges, startBridges } from '../../../bridges/mod.js';
import { type ConfigLayer, resolveConfig } from '../../../broker/config/mod.js';
import { formatTraceparent } from '../../../broker/event/mod.js';
import { type RunningNode, startNode } from '../../../broker/node/internal.js';
import { amqpConsumer, bridgesSettled, mqttBinaryProps, mqttClient, until } from '../../bridges/bridge-harness.js';
import { startMosquitto, startRabbitMQ } from '../../helpers/brokers.js';
import { TEST_MESH_KEY } from '../../helpers/mesh.js';
import { ce, openClient } from '../../helpers/node.js';

type FinishedSpan = tracing.ReadableSpan;

function tracedProvider(): { provider: TracerProvider; exporter: tracing.InMemorySpanExporter } {
  const exporter = new tracing.InMemorySpanExporter();
  const provider = new tracing.BasicTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });
  return { provider, exporter };
}

async function startTracedNode(
  t: TestContext,
  id: string,
  provider: TracerProvider | null,
  layer: ConfigLayer = {},
  bridges: BridgeEntry[] = [],
): Promise<RunningNode> {
  const config = resolveConfig(
    { node: { id, region: `r-${id}` }, listen: { host: '127.0.0.1', port: 0 }, mesh: { key: TEST_MESH_KEY, backoffMinMs: 20, backoffMaxMs: 300 } },
    layer,
    { bridges: bridges as unknown as Array<Record<string, unknown>> } as ConfigLayer,
  );
  const running = await startNode(config, {
    tracerProvider: provider,
    bridges: (node, entries, log) => startBridges(node, entries as unknown as BridgeEntry[], log),
    log: () => undefined,
  });
  t.after(() => running.close());
  return running;
}

const attr = (s: FinishedSpan, key: string) => s.attributes[key];

function only(spans: FinishedSpan[], what: string, match: (s: FinishedSpan) => boolean): FinishedSpan {
  const found = spans.filter(match);
  assert.equal(found.length, 1, `exactly one ${what} span; spans: ${spans.map((s) => `${s.name}@${attr(s, 'meshgate.node')}`).join(', ')}`);
  return found[0];
}

function assertChild(child: FinishedSpan, parent: FinishedSpan, what: string): void {
  assert.equal(child.parentSpanContext?.spanId, parent.spanContext().spanId, `${what}: parent`);
  assert.equal(child.spanContext().traceId, parent.spanContext().traceId, `${what}: same trace`);
  assert.ok(child.startTime[0] * 1e9 + child.startTime[1] >= parent.startTime[0] * 1e9 + parent.startTime[1], `${what}: starts after its parent`);
}

test('one trace follows an event from MQTT through three nodes to RabbitMQ and a WebSocket subscriber', { timeout: 120_000 }, async (t) => {
  const [mosquitto, rabbit] = await Promise.all([startMosquitto(), startRabbitMQ()]);
  t.after(() => Promise.all([mosquitto.stop(), rabbit.stop()]));
  const { provider, exporter } = tracedProvider();

  // Line A - B - C: A imports from mosquitto, C exports to RabbitMQ and serves a WebSocket subscriber.
  const c = await startTracedNode(t, 'trace-c', provider, {}, [{ type: 'amqp', name: 'rmq', url: rabbit.url }]);
  const b = await startTracedNode(t, 'trace-b', provider, { mesh: { peers: [c.peerUrl] } });
  const a = await startTracedNode(t, 'trace-a', provider, { mesh: { peers: [b.peerUrl] } }, [
    { type: 'mqtt', name: 'mq', url: mosquitto.url, protocolVersion: 5 },
  ]);

  const amqpInbox = await amqpConsumer(t, rabbit.url, 'orders.created');
  const ws = await openClient(t, c.wsUrl);
  assert.equal((await ws.request({ op: 'sub', filter: 'orders.>' })).op, 'ok');
  // A's MQTT bridge subscribes upstream once C's interest (WebSocket and AMQP export) has reached it.
  // (C's AMQP export wants everything, so what reaches A is the cover `>`.)
  await until('interest reaches A', () => a.node.wantedFilters().some((f) => f === '>' || f === 'orders.>'));
  await bridgesSettled({ running: a, bridges: a.bridges as RunningBridges, log: [] });
  await bridgesSettled({ running: c, bridges: c.bridges as RunningBridges, log: [] });

  // The producer is an instrumented application: its own send span is the creation context.
  const producerSpan = provider.getTracer('producer-app').startSpan('send orders/created', { kind: SpanKind.PRODUCER });
  producerSpan.end();
  const traceparent = formatTraceparent(producerSpan.spanContext());
  const traceId = producerSpan.spanContext().traceId;

  const producer = await mqttClient(t, mosquitto.url, 5);
  const attrs = { specversion: '1.0', id: 'order-1', source: '/shop', type: 'order.created', datacontenttype: 'application/json', traceparent };
  await producer.publishAsync('orders/created', Buffer.from('{"total":42}'), { qos: 1, properties: mqttBinaryProps(attrs) });
  const event = (await ws.waitFor((f) => f.op === 'event')).event as Record<string, unknown>;
  assert.equal(event.traceparent, traceparent, 'the WebSocket subscriber sees the creation context unchanged');
  await amqpInbox.waitFor(1);
  assert.equal(amqpInbox.items[0].attrs.traceparent, traceparent, 'the AMQP consumer sees the creation context unchanged');

  // Spans end asynchronously (the AMQP send span at the broker's confirm).
  const spansOf = () => exporter.getFinishedSpans().filter((s) => attr(s, 'messaging.message.id') === 'order-1');
  await until('the AMQP send span', () => spansOf().some((s) => attr(s, 'messaging.system') === 'rabbitmq'));
  const spans = spansOf();
  for (const s of spans) assert.equal(s.spanContext().traceId, traceId, `${s.name} on ${attr(s, 'meshgate.node')} is in the producer's trace`);

  const on = (node: string, op: string, extra: (s: FinishedSpan) => boolean = () => true) =>
    only(spans, `${op}@${node}`, (s) => attr(s, 'meshgate.node') === node && attr(s, 'messaging.operation.type') === op && extra(s));
  const receiveA = on('trace-a', 'receive');
  const sendAB = on('trace-a', 'send', (s) => attr(s, 'meshgate.peer.node') === 'trace-b');
  const receiveB = on('trace-b', 'receive');
  const sendBC = on('trace-b', 'send', (s) => attr(s, 'meshgate.peer.node') === 'trace-c');
  const receiveC = on('trace-c', 'receive');
  const processC = on('trace-c', 'process');
  const sendAmqp = on('trace-c', 'send', (s) => attr(s, 'messaging.system') === 'rabbitmq');

  // Hop order: producer -> A -> B -> C -> {RabbitMQ, WebSocket}, each a child of the one before.
  assert.equal(receiveA.parentSpanContext?.spanId, producerSpan.spanContext().spanId, 'the first node parents on the creation context');
  assertChild(sendAB, receiveA, 'A send');
  assertChild(receiveB, sendAB, 'B receive');
  assertChild(sendBC, receiveB, 'B send');
  assertChild(receiveC, sendBC, 'C receive');
  assertChild(processC, receiveC, 'C process');
  assertChild(sendAmqp, receiveC, 'C send to RabbitMQ');
  // Later hops also link to the creation context, as the conventions ask of consumers.
  for (const r of [receiveB, receiveC])
    assert.deepEqual(
      r.links.map((l) => l.context.spanId),
      [producerSpan.spanContext().spanId],
    );

  // Semantic-convention names, kinds and attributes.
  assert.equal(receiveA.name, 'receive orders.created');
  assert.equal(receiveA.kind, SpanKind.CONSUMER);
  assert.equal(attr(receiveA, 'meshgate.ingress.protocol'), 'mqtt');
  assert.equal(attr(receiveB, 'meshgate.ingress.protocol'), 'peer');
  assert.equal(attr(receiveC, 'meshgate.hop'), 2);
  assert.equal(sendAB.kind, SpanKind.PRODUCER);
  assert.equal(sendAmqp.name, 'send orders.created');
  assert.equal(processC.kind, SpanKind.CONSUMER);
  assert.equal(attr(processC, 'messaging.batch.message_count'), 2, 'two local subscribers at C: the WebSocket client and the AMQP export');
  for (const s of spans) {
    for (const key of ['messaging.system', 'messaging.operation.type', 'messaging.operation.name', 'messaging.destination.name', 'messaging.message.id']) {
      assert.notEqual(attr(s, key), undefined, `${s.name}@${attr(s, 'meshgate.node')} has ${key}`);
    }
  }
  assert.equal(attr(receiveB, 'cloudevents.event_source'), '/shop');

  // Per-hop latency from the provenance hop path, at the last node.
  const metrics = await (await fetch(`${c.httpUrl}/metrics`)).text();
  assert.match(metrics, /^meshgate_hop_latency_seconds_count\{from="trace-b"\} [1-9]/m);
  assert.match(metrics, /^meshgate_transit_seconds_count\{origin="trace-a"\} [1-9]/m);
  assert.match(metrics, /^meshgate_hop_latency_seconds_bucket\{from="trace-b",le="\+Inf"\} [1-9]/m);
});

test('a malformed traceparent starts a new trace, is counted, and never blocks the event', async (t) => {
  const { provider, exporter } = tracedProvider();
  const node = await startTracedNode(t, 'solo', provider);
  const client = await openClient(t, node.wsUrl);
  assert.equal((await client.request({ op: 'sub', filter: 'x.>' })).op, 'ok');
  for (const bad of [
    'not-a-traceparent',
    '00-00000000000000000000000000000000-b7ad6b7169203331-01',
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
  ]) {
    const id = `bad-${bad.length}`;
    assert.equal((await client.request({ op: 'pub', topic: 'x.y', event: ce(id, { traceparent: bad }) })).op, 'ok');
    const got = (await client.waitFor((f) => f.op === 'event' && (f.event as { id: string }).id === id)).event as Record<string, unknown>;
    const receive = exporter.getFinishedSpans().find((s) => attr(s, 'messaging.message.id') === id && attr(s, 'messaging.operation.type') === 'receive')!;
    assert.ok(receive, `a receive span for ${bad}`);
    assert.equal(receive.parentSpanContext, undefined, 'a new trace: the receive span is its root');
    assert.equal(got.traceparent, formatTraceparent(receive.spanContext()), 'the new creation context travels with the event');
  }
  const metrics = await (await fetch(`${node.httpUrl}/metrics`)).text();
  assert.match(metrics, /^meshgate_traceparent_invalid_total 3$/m);
});

test('an unsampled creation context is carried unchanged and records no spans; no traceparent gets one', async (t) => {
  const { provider, exporter } = tracedProvider();
  const node = await startTracedNode(t, 'solo', provider);
  const client = await openClient(t, node.wsUrl);
  assert.equal((await client.request({ op: 'sub', filter: 'x.>' })).op, 'ok');
  const unsampled = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
  assert.equal((await client.request({ op: 'pub', topic: 'x.y', event: ce('unsampled', { traceparent: unsampled }) })).op, 'ok');
  assert.equal((await client.request({ op: 'pub', topic: 'x.y', event: ce('fresh') })).op, 'ok');
  const unsampledGot = (await client.waitFor((f) => f.op === 'event' && (f.event as { id: string }).id === 'unsampled')).event as Record<string, unknown>;
  const freshGot = (await client.waitFor((f) => f.op === 'event' && (f.event as { id: string }).id === 'fresh')).event as Record<string, unknown>;
  assert.equal(unsampledGot.traceparent, unsampled);
  assert.equal(exporter.getFinishedSpans().filter((s) => attr(s, 'messaging.message.id') === 'unsampled').length, 0, 'parent-based sampling: nothing recorded');
  const freshReceive = exporter
    .getFinishedSpans()
    .find((s) => attr(s, 'messaging.message.id') === 'fresh' && attr(s, 'messaging.operation.type') === 'receive');
  assert.ok(freshReceive);
  assert.equal(freshGot.traceparent, formatTraceparent(freshReceive.spanContext()), 'the ingress receive span became the creation context');
});

test('with tracing off the traceparent is carried unchanged and nothing is recorded', async (t) => {
  const node = await startTracedNode(t, 'solo', null);
  assert.equal(node.node.tracing, null);
  const client = await openClient(t, node.wsUrl);
  assert.equal((await client.request({ op: 'sub', filter: 'x.>' })).op, 'ok');
  const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  assert.equal((await client.request({ op: 'pub', topic: 'x.y', event: ce('plain', { traceparent: tp, tracestate: 'k=v' }) })).op, 'ok');
  assert.equal((await client.request({ op: 'pub', topic: 'x.y', event: ce('none') })).op, 'ok');
  const got = (await client.waitFor((f) => f.op === 'event' && (f.event as { id: string }).id === 'plain')).event as Record<string, unknown>;
  const none = (await client.waitFor((f) => f.op === 'event' && (f.event as { id: string }).id === 'none')).event as Record<string, unknown>;
  assert.equal(got.traceparent, tp);
  assert.equal(got.tracestate, 'k=v');
  assert.equal(none.traceparent, undefined, 'no tracing, no invented context');
});

test("a dead letter carries the refused event's trace context and is traced in that trace; the node's own mesh views start no traces", async (t) => {
  const { provider, exporter } = tracedProvider();
  const node = await startTracedNode(t, 'solo', provider);
  node.schemas.register('orders', { type: 'object', required: ['id'] }, { topics: ['orders.>'] });
  const client = await openClient(t, node.wsUrl);
  assert.equal((await client.request({ op: 'sub', filter: '_mg.>' })).op, 'ok');
  const producerSpan = provider.getTracer('producer-app').startSpan('send orders.eu', { kind: SpanKind.PRODUCER });
  producerSpan.end();
  const traceparent = formatTraceparent(producerSpan.spanContext());
  const refused = await client.request({ op: 'pub', topic: 'orders.eu', event: ce('bad-order', { traceparent, data: { total: 1 } }) });
  assert.equal(refused.code, 'MG_ERR_EVENT_SCHEMA');
  const letter = (await client.waitFor((f) => f.op === 'event' && String(f.topic).startsWith('_mg.deadletter.'))).event as Record<string, unknown>;
  assert.equal(letter.traceparent, traceparent);
  const letterSpan = exporter
    .getFinishedSpans()
    .find((s) => attr(s, 'messaging.destination.name') === '_mg.deadletter.orders.eu' && attr(s, 'messaging.operation.type') === 'receive');
  assert.ok(letterSpan, 'the dead letter has a receive span');
  assert.equal(letterSpan.spanContext().traceId, producerSpan.spanContext().traceId);
  assert.equal(letterSpan.parentSpanContext?.spanId, producerSpan.spanContext().spanId);
  // The node publishes its mesh view on _mg.sys.mesh.<node>; the subscriber above sees it, and no span is recorded for it.
  await client.waitFor((f) => f.op === 'event' && String(f.topic).startsWith('_mg.sys.mesh.'));
  assert.deepEqual(
    exporter.getFinishedSpans().filter((s) => String(attr(s, 'messaging.destination.name')).startsWith('_mg.sys.')),
    [],
  );
});
