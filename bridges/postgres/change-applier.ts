import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { MeshEvent } from '../../broker/mod.js';
import { CHANGE_EVENT_TYPE } from './change-event.js';
import type { PgSinkSpec, PgSinkTarget } from './sink-config.js';

/** A change event as the applier needs it (schemas/db-change-event.schema.json, plus the mesh's stamps). */
export interface DecodedChange {
  readonly op: 'c' | 'u' | 'd' | 'r';
  readonly schema: string;
  readonly table: string;
  readonly before: Record<string, unknown> | null;
  readonly after: Record<string, unknown> | null;
  /** Columns the source left out of `after` (unchanged TOAST): never overwritten. */
  readonly unchangedToast: readonly string[];
  /** `mghlc`: the version of the row this change writes. */
  readonly hlc: string;
  /** `mgorigin`: breaks ties between equal stamps of two nodes. */
  readonly origin: string;
  /** CloudEvents `source`: the captured database. */
  readonly source: string;
  /** Commit time at the source, ms. */
  readonly commitMs: number;
}

/** Reads a change event; a string says why it is not one. */
export function decodeChange(event: MeshEvent): DecodedChange | string {
  if (event.type !== CHANGE_EVENT_TYPE) return `type ${JSON.stringify(event.type)} is not ${CHANGE_EVENT_TYPE}`;
  if (event.hlc === undefined || event.origin === undefined) return 'no mghlc/mgorigin stamp (the mesh writes them at the first node)';
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(Buffer.from(event.data ?? new Uint8Array(0)).toString('utf8')) as Record<string, unknown>;
  } catch {
    return 'data is not JSON';
  }
  const src = d?.source as Record<string, unknown> | undefined;
  const op = d?.op;
  if (op !== 'c' && op !== 'u' && op !== 'd' && op !== 'r') return `op ${JSON.stringify(op)} is none of c, u, d, r`;
  if (typeof src?.schema !== 'string' || typeof src.table !== 'string') return 'source.schema and source.table are missing';
  const row = (v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);
  const before = row(d.before);
  const after = row(d.after);
  if (op === 'd' ? before === null : after === null) return op === 'd' ? 'a delete without before' : 'a change without after';
  return {
    op,
    schema: src.schema,
    table: src.table,
    before,
    after,
    unchangedToast: Array.isArray(d.unchanged_toast) ? (d.unchanged_toast as string[]) : [],
    hlc: event.hlc,
    origin: event.origin.node,
    source: event.source,
    commitMs: typeof src.ts_ms === 'number' ? src.ts_ms : 0,
  };
}

/** What one change did. */
export type ApplyOutcome =
  /** Written to the target. */
  | 'applied'
  /** Its (hlc, origin) is the row's version already, or the row holds a later change of the same source and node: a redelivery. */
  | 'duplicate'
  /** The row holds a newer version (or tombstone) of another writer: last writer wins, this one is skipped. */
  | 'conflict'
  /** A change of the target itself (captured there): its row is already in the target, only its version is recorded. */
  | 'recorded';

