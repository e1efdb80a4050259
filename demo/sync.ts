/**
 * `npm run demo -- --sync`: two PostgreSQL databases in two regions kept
 * equal through the mesh, both ways.
 *
 *   east db ──postgres-source──> node eu ═══ peer link ═══ node us <──postgres-source── west db
 *   east db <──postgres-sink──── node eu                    node us ────postgres-sink──> west db
 *
 * A workload of inserts, updates and deletes runs on both databases at
 * once (--rate changes/s on each side, over --rows keys, so the two sides
 * often write the same row: conflicts, resolved last-writer-wins by the
 * hybrid logical clock). Every 2 s a line per region counts the changes
 * captured, applied, conflicts resolved and the apply lag; the console
 * (/console on eu) shows both nodes, their bridges and the link. Ctrl-C
 * (or --seconds N) stops the writers, waits until both databases hold the
 * same rows, prints the comparison, and stops the nodes and databases.
 *
 * The databases are throwaway clusters (initdb as the `postgres` OS user
 * on free 127.0.0.1 ports, as the tests start them): Debian's postgresql
 * package must be installed (`npm test` installs it).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type PostgresHandle, startPostgres } from './postgres-cluster.js';

const CLI = fileURLToPath(new URL('../bin/meshgate.js', import.meta.url));
const HOST = '127.0.0.1';
const DB = 'shop';
const TABLE = 'CREATE TABLE public.orders (id int PRIMARY KEY, qty int NOT NULL, note text NOT NULL)';

export interface SyncOptions {
  /** Changes per second on each side. */
  readonly rate: number;
  /** Keys the writers pick from: fewer keys, more conflicts. */
  readonly rows: number;
  /** Stop by itself after this many seconds; 0: on Ctrl-C only. */
  readonly seconds: number;
}

interface Region {
  readonly id: string;
  readonly db: PostgresHandle;
  readonly port: number;
  child?: ChildProcess;
  writer?: pg.Client;
  written: number;
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, HOST);
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function startRegion(r: Region, peer: Region | null, dir: string): Promise<void> {
  const url = r.db.url(DB);
  const file = join(dir, `${r.id}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      node: { id: r.id, region: r.id },
      listen: { host: HOST, port: r.port },
      mesh: { key: 'meshgate-sync-demo', peers: peer === null ? [] : [`ws://${HOST}:${peer.port}`] },
      storage: { dir: join(dir, r.id) },
      bridges: [
        { type: 'postgres-source', name: 'capture', url, tables: ['public.orders'], slot: `sync_${r.id}` },
        { type: 'postgres-sink', name: 'apply', url, filter: 'db.public.orders.>' },
      ],
    }),
  );
  const child = spawn(process.execPath, [CLI, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  r.child = child;
  child.stderr!.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line.trim() !== '') process.stderr.write(`[${r.id}] ${line}\n`);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (!out.includes(' ready\n')) return;
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      resolve();
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`node ${r.id} exited with ${code} before it was ready:\n${out}`)));
  });
}

async function bridges(r: Region): Promise<Record<string, Record<string, unknown>>> {
  const res = await fetch(`http://${HOST}:${r.port}/v1/bridges`);
  const body = (await res.json()) as { bridges: Array<Record<string, unknown>> };
  return Object.fromEntries(body.bridges.map((b) => [String(b.name), b]));
}

/** Every row in key order as one text: two tables are equal row for row when these are. */
async function rowsOf(r: Region): Promise<string> {
  const q = await r.db.sql<{ t: string | null }>("SELECT string_agg(format('%s:%s:%s', id, qty, note), ',' ORDER BY id) AS t FROM orders", [], DB);
  return q.rows[0].t ?? '';
}

/** One random change on `r`: insert a missing key, or update or delete a present one. */
async function change(r: Region, rows: number, seq: number): Promise<void> {
  const id = 1 + Math.floor(Math.random() * rows);
  const roll = Math.random();
  const c = r.writer!;
  if (roll < 0.15) await c.query('DELETE FROM orders WHERE id = $1', [id]);
  else
    await c.query('INSERT INTO orders VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET qty = orders.qty + 1, note = EXCLUDED.note', [
      id,
      1,
      `${r.id}-${seq}`,
    ]);
  r.written++;
}

