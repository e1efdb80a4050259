import type { ErrorCode } from '../base/mod.js';
import type { SchemaReason } from '../pipeline/mod.js';
import type { Ref } from './client-protocol.js';

/** `reasons` ([{path, message}]) only for schema failures: each names a JSON pointer into the event's data. */
export function errorFrame(ref: Ref | undefined, code: ErrorCode, message: string, reasons?: readonly SchemaReason[]): Record<string, unknown> {
  const frame: Record<string, unknown> = ref === undefined ? { op: 'err', code, message } : { op: 'err', ref, code, message };
  if (reasons !== undefined) frame.reasons = reasons;
  return frame;
}
