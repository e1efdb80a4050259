/**
 * The sampling decision taken before any span (issue 17): what an event
 * that is not sampled costs (no span object), what it carries on (its
 * traceparent unchanged, or fresh pooled ids for a root), and that the
 * decision is the one the SDK's own sampler takes, on the real SDK.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROOT_CONTEXT, SpanKind, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { tracing } from '@opentelemetry/sdk-node';
import { isValidTraceparent, type MeshEvent } from '../../../broker/event/mod.js';
import { EventTracing, Sampling, samplingPolicyFromEnv, sdkSamplerOf } from '../../../broker/telemetry/internal.js';

/** A real SDK provider built as startTelemetry builds it, counting every span the tracer is asked for. */
function sampledTracing(env: Record<string, string>): { tracing: EventTracing; exporter: tracing.InMemorySpanExporter; started: () => number } {
  const sampling = new Sampling(samplingPolicyFromEnv(env));
  const exporter = new tracing.InMemorySpanExporter();
  const sdk = new tracing.BasicTracerProvider({
    sampler: sdkSamplerOf(sampling.policy, tracing),
    idGenerator: sampling.ids,
    spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
  });
  let started = 0;
  const counting: TracerProvider = {
    getTracer(name, version) {
      const tracer = sdk.getTracer(name, version);
      const wrapped: Pick<Tracer, 'startSpan'> = {
        startSpan: (...args) => {
          started++;
          return tracer.startSpan(...args);
        },
      };
      return wrapped as Tracer;
    },
  };
  return { tracing: new EventTracing(counting, { nodeId: 'n1', region: 'r1' }, sampling), exporter, started: () => started };
}

function event(id: string, traceparent?: string): MeshEvent {
  return { id, source: 'test', type: 'test.event', topic: 'orders.eu', attrs: {}, hops: [], ...(traceparent === undefined ? {} : { traceparent }) };
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

test('an event whose traceparent is not sampled starts no span and keeps its traceparent exactly as received', () => {
  const { tracing: t, exporter, started } = sampledTracing({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' });
  // A trace id whose ratio fold is tiny (so a ratio would sample it): the parent's flag must decide.
  const unsampled = `00-${'0'.repeat(31)}1-00f067aa0ba902b7-00`;
  const received = t.receive(event('e1', unsampled), 'ws', undefined);
  assert.equal(received.span, undefined);
  assert.equal(received.hop, undefined);
  assert.equal(received.traceparent, unsampled);
  assert.equal(started(), 0, 'not even a non-recording span was made');

  const sampled = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
  const kept = t.receive(event('e2', sampled), 'ws', undefined);
  kept.span?.end();
  assert.equal(kept.traceparent, sampled);
  assert.notEqual(kept.hop, undefined);
  const [span] = exporter.getFinishedSpans();
  assert.equal(span.name, 'receive orders.eu');
  assert.equal(span.kind, SpanKind.CONSUMER);
  assert.equal(span.spanContext().traceId, TRACE_ID);
  assert.equal(span.parentSpanContext?.spanId, '00f067aa0ba902b7');
});

test('roots that are not sampled get distinct valid W3C ids from the pooled source and start no span', () => {
  const { tracing: t, started } = sampledTracing({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
  const traceIds = new Set<string>();
  const spanIds = new Set<string>();
  const n = 50_000; // some 300 refills of the pool
  for (let i = 0; i < n; i++) {
    const { span, traceparent } = t.receive(event(`e${i}`), 'ws', undefined);
    assert.equal(span, undefined);
    assert.match(traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    assert.ok(isValidTraceparent(traceparent), traceparent);
    traceIds.add(traceparent.slice(3, 35));
    spanIds.add(traceparent.slice(36, 52));
  }
  assert.equal(traceIds.size, n);
  assert.equal(spanIds.size, n);
  assert.equal(started(), 0);
});

test('the decision before the span is the SDK sampler decision, and a sampled root span carries the trace id it was decided on', () => {
  const ratio = new tracing.TraceIdRatioBasedSampler(0.25);
  const sdkSamples = (traceId: string): boolean => ratio.shouldSample(ROOT_CONTEXT, traceId).decision === tracing.SamplingDecision.RECORD_AND_SAMPLED;
  for (const sampler of ['parentbased_traceidratio', 'traceidratio']) {
    const { tracing: t, exporter } = sampledTracing({ OTEL_TRACES_SAMPLER: sampler, OTEL_TRACES_SAMPLER_ARG: '0.25' });
    let sampled = 0;
    const n = 4_000;
    for (let i = 0; i < n; i++) {
      const { span, traceparent } = t.receive(event(`r${i}`), 'ws', undefined);
      const traceId = traceparent.slice(3, 35);
      assert.equal(span !== undefined, sdkSamples(traceId), `${sampler} root ${traceparent}`);
      if (span === undefined) continue;
      sampled++;
      assert.ok(span.isRecording());
      assert.equal(span.spanContext().traceId, traceId);
      assert.ok(traceparent.endsWith('-01'));
      span.end();
    }
    assert.ok(sampled > n * 0.2 && sampled < n * 0.3, `${sampled} of ${n} roots sampled at 0.25`);
    assert.equal(exporter.getFinishedSpans().length, sampled);
    // Children: parent-based follows the flag; plain traceidratio folds the parent's trace id.
    const probe = t.receive(event('c0'), 'ws', undefined).traceparent.slice(3, 35);
    for (const flags of ['00', '01']) {
      const child = t.receive(event('c1', `00-${probe}-00f067aa0ba902b7-${flags}`), 'ws', undefined);
      const expected = sampler === 'traceidratio' ? sdkSamples(probe) : flags === '01';
      assert.equal(child.span !== undefined, expected, `${sampler} child flags ${flags}`);
      child.span?.end();
    }
  }
});

test('OTEL_TRACES_SAMPLER and its argument are read as the SDK reads them', () => {
  assert.deepEqual(samplingPolicyFromEnv({}), { name: 'parentbased_always_on', parentBased: true, ratio: 1 });
  assert.deepEqual(samplingPolicyFromEnv({ OTEL_TRACES_SAMPLER: 'nonsense' }), { name: 'parentbased_always_on', parentBased: true, ratio: 1 });
  assert.deepEqual(samplingPolicyFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' }), { name: 'always_off', parentBased: false, ratio: 0 });
  assert.deepEqual(samplingPolicyFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: ' 0.5 ' }), {
    name: 'traceidratio',
    parentBased: false,
    ratio: 0.5,
  });
  for (const arg of ['', 'half', '1.5', '-0.1']) {
    assert.equal(
      samplingPolicyFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: arg }).ratio,
      1,
      `ARG ${JSON.stringify(arg)}`,
    );
  }
  const sdk = sdkSamplerOf(samplingPolicyFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' }), tracing);
  assert.match(sdk.toString(), /^ParentBased\{root=TraceIdRatioBased\{0\.01\}/);
});
