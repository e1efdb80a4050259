/**
 * PostgreSQL log sequence numbers. An LSN is a 64-bit byte position in the
 * write-ahead log, written `X/Y` (two hex halves). Kept as `bigint`: past
 * 2^53 bytes of WAL a `number` would silently round, and a rounded
 * confirmation could skip a transaction.
 */
export type Lsn = bigint;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Parses `16/B374D848`; throws on anything else. */
export function parseLsn(text: string): Lsn {
  const m = LSN_TEXT.exec(text);
  if (m === null) throw new Error(`not an LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** `16/B374D848`, the form PostgreSQL prints and accepts. */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Fixed-width hex, so ids sort as the log does. */
export function lsnKey(lsn: Lsn): string {
  return lsn.toString(16).toUpperCase().padStart(16, '0');
}
