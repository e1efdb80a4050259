/**
 * Starts OpenTelemetry tracing the standard way, from `OTEL_*` environment
 * variables (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/):
 *
 *   OTEL_TRACES_EXPORTER            otlp | console | zipkin | none
 *   OTEL_EXPORTER_OTLP_ENDPOINT     e.g. http://127.0.0.1:4318 (or _TRACES_ENDPOINT)
 *   OTEL_EXPORTER_OTLP_PROTOCOL     http/protobuf (default) | http/json | grpc
 *   OTEL_TRACES_SAMPLER(_ARG)       e.g. parentbased_traceidratio + 0.01
 *   OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED
 *
 * Tracing is on only when a trace exporter or an OTLP endpoint is named.
 * With neither, the SDK is never loaded and the node's per-event cost is
 * one null check: the SDK's own default (OTLP to localhost) would make
 * every node that was never asked to trace export somewhere.
 *
 * Only traces are exported: the node's metrics stay at /metrics
 * (Prometheus), so the SDK gets no metric readers or log processors.
 *
 * The sampler is built from OTEL_TRACES_SAMPLER(_ARG) here (sampling.ts,
 * read as the SDK reads them) and handed to the SDK together with the
 * pooled id generator, so the node can decide sampling before it makes a
 * span and agree with the SDK on every event.
 */
import { type ContextManager, type TracerProvider, trace } from '@opentelemetry/api';
import { Sampling, samplingPolicyFromEnv, sdkSamplerOf } from './sampling.js';

export interface Telemetry {
  /** The provider spans go to; null when tracing is off. */
  readonly provider: TracerProvider | null;
  /** The sampler and id generator `provider` was built with; null when tracing is off or the provider came from elsewhere. */
  readonly sampling: Sampling | null;
  /** One line for the start-up banner, e.g. `otlp (http/json) -> http://127.0.0.1:4318`. */
  readonly summary: string;
  /** Flushes pending spans and stops the SDK. Idempotent. */
  shutdown(): Promise<void>;
}

const OFF: Telemetry = Object.freeze({
  provider: null,
  sampling: null,
  summary: 'off (set OTEL_TRACES_EXPORTER or OTEL_EXPORTER_OTLP_ENDPOINT)',
  shutdown: async () => {},
});

type Env = Readonly<Record<string, string | undefined>>;

/** The trace exporters the environment names; empty when it names none. */
function traceExporters(env: Env): string[] {
  return (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
}

/** True when the environment asks for traces to be exported. */
export function tracingRequested(env: Env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  const exporters = traceExporters(env);
  if (exporters.includes('none')) return false;
  return exporters.length > 0 || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT) || Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Starts the SDK when the environment asks for tracing; otherwise returns
 * a Telemetry with no provider, having loaded nothing.
 */
export async function startTelemetry(identity: { readonly nodeId: string; readonly region: string }, env: Env = process.env): Promise<Telemetry> {
  if (!tracingRequested(env)) return OFF;
  const { NodeSDK, resources, tracing } = await import('@opentelemetry/sdk-node');
  const sampling = new Sampling(samplingPolicyFromEnv(env));
  const sdk = new NodeSDK({
    sampler: sdkSamplerOf(sampling.policy, tracing),
    // No global context manager: the node passes every span's parent
    // explicitly, and the default one (AsyncLocalStorage) once entered, as
    // the span processor does on each export, puts a hook on every promise
    // in the process: at 1% sampling that was most of what tracing cost.
    // sdk-node reads null as "register none" (its types do not say so).
    contextManager: null as unknown as ContextManager,
    idGenerator: sampling.ids,
    serviceName: env.OTEL_SERVICE_NAME ?? 'meshgate',
    resource: resources.resourceFromAttributes({ 'service.instance.id': identity.nodeId, 'cloud.region': identity.region }),
    instrumentations: [],
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  const exporters = traceExporters(env);
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const summary =
    `${exporters.length === 0 ? 'otlp' : exporters.join(',')}` +
    (env.OTEL_EXPORTER_OTLP_PROTOCOL ? ` (${env.OTEL_EXPORTER_OTLP_PROTOCOL})` : '') +
    (endpoint ? ` -> ${endpoint}` : '') +
    // The policy in effect, not the variable: an unknown name or a bad ratio falls back as the SDK's would.
    `, sampler ${sampling.policy.name}${sampling.policy.name.endsWith('traceidratio') ? ` ${sampling.policy.ratio}` : ''}`;
  let stopping: Promise<void> | undefined;
  return {
    provider: trace.getTracerProvider(),
    sampling,
    summary,
    shutdown: () => (stopping ??= sdk.shutdown().catch(() => {})),
  };
}
