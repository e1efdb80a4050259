import type { MeshEvent } from '../../broker/mod.js';
import { changeTopic, type PgSourceSpec, type PgTable } from './config.js';
import { formatLsn, type Lsn, lsnKey } from './lsn.js';

/** CloudEvents `type` of every captured change. */
export const CHANGE_EVENT_TYPE = 'dev.meshgate.db.change';

export type ChangeOp = 'c' | 'u' | 'd' | 'r';

/** One row change as the source hands it over, before it becomes an event. */
export interface RowChange {
  readonly op: ChangeOp;
  readonly table: PgTable;
  /** Primary key columns, in key order. */
  readonly keyColumns: readonly string[];
  /** Column values as pg parsed them; an unchanged TOAST column is present with the value undefined. */
  readonly before: Record<string, unknown> | null;
  readonly after: Record<string, unknown> | null;
  /** WAL position of this change (the snapshot's consistent point for op r). */
  readonly lsn: Lsn;
  /** Commit LSN of its transaction (the consistent point for op r). */
  readonly commitLsn: Lsn;
  /** Transaction id; null for snapshot reads. */
  readonly txId: number | null;
  /** 1-based position in its transaction (in the snapshot for op r). */
  readonly position: number;
  /** Commit time, ms since the epoch. */
  readonly commitMs: number;
}

const encoder = new TextEncoder();

/** A value as JSON can carry it: bytea as `\x`-hex (PostgreSQL's text form), dates as ISO text, int8 stays text. */
function jsonValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return `\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString();
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(jsonValue);
  return v;
}

/** The row as JSON, and the columns the server did not send (unchanged TOAST): left out, never null. */
function rowJson(row: Record<string, unknown> | null): { row: Record<string, unknown> | null; unchanged: string[] } {
  if (row === null) return { row: null, unchanged: [] };
  const out: Record<string, unknown> = {};
  const unchanged: string[] = [];
  for (const k of Object.keys(row)) {
    const v = row[k];
    if (v === undefined) unchanged.push(k);
    else out[k] = jsonValue(v);
  }
  return { row: out, unchanged };
}

/**
 * The mesh event for one change: the shipped db-change-event envelope
 * (schemas/db-change-event.schema.json) as JSON data.
 *
 * - `id` = `<commit LSN, 16 hex>-<position>` for streamed changes and
 *   `<consistent point>-r-<schema.table>-<n>` for snapshot rows: a replay
 *   from any checkpoint yields the same ids, so the mesh's (topic, source,
 *   id) dedup drops what was already accepted.
 * - `subject` = the primary key, its values joined by `,` (JSON text
 *   for a one-column key that is not text or a number).
 * - extensions `pgtxid`, `pgtxpos` (1-based position in the transaction), `pgcommitlsn`.
 */
export function changeEvent(spec: PgSourceSpec, c: RowChange, nowMs: number): MeshEvent {
  const before = rowJson(c.before);
  const after = rowJson(c.after);
  const keyRow = c.op === 'd' ? before.row : (after.row ?? before.row);
  const subject = c.keyColumns.map((k) => keyText(keyRow?.[k])).join(',');
  const data: Record<string, unknown> = {
    before: before.row,
    after: after.row,
    op: c.op,
    source: {
      connector: 'postgresql',
      name: spec.name,
      db: spec.database,
      schema: c.table.schema,
      table: c.table.table,
      lsn: formatLsn(c.lsn),
      commitLsn: formatLsn(c.commitLsn),
      txId: c.txId,
      ts_ms: c.commitMs,
      snapshot: c.op === 'r',
    },
    ts_ms: nowMs,
    transaction: c.txId === null ? null : { id: String(c.txId), total_order: c.position },
  };
  if (after.unchanged.length > 0) data.unchanged_toast = after.unchanged;
  const commit = lsnKey(c.commitLsn);
  const id = c.op === 'r' ? `${commit}-r-${c.table.schema}.${c.table.table}-${c.position}` : `${commit}-${c.position}`;
  const attrs: Record<string, string> = {
    subject,
    time: new Date(c.commitMs).toISOString(),
    datacontenttype: 'application/json',
    pgcommitlsn: formatLsn(c.commitLsn),
    pgtxpos: String(c.position),
  };
  if (c.txId !== null) attrs.pgtxid = String(c.txId);
  return {
    id,
    source: spec.sourceUri,
    type: CHANGE_EVENT_TYPE,
    topic: changeTopic(spec.topic, c.table, c.op),
    data: encoder.encode(JSON.stringify(data)),
    attrs,
    hops: [],
  };
}

function keyText(v: unknown): string {
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  return JSON.stringify(v ?? null);
}
