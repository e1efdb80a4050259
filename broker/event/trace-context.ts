/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as the mesh
 * carries it: the `traceparent` string, parsed with OpenTelemetry's own
 * parser so the mesh accepts exactly what the SDK's propagator accepts.
 *
 * Never throws: a malformed value is reported as null, and the caller
 * starts a new trace instead (an event is never refused for its trace
 * context).
 */
import type { SpanContext } from '@opentelemetry/api';
import { parseTraceParent } from '@opentelemetry/core';

/** The span context a `traceparent` names, marked remote; null when malformed. */
export function spanContextOf(traceparent: string): SpanContext | null {
  const parsed = parseTraceParent(traceparent);
  if (parsed === null) return null;
  return { traceId: parsed.traceId, spanId: parsed.spanId, traceFlags: parsed.traceFlags, isRemote: true };
}

/** True when `traceparent` is well-formed (version, non-zero ids, flags). */
export function isValidTraceparent(traceparent: string): boolean {
  return parseTraceParent(traceparent) !== null;
}

/** `00-<trace id>-<span id>-<flags>`: the version-00 form every node writes. */
export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}
