import { createHash } from 'node:crypto';
import { MeshError } from '../../broker/mod.js';
import { checkTopic } from '../../routing/mod.js';

/** One `bridges[]` entry of type `postgres-source` (schemas/config.schema.json has checked the types). */
export interface PgSourceEntry {
  readonly type: 'postgres-source';
  /** postgres://user:password@host:port/database */
  readonly url: string;
  readonly name?: string;
  /** Captured tables, `schema.table`. */
  readonly tables: readonly string[];
  readonly slot?: string;
  readonly publication?: string;
  readonly topic?: string;
  readonly snapshot?: boolean;
  readonly snapshotChunkRows?: number;
  readonly heartbeatMs?: number;
  readonly maxInFlight?: number;
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
}

/** A captured table. */
export interface PgTable {
  readonly schema: string;
  readonly table: string;
}

/** A checked, defaulted postgres-source entry. Built once at start-up. */
export interface PgSourceSpec {
  readonly index: number;
  /** Label in /v1/bridges and metrics. @default `postgres-source-${index}` */
  readonly name: string;
  /** As configured, credentials included: only the pg client sees it. */
  readonly url: string;
  /** Without credentials, for status and logs. */
  readonly displayUrl: string;
  /** CloudEvents `source` of every change: `postgres://host:port/database`, the same on every node capturing it. */
  readonly sourceUri: string;
  readonly database: string;
  readonly tables: readonly PgTable[];
  /** Permanent logical replication slot. @default `meshgate_<hash of node id and bridge name>` */
  readonly slot: string;
  /** Publication of the tables. @default the slot name */
  readonly publication: string;
  /** Topic template with `{schema}`, `{table}`, `{op}` (c, u, d, r). @default 'db.{schema}.{table}.{op}' */
  readonly topic: string;
  /** Read the existing rows (op r) when the slot is created. @default true */
  readonly snapshot: boolean;
  /** Rows per snapshot query (primary-key order). @default 1000 */
  readonly snapshotChunkRows: number;
  /** An idle slot asks the server for its WAL position this often and confirms it, ms. @default 10_000 */
  readonly heartbeatMs: number;
  /** Changes ingested but not yet stored (streams) before the replication stream is paused. @default 10_000 */
  readonly maxInFlight: number;
  /** First reconnect delay, ms. @default 100 */
  readonly backoffMinMs: number;
  /** Longest reconnect delay, ms. @default 5000 */
  readonly backoffMaxMs: number;
}

export const PG_SOURCE_DEFAULTS = Object.freeze({
  topic: 'db.{schema}.{table}.{op}',
  snapshot: true,
  snapshotChunkRows: 1000,
  heartbeatMs: 10_000,
  maxInFlight: 10_000,
  backoffMinMs: 100,
  backoffMaxMs: 5000,
});

/** Unquoted PostgreSQL identifiers (folded to lower case by the server), so names in config and catalog agree. */
const IDENT = /^[a-z_][a-z0-9_$]{0,62}$/;
const SLOT = /^[a-z0-9_]{1,63}$/;
const PLACEHOLDER = /\{([^}]*)\}/g;
const PLACEHOLDERS = new Set(['schema', 'table', 'op']);
const PG_KEYS: ReadonlySet<string> = new Set([
  'type',
  'url',
  'name',
  'tables',
  'slot',
  'publication',
  'topic',
  'snapshot',
  'snapshotChunkRows',
  'heartbeatMs',
  'maxInFlight',
  'backoffMinMs',
  'backoffMaxMs',
]);

export function invalid(key: string, message: string, options?: ErrorOptions): MeshError {
  return new MeshError('MG_ERR_CONFIG_INVALID', `invalid configuration:\n  ${key}: ${message}`, options);
}

/** Fills the topic template for one change. */
export function changeTopic(template: string, table: PgTable, op: string): string {
  return template.replace(PLACEHOLDER, (_, k: string) => (k === 'schema' ? table.schema : k === 'table' ? table.table : op));
}

/**
 * The checks every postgres-* entry shares: no key its type does not take,
 * and a postgres:// URL naming a host and a database. Throws MeshError
 * MG_ERR_CONFIG_INVALID naming the key and the fix.
 */
export function checkPgEntry(entry: { readonly type: string; readonly url: string }, keys: ReadonlySet<string>, at: string): { url: URL; database: string } {
  for (const key of Object.keys(entry)) {
    if (!keys.has(key)) throw invalid(`${at}.${key}`, `does not apply to ${entry.type} bridges; fix: remove it`);
  }
  let url: URL;
  try {
    url = new URL(entry.url);
  } catch {
    throw invalid(`${at}.url`, `not a URL, got ${JSON.stringify(entry.url)}; fix: e.g. postgres://user@127.0.0.1:5432/database`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw invalid(`${at}.url`, `scheme ${url.protocol}// does not fit type ${entry.type}; fix: use postgres:// or postgresql://`);
  }
  if (url.hostname === '') throw invalid(`${at}.url`, `no host in the URL; fix: e.g. postgres://user@127.0.0.1:5432/database`);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) {
    throw invalid(`${at}.url`, `names no database (the path); fix: e.g. postgres://user@${url.host}/database`);
  }
  return { url, database };
}