/** The target refused the change: its SQLSTATE and message. Anything else thrown is the connection's, and the batch is retried. */
export class ApplyRefusal extends Error {
  constructor(
    readonly sqlState: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * SQLSTATE classes that are the change's fault, not the connection's:
 * 22 data exception, 23 integrity constraint, 42 a table or column the
 * target does not have. Retrying them would fail the same way forever.
 */
const REFUSED_CLASSES = new Set(['22', '23', '42']);

export function isRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  // 42501 (no privilege) is the set-up's, not the change's: retried until granted, never dead-lettered.
  return typeof code === 'string' && code !== '42501' && REFUSED_CLASSES.has(code.slice(0, 2));
}

interface TargetTable {
  readonly ident: string;
  /** `schema.table`, the key of its row versions. */
  readonly name: string;
  readonly key: readonly string[];
  readonly target: PgSinkTarget;
}

const quote = (id: string) => `"${id.replaceAll('"', '""')}"`;

/** The sink's bookkeeping in the target, created when missing. */
export const SINK_TABLES_DDL = `
CREATE TABLE IF NOT EXISTS public.meshgate_row_version (
  target_table text NOT NULL,
  pk jsonb NOT NULL,
  hlc text NOT NULL,
  origin text NOT NULL,
  source text NOT NULL,
  deleted boolean NOT NULL,
  written boolean NOT NULL,
  PRIMARY KEY (target_table, pk)
);
-- Tables made before 'written' existed: true is the safe guess (own changes are written back).
ALTER TABLE public.meshgate_row_version ADD COLUMN IF NOT EXISTS written boolean NOT NULL DEFAULT true;
CREATE TABLE IF NOT EXISTS public.meshgate_sink_position (
  sink text PRIMARY KEY,
  feed text NOT NULL,
  epoch text NOT NULL,
  "offset" bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);`;

/**
 * Applies change events to target tables, one change at a time inside the
 * caller's transaction (pg-sink.ts opens one per batch, with a savepoint
 * per change):
 *
 * - c, u, r: upsert by primary key of the columns the change carries
 *   (unchanged TOAST columns are not among them); an update that moved the
 *   key deletes the old key first;
 * - d: delete by primary key, leaving a versioned tombstone;
 * - every row's version (hlc, origin) is kept in meshgate_row_version, read
 *   FOR UPDATE and written in the same transaction: a change not newer
 *   than the version is skipped (a duplicate when equal or older than a
 *   later change of the same writer, else a conflict resolved by
 *   last-writer-wins), so a redelivery is applied
 *   once and an older update cannot resurrect a deleted row.
 *
 * Values go through jsonb_populate_record(NULL::target, $1): the target's
 * own input functions convert the JSON the source wrote (ISO times,
 * `\x` bytea, int8 as text), and a value it cannot take is refused by the
 * database with its SQLSTATE.
 */
export class ChangeApplier {
  readonly #spec: PgSinkSpec;
  readonly #targets = new Map<string, TargetTable>();

  constructor(spec: PgSinkSpec) {
    this.#spec = spec;
  }

  /** Forgets what it read from the catalog (after a reconnect: DDL may have changed). */
  reset(): void {
    this.#targets.clear();
  }

  async apply(db: pg.ClientBase, c: DecodedChange): Promise<ApplyOutcome> {
    const t = await this.#target(db, c.schema, c.table);
    const after = c.after === null ? null : this.#mapRow(t, c.after);
    const before = c.before === null ? null : this.#mapRow(t, c.before);
    const own = c.source === this.#spec.sourceUri;
    if (c.op === 'd') return this.#one(db, t, c, own, this.#pk(t, before!), null);
    const pk = this.#pk(t, after!);
    // An update that changed the key: the old key is deleted, under the same version.
    if (c.op === 'u' && before !== null && t.key.every((k) => k in before)) {
      const old = this.#pk(t, before);
      if (old !== pk) await this.#one(db, t, c, own, old, null);
    }
    return this.#one(db, t, c, own, pk, after);
  }

