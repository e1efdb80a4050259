import { checkFilter } from '../../routing/mod.js';
import { checkBackoff, checkPgEntry, invalid, pgNames } from './config.js';

/** A target of `tables`: a table name, or the table and a column mapping. */
export type PgSinkTableEntry = string | { readonly table: string; readonly columns?: Readonly<Record<string, string>> };

/** One `bridges[]` entry of type `postgres-sink` (schemas/config.schema.json has checked the types). */
export interface PgSinkEntry {
  readonly type: 'postgres-sink';
  /** postgres://user:password@host:port/database of the target. */
  readonly url: string;
  readonly name?: string;
  /** Mesh topic filter of the change events applied, e.g. `db.public.orders.>`. */
  readonly filter: string;
  /** Source `schema.table` -> target table (`schema.table` or `table` in public), optionally with source column -> target column. */
  readonly tables?: Readonly<Record<string, PgSinkTableEntry>>;
  /** The local stream read; created for `filter` when missing. @default `pgsink-<name>` */
  readonly stream?: string;
  readonly batchSize?: number;
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
}

/** Where a source table's changes land. */
export interface PgSinkTarget {
  readonly schema: string;
  readonly table: string;
  /** Source column -> target column; a column not listed keeps its name. */
  readonly columns: ReadonlyMap<string, string>;
}

/** A checked, defaulted postgres-sink entry. Built once at start-up. */
export interface PgSinkSpec {
  readonly index: number;
  /** @default `postgres-sink-${index}` */
  readonly name: string;
  readonly url: string;
  readonly displayUrl: string;
  readonly database: string;
  /**
   * The target as a postgres-source names it (`postgres://host:port/db`): a
   * change that came from this very database is already in it, and is only
   * recorded (pg-sink.ts, "own changes").
   */
  readonly sourceUri: string;
  readonly filter: string;
  /** Source `schema.table` -> target. Tables not listed map to the same name. */
  readonly tables: ReadonlyMap<string, PgSinkTarget>;
  readonly stream: string;
  /** Replication origin of the sink's sessions: `meshgate_<name>`. */
  readonly origin: string;
  /** Most changes per target transaction. @default 500 */
  readonly batchSize: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
}

export const PG_SINK_DEFAULTS = Object.freeze({ batchSize: 500, backoffMinMs: 100, backoffMaxMs: 5000 });

const IDENT = /^[a-z_][a-z0-9_$]{0,62}$/;
const STREAM = /^[A-Za-z0-9_-]{1,64}$/;
const KEYS: ReadonlySet<string> = new Set(['type', 'url', 'name', 'filter', 'tables', 'stream', 'batchSize', 'backoffMinMs', 'backoffMaxMs']);

function qualified(text: unknown): { schema: string; table: string } | null {
  if (typeof text !== 'string') return null;
  const parts = text.split('.');
  if (parts.length === 1 && IDENT.test(parts[0])) return { schema: 'public', table: parts[0] };
  if (parts.length === 2 && IDENT.test(parts[0]) && IDENT.test(parts[1])) return { schema: parts[0], table: parts[1] };
  return null;
}

/**
 * Checks one entry beyond the JSON Schema and fills in the defaults. What
 * only the target can answer (tables, keys, column types) is found out per
 * change: a change it refuses is dead-lettered, not a start-up failure.
 * Throws MeshError MG_ERR_CONFIG_INVALID naming the key and the fix.
 *
 * @example
 * resolvePgSink({ type: 'postgres-sink', url: 'postgres://apply@127.0.0.1/shop', filter: 'db.public.orders.>' }, 1);
 */
export function resolvePgSink(entry: PgSinkEntry, index: number): PgSinkSpec {
  const at = `bridges[${index}]`;
  const { url, database } = checkPgEntry(entry, KEYS, at);
  if (typeof entry.filter !== 'string' || entry.filter === '') throw invalid(`${at}.filter`, `is required; fix: e.g. filter: 'db.public.orders.>'`);
  const problem = checkFilter(entry.filter);
  if (problem !== null) throw invalid(`${at}.filter`, `${problem.message}; fix: e.g. db.public.orders.>`);
  const tables = new Map<string, PgSinkTarget>();
  for (const [source, target] of Object.entries(entry.tables ?? {})) {
    const key = `${at}.tables.${source}`;
    const s = qualified(source);
    if (s === null || !source.includes('.')) throw invalid(key, `expected a source schema.table in lower case, e.g. public.orders`);
    const named = typeof target === 'string' ? target : target?.table;
    const t = qualified(named);
    if (t === null)
      throw invalid(key, `expected a target table (schema.table or table, lower case), got ${JSON.stringify(named)}; fix: e.g. public.orders_copy`);
    const columns = new Map<string, string>();
    const given = typeof target === 'string' ? {} : (target.columns ?? {});
    for (const [from, to] of Object.entries(given)) {
      if (!IDENT.test(from) || typeof to !== 'string' || !IDENT.test(to)) {
        throw invalid(`${key}.columns.${from}`, `expected source column -> target column, both lower-case identifiers; fix: e.g. { qty: quantity }`);
      }
      columns.set(from, to);
    }
    tables.set(`${s.schema}.${s.table}`, Object.freeze({ ...t, columns }));
  }
  const name = entry.name ?? `postgres-sink-${index}`;
  const safe = name.replace(/[^A-Za-z0-9_-]/g, '_');
  const stream = entry.stream ?? `pgsink-${safe}`.slice(0, 64);
  if (!STREAM.test(stream)) throw invalid(`${at}.stream`, `expected 1-64 of A-Z a-z 0-9 _ -, got ${JSON.stringify(stream)}; fix: e.g. orders-apply`);
  const batchSize = entry.batchSize ?? PG_SINK_DEFAULTS.batchSize;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalid(`${at}.batchSize`, `expected a whole number >= 1, got ${batchSize}; fix: e.g. 500`);
  const { backoffMinMs, backoffMaxMs } = checkBackoff(entry, PG_SINK_DEFAULTS, at);
  return Object.freeze({
    index,
    name,
    url: entry.url,
    ...pgNames(url, database),
    database,
    filter: entry.filter,
    tables,
    stream,
    origin: `meshgate_${safe}`,
    batchSize,
    backoffMinMs,
    backoffMaxMs,
  });
}