/** backoffMinMs/backoffMaxMs with their defaults; the max may not be under the min. */
export function checkBackoff(
  entry: { readonly backoffMinMs?: number; readonly backoffMaxMs?: number },
  defaults: { readonly backoffMinMs: number; readonly backoffMaxMs: number },
  at: string,
): { backoffMinMs: number; backoffMaxMs: number } {
  const backoffMinMs = entry.backoffMinMs ?? defaults.backoffMinMs;
  const backoffMaxMs = entry.backoffMaxMs ?? defaults.backoffMaxMs;
  if (backoffMaxMs < backoffMinMs) throw invalid(`${at}.backoffMaxMs`, `must be >= backoffMinMs (${backoffMinMs}), got ${backoffMaxMs}; fix: raise it`);
  return { backoffMinMs, backoffMaxMs };
}

/**
 * How a database is shown (its URL without the password) and named in
 * change events' `source.db` (`postgres://host:port/db`, the same for a
 * source and a sink on one database, so a sink knows its own changes).
 */
export function pgNames(url: URL, database: string): { displayUrl: string; sourceUri: string } {
  const display = new URL(url.href);
  display.password = '';
  const port = url.port === '' ? 5432 : Number(url.port);
  return { displayUrl: display.href, sourceUri: `postgres://${url.hostname}:${port}/${encodeURIComponent(database)}` };
}

/**
 * Checks one entry beyond the JSON Schema and fills in the defaults. What
 * only the database can answer (reachable, REPLICATION, wal_level, tables
 * exist) is checked by the source at start (setup.ts).
 * Throws MeshError MG_ERR_CONFIG_INVALID naming the key and the fix.
 *
 * @example
 * resolvePgSource({ type: 'postgres-source', url: 'postgres://cdc@127.0.0.1/shop', tables: ['public.orders'] }, 0, 'eu-1');
 */
export function resolvePgSource(entry: PgSourceEntry, index: number, nodeId: string): PgSourceSpec {
  const at = `bridges[${index}]`;
  const { url, database } = checkPgEntry(entry, PG_KEYS, at);
  if (!Array.isArray(entry.tables) || entry.tables.length === 0) {
    throw invalid(`${at}.tables`, `lists no table; fix: e.g. tables: ['public.orders']`);
  }
  const seen = new Set<string>();
  const tables = entry.tables.map((t, i): PgTable => {
    const parts = typeof t === 'string' ? t.split('.') : [];
    if (parts.length !== 2 || !IDENT.test(parts[0]) || !IDENT.test(parts[1])) {
      throw invalid(`${at}.tables[${i}]`, `expected schema.table in lower case (unquoted identifiers), got ${JSON.stringify(t)}; fix: e.g. public.orders`);
    }
    if (seen.has(t)) throw invalid(`${at}.tables[${i}]`, `${t} is listed twice; fix: list each table once`);
    seen.add(t);
    return Object.freeze({ schema: parts[0], table: parts[1] });
  });
  const name = entry.name ?? `postgres-source-${index}`;
  const slot = entry.slot ?? `meshgate_${createHash('sha256').update(`${nodeId}\0${name}`).digest('hex').slice(0, 16)}`;
  if (!SLOT.test(slot))
    throw invalid(`${at}.slot`, `must be 1-63 of a-z 0-9 _ (a replication slot name), got ${JSON.stringify(slot)}; fix: e.g. meshgate_shop`);
  const publication = entry.publication ?? slot;
  if (!IDENT.test(publication)) {
    throw invalid(
      `${at}.publication`,
      `must be an unquoted identifier (a-z 0-9 _ $, not starting with a digit), got ${JSON.stringify(publication)}; fix: e.g. meshgate_shop`,
    );
  }
  const topic = entry.topic ?? PG_SOURCE_DEFAULTS.topic;
  for (const [, k] of topic.matchAll(PLACEHOLDER)) {
    if (!PLACEHOLDERS.has(k)) throw invalid(`${at}.topic`, `unknown placeholder {${k}}; fix: use {schema}, {table} and {op} only`);
  }
  for (const t of tables) {
    const problem = checkTopic(changeTopic(topic, t, 'c'));
    if (problem !== null)
      throw invalid(`${at}.topic`, `gives no valid topic for ${t.schema}.${t.table}: ${problem.message}; fix: e.g. db.{schema}.{table}.{op}`);
  }
  const { backoffMinMs, backoffMaxMs } = checkBackoff(entry, PG_SOURCE_DEFAULTS, at);
  return Object.freeze({
    index,
    name,
    url: entry.url,
    ...pgNames(url, database),
    database,
    tables: Object.freeze(tables),
    slot,
    publication,
    topic,
    snapshot: entry.snapshot ?? PG_SOURCE_DEFAULTS.snapshot,
    snapshotChunkRows: entry.snapshotChunkRows ?? PG_SOURCE_DEFAULTS.snapshotChunkRows,
    heartbeatMs: entry.heartbeatMs ?? PG_SOURCE_DEFAULTS.heartbeatMs,
    maxInFlight: entry.maxInFlight ?? PG_SOURCE_DEFAULTS.maxInFlight,
    backoffMinMs,
    backoffMaxMs,
  });
}