  async #one(db: pg.ClientBase, t: TargetTable, c: DecodedChange, own: boolean, pk: string, row: Record<string, unknown> | null): Promise<ApplyOutcome> {
    const v = await db.query<{ hlc: string; origin: string; source: string; written: boolean }>({
      name: 'mg_version_read',
      text: 'SELECT hlc, origin, source, written FROM public.meshgate_row_version WHERE target_table = $1 AND pk = $2::jsonb FOR UPDATE',
      values: [t.name, pk],
    });
    const had = v.rows[0];
    if (had !== undefined) {
      const order = had.hlc < c.hlc ? -1 : had.hlc > c.hlc ? 1 : had.origin < c.origin ? -1 : had.origin > c.origin ? 1 : 0;
      if (order === 0) return 'duplicate';
      // Older than a later change of the same writer: a redelivery after that one; older than another writer's: a conflict lost.
      if (order > 0) return had.origin === c.origin && had.source === c.source ? 'duplicate' : 'conflict';
    }
    // Own changes: the row is as the target's own writes left it, unless the sink ever wrote
    // it (a change from elsewhere, or an own row written back over one): from then on, the
    // row in the target may be an older write of the sink's, so every newer change is written.
    const write = !own || had?.written === true;
    if (write) {
      if (row === null) await this.#delete(db, t, pk);
      else await this.#upsert(db, t, row);
    }
    await db.query({
      name: 'mg_version_write',
      text: `INSERT INTO public.meshgate_row_version (target_table, pk, hlc, origin, source, deleted, written) VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7)
             ON CONFLICT (target_table, pk) DO UPDATE SET hlc = EXCLUDED.hlc, origin = EXCLUDED.origin, source = EXCLUDED.source, deleted = EXCLUDED.deleted, written = EXCLUDED.written`,
      values: [t.name, pk, c.hlc, c.origin, c.source, row === null, write],
    });
    return write ? 'applied' : 'recorded';
  }

  async #upsert(db: pg.ClientBase, t: TargetTable, row: Record<string, unknown>): Promise<void> {
    const cols = Object.keys(row).sort();
    const list = cols.map(quote).join(', ');
    const rest = cols.filter((c) => !t.key.includes(c));
    const onConflict = rest.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${rest.map((c) => `${quote(c)} = EXCLUDED.${quote(c)}`).join(', ')}`;
    const text = `INSERT INTO ${t.ident} (${list}) SELECT ${list} FROM jsonb_populate_record(NULL::${t.ident}, $1::jsonb) ON CONFLICT (${t.key.map(quote).join(', ')}) ${onConflict}`;
    await db.query({ name: statementName(text), text, values: [JSON.stringify(row)] });
  }

  async #delete(db: pg.ClientBase, t: TargetTable, pk: string): Promise<void> {
    const keys = t.key.map(quote).join(', ');
    const text = `DELETE FROM ${t.ident} WHERE (${keys}) = (SELECT ${keys} FROM jsonb_populate_record(NULL::${t.ident}, $1::jsonb))`;
    await db.query({ name: statementName(text), text, values: [pk] });
  }

  /** The row with target column names; unchanged TOAST columns are already absent from it. */
  #mapRow(t: TargetTable, row: Record<string, unknown>): Record<string, unknown> {
    if (t.target.columns.size === 0) return row;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) out[t.target.columns.get(k) ?? k] = v;
    return out;
  }

  /** The row's key as canonical JSON text (key columns in key order): the row's identity in meshgate_row_version. */
  #pk(t: TargetTable, row: Record<string, unknown>): string {
    const key: Record<string, unknown> = {};
    for (const k of t.key) {
      if (!(k in row)) throw new ApplyRefusal('23502', `the change carries no value for key column ${k} of ${t.name}`);
      key[k] = row[k];
    }
    return JSON.stringify(key);
  }

  async #target(db: pg.ClientBase, schema: string, table: string): Promise<TargetTable> {
    const from = `${schema}.${table}`;
    const cached = this.#targets.get(from);
    if (cached !== undefined) return cached;
    const target = this.#spec.tables.get(from) ?? { schema, table, columns: new Map() };
    const ident = `${quote(target.schema)}.${quote(target.table)}`;
    const r = await db.query<{ attname: string }>(
      `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
       WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`,
      [ident],
    );
    if (r.rows.length === 0) throw new ApplyRefusal('42P10', `target table ${target.schema}.${target.table} has no primary key; fix: add one`);
    const t: TargetTable = { ident, name: `${target.schema}.${target.table}`, key: r.rows.map((x) => x.attname), target };
    this.#targets.set(from, t);
    return t;
  }
}

/** pg prepares a named statement once per connection: one name per text. */
function statementName(text: string): string {
  return `mg_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
}
