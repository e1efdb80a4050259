/**
 * Commit-to-apply between two PostgreSQL clusters, in one run, on the same
 * inserts: PostgreSQL's own logical replication (CREATE SUBSCRIPTION, the
 * anchor) and meshgate (postgres-source on node A -> peer link -> stream and
 * postgres-sink on node B). Both targets fill `applied_at` with
 * clock_timestamp() by default; the source row's `created_at` is its
 * insert time (same machine, same clock), so applied_at - created_at is
 * the commit-to-apply time of each row, as the target saw it.
 *
 * Phases: a burst (BURST rows, transactions of 100: rows/s from the first
 * insert to the last apply) and a paced phase (PACED one-row transactions
 * at PACED_RATE/s: p50/p99 commit-to-apply).
 */
import { type PostgresHandle, startPostgres } from '../test/helpers/postgres.js';
import type { NamedBenchResult } from './bench-result.js';
import { summarize } from './latency.js';
import { freePort, startBenchNode } from './meshgate-load.js';

const BURST = 10_000;
const PACED = 500;
const PACED_RATE = 250;

interface Phase {
  rowsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  lost: number;
}

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Rows [from, to) of the target: rows/s from the first insert to the last apply, and commit-to-apply percentiles. */
async function measure(h: PostgresHandle, db: string, from: number, to: number): Promise<Phase> {
  const r = await h.sql<{ ms: number; c: number; a: number }>(
    `SELECT extract(epoch FROM applied_at - created_at) * 1000 AS ms, extract(epoch FROM created_at) * 1000 AS c, extract(epoch FROM applied_at) * 1000 AS a
     FROM orders WHERE id >= $1 AND id < $2`,
    [from, to],
    db,
  );
  const lat = Float64Array.from(r.rows.map((x) => Number(x.ms)));
  const first = Math.min(...r.rows.map((x) => Number(x.c)));
  const last = Math.max(...r.rows.map((x) => Number(x.a)));
  const s = summarize(lat);
  return { rowsPerSec: r.rows.length / ((last - first) / 1000), p50Ms: s.p50, p99Ms: s.p99, lost: to - from - r.rows.length };
}

async function count(h: PostgresHandle, db: string, from: number, to: number): Promise<number> {
  return Number((await h.sql<{ n: string }>('SELECT count(*) AS n FROM orders WHERE id >= $1 AND id < $2', [from, to], db)).rows[0]!.n);
}

let shared: Promise<{ native: { burst: Phase; paced: Phase }; mesh: { burst: Phase; paced: Phase } }> | null = null;

async function runBoth() {
  const [east, west] = await Promise.all([startPostgres(), startPostgres()]);
  const stops: Array<() => Promise<void>> = [];
  try {
    await east.sql('CREATE DATABASE shop');
    await east.sql('CREATE TABLE orders (id int PRIMARY KEY, qty int NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp())', [], 'shop');
    const target =
      'CREATE TABLE orders (id int PRIMARY KEY, qty int NOT NULL, created_at timestamptz, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())';
    for (const db of ['native', 'mesh']) {
      await west.sql(`CREATE DATABASE ${db}`);
      await west.sql(target, [], db);
    }
    await east.sql('CREATE PUBLICATION bench_native FOR TABLE orders', [], 'shop');
    await west.sql(
      `CREATE SUBSCRIPTION bench_native CONNECTION 'host=127.0.0.1 port=${east.port} dbname=shop user=postgres' PUBLICATION bench_native WITH (copy_data = false)`,
      [],
      'native',
    );
    const [portA, portB] = [await freePort(), await freePort()];
    const b = await startBenchNode(
      'pg-b',
      portB,
      [],
      {},
      { bridges: [{ type: 'postgres-sink', name: 'apply', url: west.url('mesh'), filter: 'db.public.orders.>' }] },
    );
    stops.push(() => b.stop());
    const source = {
      type: 'postgres-source',
      name: 'capture',
      url: east.url('shop'),
      tables: ['public.orders'],
      slot: 'bench_mesh',
      snapshot: false,
      heartbeatMs: 1000,
    };
    const a = await startBenchNode('pg-a', portA, [`ws://127.0.0.1:${portB}`], {}, { bridges: [source] });
    stops.push(() => a.stop());
    await until(
      "node A hears B's interest",
      async () => {
        const routes = (await (await fetch(`http://127.0.0.1:${a.port}/v1/routes`)).json()) as { origins: Array<{ origin: string; filters: string[] }> };
        return routes.origins.some((o) => o.origin === 'pg-b' && o.filters.includes('db.public.orders.>'));
      },
      30_000,
    );
    // The subscription's worker is up once it reports a pid.
    await until(
      'the subscription runs',
      async () => (await west.sql('SELECT 1 FROM pg_stat_subscription WHERE pid IS NOT NULL', [], 'native')).rowCount! > 0,
      30_000,
    );

    for (let i = 0; i < BURST; i += 100)
      await east.sql('INSERT INTO orders (id, qty) SELECT g, g FROM generate_series($1::int, $2::int) g', [i, i + 99], 'shop');
    for (const db of ['native', 'mesh']) await until(`${db} has the burst`, async () => (await count(west, db, 0, BURST)) === BURST, 120_000);
    const pg = await import('pg');
    const writer = new pg.default.Client({ connectionString: east.url('shop') });
    await writer.connect();
    const t0 = performance.now();
    for (let i = 0; i < PACED; i++) {
      await writer.query('INSERT INTO orders (id, qty) VALUES ($1, 0)', [BURST + i]);
      const due = t0 + ((i + 1) * 1000) / PACED_RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await writer.end();
    for (const db of ['native', 'mesh']) await until(`${db} has the paced rows`, async () => (await count(west, db, BURST, BURST + PACED)) === PACED, 60_000);
    const result = {
      native: { burst: await measure(west, 'native', 0, BURST), paced: await measure(west, 'native', BURST, BURST + PACED) },
      mesh: { burst: await measure(west, 'mesh', 0, BURST), paced: await measure(west, 'mesh', BURST, BURST + PACED) },
    };
    await west.sql('DROP SUBSCRIPTION bench_native', [], 'native');
    return result;
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await Promise.all([east.stop(), west.stop()]);
  }
}

function row(name: string, r: { burst: Phase; paced: Phase }): NamedBenchResult {
  return {
    name,
    eventsPerSec: r.burst.rowsPerSec,
    p50Ms: r.paced.p50Ms,
    p99Ms: r.paced.p99Ms,
    serverCpuUsPerEvent: NaN,
    lost: r.burst.lost + r.paced.lost,
    details: { burstP50Ms: r.burst.p50Ms, burstP99Ms: r.burst.p99Ms, ...r },
  };
}

/** PostgreSQL's CREATE SUBSCRIPTION row; runs both (once) and keeps meshgate's for pgApplyMesh(). */
export async function pgApplyNative(): Promise<NamedBenchResult> {
  shared ??= runBoth();
  return row('CREATE SUBSCRIPTION', (await shared).native);
}

/** meshgate's row of the same run. */
export async function pgApplyMesh(): Promise<NamedBenchResult> {
  shared ??= runBoth();
  return row('source -> peer -> sink', (await shared).mesh);
}
