/** The one rule for "is this position recoverable", shared by every engine. */
import { MeshError } from '../base/mod.js';
import type { ReadResult } from './stream-store.js';

type Refusal = Extract<ReadResult, { ok: false }>;

/** null when `after` can be read from; otherwise the refusal. */
export function checkPosition(after: number, first: number, last: number, epoch: string, wanted?: string): Refusal | null {
  if (wanted !== undefined && wanted !== epoch) return { ok: false, reason: 'epoch', code: 'MG_ERR_STREAM_EPOCH', first, last, epoch };
  if (after > last) return { ok: false, reason: 'beyond-end', code: 'MG_ERR_STREAM_BEYOND_END', first, last, epoch };
  // Entries after+1 .. first-1 are gone: the reader would silently skip them.
  if (after < first - 1) return { ok: false, reason: 'pruned', code: 'MG_ERR_STREAM_PRUNED', first, last, epoch };
  return null;
}

export function unknownStream(): Refusal {
  return { ok: false, reason: 'unknown-stream', code: 'MG_ERR_STREAM_UNKNOWN', first: 0, last: 0, epoch: '' };
}

/**
 * appendAt()'s one rule, shared by every engine: the next offset, or any
 * later one while the stream holds nothing. Throws MG_ERR_STREAM_INVALID.
 */
export function checkAppendAt(stream: string, offset: number, appendedLast: number, empty: boolean): void {
  if (!Number.isSafeInteger(offset) || offset < 1)
    throw new MeshError('MG_ERR_STREAM_INVALID', `stream ${stream}: offset ${offset} is not a whole number >= 1`);
  if (offset === appendedLast + 1 || (empty && offset > appendedLast)) return;
  throw new MeshError(
    'MG_ERR_STREAM_INVALID',
    `stream ${stream}: cannot append at offset ${offset}: the next offset is ${appendedLast + 1}${empty ? '' : ' (a later one only while the stream is empty)'}`,
  );
}
