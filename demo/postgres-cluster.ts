/**
 * A throwaway PostgreSQL cluster, for the sync demo and for the tests (one
 * per test file, through test/helpers/postgres.ts): initdb into a temp dir
 * owned by the `postgres` OS user (the demo and tests run as root, and
 * PostgreSQL refuses to run as root), wal_level=logical, trust auth on
 * 127.0.0.1, a free port.
 * Stopped (pg_ctl stop -m fast, then SIGKILL) and removed at the end.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface PostgresHandle {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:<port>/<db> (superuser, trust). */
  url(db?: string, user?: string): string;
  /** Runs SQL as the superuser on `db` and closes the connection. */
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[], db?: string): Promise<pg.QueryResult<T>>;
  /** Stops the server (fast: open sessions are cut) and starts it again on the same port and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) throw new Error('PostgreSQL is not installed (/usr/lib/postgresql); scripts/ensure-debian-deps.sh installs it');
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  return join(base, versions[0], 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (line === undefined) throw new Error('no postgres OS user (the Debian postgresql package creates it)');
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

export async function startPostgres(): Promise<PostgresHandle> {
  const bin = binDir();
  // Straight under /tmp, not the run's MESHGATE_TEST_TMP: that one is root's 0700 directory, which the postgres user cannot enter.
  const root = mkdtempSync(join(tmpdir(), 'meshgate-pg-'));
  const data = join(root, 'data');
  const { uid, gid } = postgresIds();
  chownSync(root, uid, gid);
  const asPg = { uid, gid, env: { ...process.env, LC_ALL: 'C' } };
  await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], asPg);
  writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n');
  chownSync(join(data, 'pg_hba.conf'), uid, gid);
  const port = await freePort();
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${root} -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  await run(join(bin, 'pg_ctl'), ['-D', data, '-o', opts, '-l', join(root, 'log'), '-w', '-t', '30', 'start'], asPg);
  const pidFile = join(data, 'postmaster.pid');
  const readPid = () => Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  let pid = readPid();
  const url = (db = 'postgres', user = 'postgres') => `postgres://${user}@127.0.0.1:${port}/${db}`;
  let stopped: Promise<void> | undefined;
  return {
    port,
    url,
    async sql(text, params, db = 'postgres') {
      const c = new pg.Client({ connectionString: url(db) });
      await c.connect();
      try {
        return await c.query(text, params);
      } finally {
        await c.end();
      }
    },
    async restart() {
      await run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '30', '-l', join(root, 'log'), 'restart'], asPg);
      pid = readPid();
    },
    stop() {
      stopped ??= (async () => {
        await run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '10', 'stop'], asPg).catch(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        });
        rmSync(root, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