export async function runSync(o: SyncOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'meshgate-sync-demo-'));
  process.stdout.write('starting two PostgreSQL clusters (initdb, wal_level=logical) ...\n');
  const [east, west] = await Promise.all([startPostgres(), startPostgres()]);
  const regions: Region[] = [
    { id: 'eu', db: east, port: await freePort(), written: 0 },
    { id: 'us', db: west, port: await freePort(), written: 0 },
  ];
  let stopping: Promise<void> | null = null;
  let writing = true;
  const stop = (why: string): Promise<void> =>
    (stopping ??= (async () => {
      writing = false;
      process.stdout.write(`\n${why}: stopping the writers, waiting for both databases to agree\n`);
      try {
        const deadline = Date.now() + 30_000;
        let equal = false;
        while (!equal && Date.now() < deadline && regions.every((r) => r.child?.exitCode === null)) {
          const [a, b] = await Promise.all(regions.map(rowsOf));
          equal = a === b;
          if (!equal) await new Promise((r) => setTimeout(r, 250));
        }
        const [a] = await Promise.all(regions.map(rowsOf));
        const count = a === '' ? 0 : a.split(',').length;
        process.stdout.write(equal ? `converged: both databases hold the same ${count} rows\n` : 'NOT converged within 30 s: see the lines above\n');
      } catch (err) {
        process.stdout.write(`could not compare the databases: ${(err as Error).message}\n`);
      }
      for (const r of regions) await r.writer?.end().catch(() => {});
      await Promise.all(
        regions.map(async (r) => {
          const child = r.child;
          if (child === undefined || child.exitCode !== null) return;
          child.kill('SIGTERM');
          await new Promise((res) => child.once('exit', res));
        }),
      );
      await Promise.all([east.stop(), west.stop()]);
      rmSync(dir, { recursive: true, force: true });
      process.stdout.write('demo stopped\n');
    })());
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  for (const r of regions) await r.db.sql(`CREATE DATABASE ${DB}`).then(() => r.db.sql(TABLE, [], DB));
  await startRegion(regions[1], null, dir);
  await startRegion(regions[0], regions[1], dir);
  for (const r of regions) {
    r.child!.once('exit', (code) => void stop(`node ${r.id} exited (${code})`));
    r.writer = new pg.Client({ connectionString: r.db.url(DB) });
    await r.writer.connect();
  }
  process.stdout.write(
    `two regions in sync, both ways:\n` +
      `  eu  node http://${HOST}:${regions[0].port}  database ${east.url(DB)}\n` +
      `  us  node http://${HOST}:${regions[1].port}  database ${west.url(DB)}\n` +
      `  console: http://${HOST}:${regions[0].port}/console   (Ctrl-C stops)\n` +
      `  writers: ${o.rate} changes/s on each side over ${o.rows} keys\n`,
  );

  // The writers: paced, one statement per transaction, both sides at once.
  for (const r of regions) {
    void (async () => {
      const t0 = Date.now();
      for (let seq = 1; writing; seq++) {
        await change(r, o.rows, seq).catch((err: Error) => {
          if (writing) process.stderr.write(`[${r.id} writer] ${err.message}\n`);
        });
        const wait = t0 + (seq * 1000) / o.rate - Date.now();
        if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      }
    })();
  }
  const report = setInterval(() => {
    void Promise.all(regions.map(bridges)).then(
      (all) => {
        const lines = regions.map((r, i) => {
          const { capture, apply } = all[i] as Record<string, Record<string, number>>;
          return `${r.id}: written ${r.written}, captured ${capture?.captured ?? 0}, applied ${apply?.applied ?? 0}, conflicts ${apply?.conflicts ?? 0}, own ${apply?.ownRecorded ?? 0}, lag ${apply?.applyLagMs ?? 0} ms`;
        });
        if (!stopping) process.stdout.write(`${lines.join('   |   ')}\n`);
      },
      () => {},
    );
  }, 2000);
  if (o.seconds > 0) setTimeout(() => void stop(`${o.seconds} s`), o.seconds * 1000);
  await new Promise<void>((resolve) => {
    const wait = setInterval(() => {
      if (stopping === null) return;
      clearInterval(wait);
      void stopping.then(resolve);
    }, 100);
  });
  clearInterval(report);
}
