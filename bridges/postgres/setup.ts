import pg from 'pg';
import { invalid, type PgSourceSpec } from './config.js';
import { type Lsn, parseLsn } from './lsn.js';

/** A captured table as the catalog describes it. */
export interface TableInfo {
  readonly schema: string;
  readonly table: string;
  /** Primary key columns in key order: snapshot chunks and `subject`. */
  readonly key: readonly string[];
}

/** The slot as pg_replication_slots shows it. */
export interface SlotRow {
  readonly confirmedFlush: Lsn;
  readonly plugin: string;
  readonly database: string;
}

/** Plain or replication-mode connection; the password never reaches a message. */
export function pgClient(spec: PgSourceSpec, replication = false): pg.Client {
  return new pg.Client({
    connectionString: spec.url,
    ...(replication ? { replication: 'database' } : {}),
    application_name: `meshgate ${spec.name}`,
  } as pg.ClientConfig);
}

/** Connects, turning the driver's failure into the key and the fix. */
export async function connectChecked(spec: PgSourceSpec, replication = false): Promise<pg.Client> {
  const client = pgClient(spec, replication);
  client.on('error', () => undefined);
  const at = `bridges[${spec.index}].url`;
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    const e = err as { code?: string; message: string };
    const why = e.code === undefined ? e.message : `${e.code} ${e.message}`;
    if (e.code === '3D000')
      throw invalid(at, `database ${JSON.stringify(spec.database)} does not exist on ${spec.displayUrl}; fix: name an existing database in the URL path`, {
        cause: err,
      });
    if (e.code === '28P01' || e.code === '28000') {
      throw invalid(
        at,
        `the server refused the login (${why}); fix: the role's name and password in the URL, and a pg_hba.conf line that admits it${replication ? ' for replication connections' : ''}`,
        { cause: err },
      );
    }
    throw invalid(at, `cannot connect to ${spec.displayUrl} (${why}); fix: the host, port and database of a running PostgreSQL server`, { cause: err });
  }
  return client;
}

/**
 * What only the server can answer, checked at start so that a wrong
 * set-up stops the node with the fix instead of a silent capture of
 * nothing: wal_level=logical, a role with REPLICATION, every table there
 * with a primary key. Returns the tables' keys.
 */
export async function checkServer(spec: PgSourceSpec, client: pg.Client): Promise<TableInfo[]> {
  const at = `bridges[${spec.index}]`;
  const wal = (await client.query<{ wal_level: string }>('SHOW wal_level')).rows[0].wal_level;
  if (wal !== 'logical') {
    throw invalid(
      `${at}.url`,
      `the server runs with wal_level=${wal}, logical replication needs wal_level=logical; fix: set wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL`,
    );
  }
  const role = (
    await client.query<{ rolname: string; rolreplication: boolean; rolsuper: boolean }>(
      'SELECT rolname, rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user',
    )
  ).rows[0];
  if (!role.rolreplication && !role.rolsuper) {
    throw invalid(
      `${at}.url`,
      `role ${JSON.stringify(role.rolname)} has no REPLICATION attribute, which a logical replication slot needs; fix: ALTER ROLE ${role.rolname} REPLICATION (as a superuser), or connect as a role that has it`,
    );
  }
  const tables: TableInfo[] = [];
  for (const [i, t] of spec.tables.entries()) {
    const found = await client.query<{ oid: number; relreplident: string }>(
      `SELECT c.oid, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
      [t.schema, t.table],
    );
    if (found.rows.length === 0) {
      throw invalid(
        `${at}.tables[${i}]`,
        `table ${t.schema}.${t.table} does not exist in database ${JSON.stringify(spec.database)}; fix: create it, or correct the name (schema.table, lower case)`,
      );
    }
    const key = await client.query<{ attname: string }>(
      `SELECT a.attname FROM pg_index i JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
       WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.n`,
      [found.rows[0].oid],
    );
    if (key.rows.length === 0) {
      throw invalid(
        `${at}.tables[${i}]`,
        `table ${t.schema}.${t.table} has no primary key: changes could not name their row, nor the snapshot read it in key order; fix: ALTER TABLE ${t.schema}.${t.table} ADD PRIMARY KEY (...)`,
      );
    }
    tables.push({ schema: t.schema, table: t.table, key: key.rows.map((r) => r.attname) });
  }
  return tables;
}

/** Creates the publication when missing and adds tables it lacks; refuses with the fix when the role may not. */
export async function ensurePublication(spec: PgSourceSpec, client: pg.Client, log: (line: string) => void): Promise<void> {
  const at = `bridges[${spec.index}].publication`;
  const names = spec.tables.map((t) => `"${t.schema}"."${t.table}"`);
  const exists = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [spec.publication]);
  try {
    if (exists.rows.length === 0) {
      await client.query(`CREATE PUBLICATION "${spec.publication}" FOR TABLE ${names.join(', ')}`);
      log(`bridge ${spec.name}: created publication ${spec.publication} for ${names.join(', ')}`);
      return;
    }
    const has = await client.query<{ t: string }>("SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1", [
      spec.publication,
    ]);
    const present = new Set(has.rows.map((r) => r.t));
    const missing = spec.tables.filter((t) => !present.has(`${t.schema}.${t.table}`)).map((t) => `"${t.schema}"."${t.table}"`);
    if (missing.length > 0) {
      await client.query(`ALTER PUBLICATION "${spec.publication}" ADD TABLE ${missing.join(', ')}`);
      log(`bridge ${spec.name}: added ${missing.join(', ')} to publication ${spec.publication}`);
    }
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code === '42501') {
      throw invalid(
        at,
        `the role may not create or change publication ${spec.publication} (${e.message}); fix: as the tables' owner run CREATE PUBLICATION ${spec.publication} FOR TABLE ${names.join(', ')}`,
        { cause: err },
      );
    }
    throw err;
  }
}

export async function readSlot(spec: PgSourceSpec, client: pg.Client): Promise<SlotRow | null> {
  const r = await client.query<{ confirmed_flush_lsn: string | null; plugin: string; database: string }>(
    'SELECT confirmed_flush_lsn::text, plugin, database FROM pg_replication_slots WHERE slot_name = $1 AND slot_type = $2',
    [spec.slot, 'logical'],
  );
  if (r.rows.length === 0) return null;
  const row = r.rows[0];
  if (row.plugin !== 'pgoutput' || row.database !== spec.database) {
    throw invalid(
      `bridges[${spec.index}].slot`,
      `slot ${spec.slot} exists for plugin ${row.plugin} on database ${row.database}, not pgoutput on ${spec.database}; fix: name another slot, or drop this one (SELECT pg_drop_replication_slot('${spec.slot}'))`,
    );
  }
  return { confirmedFlush: row.confirmed_flush_lsn === null ? 0n : parseLsn(row.confirmed_flush_lsn), plugin: row.plugin, database: row.database };
}
