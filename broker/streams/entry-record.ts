/**
 * One stored entry, as lmdb keeps it:
 *
 *   0        8          10              10+n
 *   ┌────────┬──────────┬───────────────┬──────────────┐
 *   │ time   │ topic    │ topic (UTF-8, │ entry bytes  │
 *   │ f64 BE │ len u16  │ n bytes)      │ (opaque)     │
 *   └────────┴──────────┴───────────────┴──────────────┘
 *
 * Its length is what retention by bytes counts.
 */
import type { StreamEntry } from './stream-store.js';

export const RECORD_HEADER_BYTES = 10;

export function encodeRecord(time: number, topic: string, bytes: Uint8Array): Buffer {
  const topicLen = Buffer.byteLength(topic);
  const rec = Buffer.allocUnsafe(RECORD_HEADER_BYTES + topicLen + bytes.length);
  rec.writeDoubleBE(time, 0);
  rec.writeUInt16BE(topicLen, 8);
  rec.write(topic, RECORD_HEADER_BYTES, 'utf8');
  rec.set(bytes, RECORD_HEADER_BYTES + topicLen);
  return rec;
}

export function recordTime(rec: Uint8Array): number {
  return new DataView(rec.buffer, rec.byteOffset, 8).getFloat64(0);
}

/** A view over `rec` (which must outlive the entry); null when the record is cut short. */
export function decodeRecord(offset: number, rec: Buffer): StreamEntry | null {
  if (rec.length < RECORD_HEADER_BYTES) return null;
  const topicLen = rec.readUInt16BE(8);
  if (rec.length < RECORD_HEADER_BYTES + topicLen) return null;
  return {
    offset,
    time: rec.readDoubleBE(0),
    topic: rec.toString('utf8', RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + topicLen),
    bytes: rec.subarray(RECORD_HEADER_BYTES + topicLen),
  };
}
