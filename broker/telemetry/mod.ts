/**
 * broker/telemetry/: OpenTelemetry. The SDK started from OTEL_* variables,
 * and the spans one event records at a node (receive, process, send) under
 * the messaging semantic conventions. Imports broker/event/ and below.
 */
export { EventTracing, endSpan, MESSAGING_SYSTEM, type SendDestination, traceparentOf } from './event-tracing.js';
export { startTelemetry, type Telemetry } from './telemetry.js';
