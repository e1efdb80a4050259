/**
 * The postgres-sink bridge against a real PostgreSQL 15, source and sink in
 * one in-process node (two databases of one cluster): the target follows the
 * source (column mapping, table rename, unchanged TOAST), a refused change is
 * dead-lettered and the sink goes on, a redelivered change is applied once,
 * last-writer-wins with tombstones, and the source drops the sink's
 * origin-marked transactions. Across nodes and clusters: pg-sink-mesh.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, type TestContext, test } from 'node:test';
import pg from 'pg';
import { createBridges, type RunningBridges } from '../../../bridges/mod.js';
import { ChangeApplier, type DecodedChange, resolvePgSink, SINK_TABLES_DDL } from '../../../bridges/postgres/mod.js';
import { type ConfigLayer, resolveConfig } from '../../../broker/config/mod.js';
import type { MeshEvent, Subscriber } from '../../../broker/mod.js';
import { type RunningNode, startNode } from '../../../broker/node/internal.js';
import { until } from '../../helpers/mesh.js';
import { type PostgresHandle, startPostgres } from '../../helpers/postgres.js';
import { testTmpDir } from '../../helpers/tmp.js';

let pgh: PostgresHandle;
before(async () => {
  pgh = await startPostgres();
});
after(() => pgh?.stop());

let dbCount = 0;
async function freshDb(ddl: string): Promise<string> {
  const db = `s${++dbCount}_${process.pid}`;
  await pgh.sql(`CREATE DATABASE ${db}`);
  await pgh.sql(ddl, [], db);
  return db;
}

/** A trigger counting every row the sink writes: a change applied twice shows as one too many. */
const COUNTER_DDL = `CREATE TABLE apply_count (n bigint NOT NULL); INSERT INTO apply_count VALUES (0);
CREATE FUNCTION count_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE apply_count SET n = n + 1; RETURN NULL; END $$;`;
const countOn = (table: string) => `CREATE TRIGGER counted AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION count_apply();`;

class Collector implements Subscriber {
  readonly format = { name: 'test', binary: true, encode: () => new Uint8Array(0), batch: null };
  readonly all: MeshEvent[] = [];
  deliver(_item: Uint8Array, event: MeshEvent): void {
    this.all.push(event);
  }
}

/** Tests close it at their end too: an earlier after-hook removes the directory, where a running source still writes its checkpoint. */
async function startPair(t: TestContext, dir: string, bridges: Record<string, unknown>[], engine = 'memory'): Promise<RunningNode> {
  const config = resolveConfig({ node: { id: 'pg-node', region: 'test' }, listen: { host: '127.0.0.1', port: 0 } }, {
    storage: { dir, engine },
    bridges,
  } as ConfigLayer);
  const running = await startNode(config, { bridges: createBridges, log: () => undefined });
  t.after(() => running.close());
  return running;
}

const sinkOf = (n: RunningNode) => (n.bridges as RunningBridges).sinks[0];
const sourceOf = (n: RunningNode) => (n.bridges as RunningBridges).sources[0];

async function rows(db: string, query: string): Promise<unknown[]> {
  return (await pgh.sql(query, [], db)).rows;
}

test('the target follows the source: inserts, updates, deletes, a key change, a renamed table and column, and an unchanged TOAST column kept', async (t) => {
  const src = await freshDb('CREATE TABLE public.orders (id int PRIMARY KEY, qty int, note text); ALTER TABLE orders ALTER note SET STORAGE EXTERNAL;');
  const dst = await freshDb('CREATE TABLE public.orders_copy (id int PRIMARY KEY, quantity int, note text);');
  const node = await startPair(t, testTmpDir(t, 'pgsink'), [
    {
      type: 'postgres-sink',
      url: pgh.url(dst),
      filter: 'db.public.orders.>',
      tables: { 'public.orders': { table: 'orders_copy', columns: { qty: 'quantity' } } },
    },
    { type: 'postgres-source', url: pgh.url(src), tables: ['public.orders'], slot: 'sink_a', heartbeatMs: 100 },
  ]);
  const big = 'x'.repeat(20_000);
  await pgh.sql(
    `INSERT INTO orders SELECT g, g, $$n$$ || g FROM generate_series(1, 50) g;
     INSERT INTO orders VALUES (100, 1, repeat('x', 20000));
     UPDATE orders SET qty = qty * 10 WHERE id <= 20;
     DELETE FROM orders WHERE id BETWEEN 41 AND 45;
     UPDATE orders SET qty = 7 WHERE id = 100;
     UPDATE orders SET id = 1000 WHERE id = 50;`,
    [],
    src,
  );
  await until('the sink applied every change', () => sinkOf(node).status().applied === 51 + 20 + 5 + 1 + 1, 20_000);
  assert.deepEqual(
    await rows(dst, 'SELECT id, quantity AS qty, note FROM orders_copy ORDER BY id'),
    await rows(src, 'SELECT id, qty, note FROM orders ORDER BY id'),
  );
  // The TOAST column was left out of the last update's event, and left alone in the target.
  assert.deepEqual(await rows(dst, 'SELECT length(note) AS l, quantity FROM orders_copy WHERE id = 100'), [{ l: big.length, quantity: 7 }]);
  const status = sinkOf(node).status();
  assert.equal(status.duplicates, 0);
  assert.equal(status.conflicts, 0);
  assert.equal(status.deadLettered, 0);
  assert.equal(status.type, 'postgres-sink');
  assert.ok(
    node.bridges!.status().some((s) => s.type === 'postgres-sink' && s.name === 'postgres-sink-0'),
    'in /v1/bridges',
  );
  await node.close();
});

test('a change the target refuses is dead-lettered with the database error, and the sink goes on', async (t) => {
  const src = await freshDb('CREATE TABLE public.orders (id int PRIMARY KEY, qty int);');
  const dst = await freshDb('CREATE TABLE public.orders (id int PRIMARY KEY, qty int CHECK (qty < 1000));');
  const node = await startPair(t, testTmpDir(t, 'pgsink'), [
    { type: 'postgres-sink', url: pgh.url(dst), filter: 'db.public.orders.>' },
    { type: 'postgres-source', url: pgh.url(src), tables: ['public.orders'], slot: 'sink_c', heartbeatMs: 100 },
  ]);
  const letters = new Collector();
  node.node.subscribe('_mg.deadletter.>', letters);
  await pgh.sql('INSERT INTO orders VALUES (1, 1); INSERT INTO orders VALUES (2, 5000); INSERT INTO orders VALUES (3, 3);', [], src);
  await pgh.sql('UPDATE orders SET qty = 2 WHERE id = 1', [], src);
  await until('the refused change dead-lettered and the rest applied', () => sinkOf(node).status().applied === 3 && letters.all.length === 1, 20_000);
  assert.deepEqual(await rows(dst, 'SELECT id, qty FROM orders ORDER BY id'), [
    { id: 1, qty: 2 },
    { id: 3, qty: 3 },
  ]);
  const letter = letters.all[0];
  assert.equal(letter.topic, '_mg.deadletter.db.public.orders.c');
  const body = JSON.parse(Buffer.from(letter.data!).toString('utf8')) as { reasons: Array<{ message: string }>; event: { data: { after: unknown } } };
  assert.match(body.reasons[0].message, /^MG_ERR_PG_APPLY_REFUSED: SQLSTATE 23514: .*orders_qty_check/);
  assert.deepEqual(body.event.data.after, { id: 2, qty: 5000 });
  assert.equal(sinkOf(node).status().deadLettered, 1);
  // Something on the sink's topics that is no change event is dead-lettered too, and counted under the same code.
  const stray: MeshEvent = { id: 'stray-1', source: 'test', type: 'other.thing', topic: 'db.public.orders.x', data: Buffer.from('{}'), attrs: {}, hops: [] };
  assert.equal(node.node.ingest(stray, 'ws').ok, true);
  await pgh.sql('INSERT INTO orders VALUES (4, 4)', [], src);
  await until('the stray event dead-lettered and the next change applied', () => letters.all.length === 2 && sinkOf(node).status().applied === 4, 20_000);
  assert.match(JSON.parse(Buffer.from(letters.all[1].data!).toString('utf8')).reasons[0].message, /not a change event: type "other.thing"/);
  assert.equal(sinkOf(node).status().deadLettered, 2);
  assert.equal(sinkOf(node).status().state, 'up');
  const metrics = node.node.metrics.render();
  assert.match(metrics, /meshgate_events_rejected_total\{code="MG_ERR_PG_APPLY_REFUSED"\} 2/);
  await node.close();
});

test('redelivered changes are applied once: the whole stream read again finds every row at its version', async (t) => {
  const src = await freshDb('CREATE TABLE public.orders (id int PRIMARY KEY, qty int);');
  const dst = await freshDb(`CREATE TABLE public.orders (id int PRIMARY KEY, qty int); ${COUNTER_DDL} ${countOn('orders')}`);
  const dir = testTmpDir(t, 'pgsink');
  const bridges = [
    { type: 'postgres-sink', url: pgh.url(dst), filter: 'db.public.orders.>', name: 'redeliver' },
    { type: 'postgres-source', url: pgh.url(src), tables: ['public.orders'], slot: 'sink_d', heartbeatMs: 100 },
  ];
  let node = await startPair(t, dir, bridges, 'lmdb');
  await pgh.sql(
    'INSERT INTO orders SELECT g, g FROM generate_series(1, 30) g; UPDATE orders SET qty = 0 WHERE id <= 10; DELETE FROM orders WHERE id > 25;',
    [],
    src,
  );
  const changes = 30 + 10 + 5;
  await until('all applied', () => sinkOf(node).status().applied === changes, 20_000);
  assert.deepEqual(await rows(dst, 'SELECT n::int FROM apply_count'), [{ n: changes }]);
  await node.close();
  // The target forgets how far it got: the restarted sink reads the whole stream again.
  await pgh.sql(`UPDATE meshgate_sink_position SET "offset" = 0 WHERE sink = 'redeliver'`, [], dst);
  node = await startPair(t, dir, bridges, 'lmdb');
  await until('every change read again', () => sinkOf(node).status().duplicates === changes, 20_000).catch((err) => {
    throw new Error(`${(err as Error).message}: ${JSON.stringify(sinkOf(node).status())} ${JSON.stringify(node.streams.list())}`);
  });
  assert.equal(sinkOf(node).status().applied, 0);
  assert.deepEqual(await rows(dst, 'SELECT n::int FROM apply_count'), [{ n: changes }], 'no row written twice');
  assert.deepEqual(await rows(dst, 'SELECT * FROM orders ORDER BY id'), await rows(src, 'SELECT * FROM orders ORDER BY id'));
  await node.close();
});

test('last writer wins by (mghlc, mgorigin): an older change is a conflict, an equal one a duplicate, and a tombstone keeps a row deleted', async () => {
  const dst = await freshDb('CREATE TABLE public.items (id int PRIMARY KEY, v text);');
  const applier = new ChangeApplier(resolvePgSink({ type: 'postgres-sink', url: pgh.url(dst), filter: 'db.>' }, 0));
  const db = new pg.Client({ connectionString: pgh.url(dst) });
  await db.connect();
  try {
    await db.query(SINK_TABLES_DDL);
    const change = (op: 'c' | 'u' | 'd', hlc: string, origin: string, v: string | null): DecodedChange => ({
      op,
      schema: 'public',
      table: 'items',
      before: op === 'd' ? { id: 1 } : null,
      after: op === 'd' ? null : { id: 1, v },
      unchangedToast: [],
      hlc,
      origin,
      source: 'postgres://elsewhere:5432/db',
      commitMs: 0,
    });
    const apply = async (c: DecodedChange) => {
      await db.query('BEGIN');
      const outcome = await applier.apply(db, c);
      await db.query('COMMIT');
      return outcome;
    };
    const value = async () => (await db.query('SELECT v FROM items WHERE id = 1')).rows[0]?.v ?? null;
    assert.equal(await apply(change('c', '00000000000100000', 'a', 'first')), 'applied');
    assert.equal(await apply(change('c', '00000000000100000', 'a', 'first')), 'duplicate');
    assert.equal(await apply(change('u', '00000000000300000', 'b', 'b-wins')), 'applied');
    assert.equal(await apply(change('u', '00000000000200000', 'a', 'older')), 'conflict');
    // Equal stamps: the origin breaks the tie, the same way on every node.
    assert.equal(await apply(change('u', '00000000000300000', 'a', 'tie-lower-origin')), 'conflict');
    assert.equal(await value(), 'b-wins');
    assert.equal(await apply(change('d', '00000000000400000', 'a', null)), 'applied');
    assert.equal(await apply(change('u', '00000000000350000', 'b', 'resurrect?')), 'conflict');
    assert.equal(await apply(change('u', '00000000000390000', 'a', 'own older')), 'duplicate', "older than its own writer's later change: a redelivery");
    assert.equal(await value(), null, 'the tombstone keeps the row deleted');
    const tomb = (await db.query('SELECT hlc, origin, deleted, written FROM meshgate_row_version')).rows;
    assert.deepEqual(tomb, [{ hlc: '00000000000400000', origin: 'a', deleted: true, written: true }]);
    assert.equal(await apply(change('c', '00000000000500000', 'b', 'reborn')), 'applied');
    assert.equal(await value(), 'reborn');
  } finally {
    await db.end();
  }
});

test("the sink's transactions carry its replication origin, and a source on the target drops them (counted): no ping-pong", async (t) => {
  const src = await freshDb('CREATE TABLE public.orders (id int PRIMARY KEY, qty int);');
  const dst = await freshDb('CREATE TABLE public.orders (id int PRIMARY KEY, qty int);');
  const node = await startPair(t, testTmpDir(t, 'pgsink'), [
    { type: 'postgres-sink', url: pgh.url(dst), filter: 'db.public.orders.>', name: 'apply' },
    { type: 'postgres-source', url: pgh.url(src), tables: ['public.orders'], slot: 'sink_e', heartbeatMs: 100, name: 'from-src' },
    // The target's own source publishes on another prefix: every change it captured would show there.
    {
      type: 'postgres-source',
      url: pgh.url(dst),
      tables: ['public.orders'],
      slot: 'sink_e_back',
      heartbeatMs: 100,
      name: 'from-dst',
      topic: 'back.{table}.{op}',
    },
  ]);
  const back = new Collector();
  node.node.subscribe('back.>', back);
  await pgh.sql('INSERT INTO orders SELECT g, g FROM generate_series(1, 20) g', [], src);
  await until('applied', () => sinkOf(node).status().applied === 20, 20_000);
  const fromDst = (node.bridges as RunningBridges).sources.find((s) => s.spec.name === 'from-dst')!;
  await until('the target source saw the sink transaction', () => (fromDst.status().originSkipped as { changes: number }).changes === 20, 20_000);
  assert.deepEqual(await rows(dst, `SELECT roname FROM pg_replication_origin WHERE roname = 'meshgate_apply'`), [{ roname: 'meshgate_apply' }]);
  // A write of the target's own is captured, and only it.
  await pgh.sql('INSERT INTO orders VALUES (99, 99)', [], dst);
  await until('the local write captured', () => back.all.length === 1, 20_000);
  assert.equal(back.all[0].attrs.subject, '99');
  assert.equal(fromDst.status().captured, 1);
  assert.ok((fromDst.status().originSkipped as { transactions: number }).transactions >= 1);
  assert.equal(sourceOf(node).status().captured, 20);
  await node.close();
});

test('a target role that may not use replication origins leaves the sink down with the database error, retrying, and dead-letters nothing', async (t) => {
  const src = await freshDb('CREATE TABLE public.orders (id int PRIMARY KEY, qty int);');
  const dst = await freshDb(`CREATE TABLE public.orders (id int PRIMARY KEY, qty int);
    DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plain_apply') THEN CREATE ROLE plain_apply LOGIN; END IF; END $$;
    GRANT ALL ON SCHEMA public TO plain_apply; GRANT ALL ON orders TO plain_apply;`);
  const node = await startPair(t, testTmpDir(t, 'pgsink'), [
    { type: 'postgres-sink', url: pgh.url(dst, 'plain_apply'), filter: 'db.public.orders.>', backoffMinMs: 20, backoffMaxMs: 50 },
    { type: 'postgres-source', url: pgh.url(src), tables: ['public.orders'], slot: 'sink_f', heartbeatMs: 100 },
  ]);
  await pgh.sql('INSERT INTO orders VALUES (1, 1)', [], src);
  await until('retried at least twice', () => (sinkOf(node).status().reconnects as number) >= 2, 20_000);
  const status = sinkOf(node).status();
  assert.notEqual(status.state, 'up');
  assert.match(String(status.lastError), /permission denied|must be superuser/);
  assert.equal(status.applied, 0);
  assert.equal(status.deadLettered, 0);
  assert.deepEqual(await rows(dst, 'SELECT * FROM orders'), []);
  // Granted the right, the sink catches up from the stream: nothing was lost while it was down.
  await pgh.sql('ALTER ROLE plain_apply SUPERUSER');
  await until('applied once granted', () => sinkOf(node).status().applied === 1, 20_000);
  assert.deepEqual(await rows(dst, 'SELECT * FROM orders'), [{ id: 1, qty: 1 }]);
  await node.close();
});

test('PostgreSQL restarted under load (source and target on it): the sink and the source come back, the target equals the source, no change lost or applied twice', async (t) => {
  // The same counter on both sides: the source's counts what committed there, the target's every row the sink wrote.
  const src = await freshDb(`CREATE TABLE public.orders (id int PRIMARY KEY, qty int); ${COUNTER_DDL} ${countOn('orders')}`);
  const dst = await freshDb(`CREATE TABLE public.orders (id int PRIMARY KEY, qty int); ${COUNTER_DDL} ${countOn('orders')}`);
  const bridges = [
    { type: 'postgres-sink', url: pgh.url(dst), filter: 'db.public.orders.>', name: 'restarted', backoffMinMs: 50, backoffMaxMs: 500 },
    { type: 'postgres-source', url: pgh.url(src), tables: ['public.orders'], slot: 'sink_restart', heartbeatMs: 100, backoffMinMs: 50, backoffMaxMs: 500 },
  ];
  const node = await startPair(t, testTmpDir(t, 'pgsink-restart'), bridges, 'lmdb');
  // A writer that reconnects: one insert and one update per transaction, 600 transactions, the server restarted after 200.
  let writer: pg.Client | null = null;
  const connectWriter = async () => {
    for (;;) {
      const c = new pg.Client({ connectionString: pgh.url(src) });
      c.on('error', () => {}); // a connection cut by the restart: the next query fails and reconnects
      try {
        await c.connect();
        return c;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  let restarted: Promise<void> | null = null;
  for (let i = 1; i <= 600; i++) {
    if (i === 200) restarted = pgh.restart();
    for (;;) {
      writer ??= await connectWriter();
      try {
        await writer.query('BEGIN');
        await writer.query('INSERT INTO orders VALUES ($1, 0) ON CONFLICT (id) DO NOTHING', [i]);
        await writer.query('UPDATE orders SET qty = qty + 1 WHERE id = $1', [i]);
        await writer.query('COMMIT');
        break;
      } catch {
        // Cut mid-transaction (rolled back: run it again) or at COMMIT (maybe committed: the row says);
        // the source's counter, not this loop, says how many changes committed.
        await writer.end().catch(() => {});
        writer = null;
        const done = await rows(src, `SELECT qty FROM orders WHERE id = ${i}`).catch(() => []);
        if (done.length > 0) break;
      }
    }
  }
  await restarted;
  await writer?.end();
  const committed = ((await rows(src, 'SELECT n::int AS n FROM apply_count')) as Array<{ n: number }>)[0].n;
  await until('the target caught up', async () => (await rows(dst, 'SELECT * FROM orders ORDER BY id')).length === 600, 60_000).catch((err) => {
    throw new Error(`${(err as Error).message}: sink ${JSON.stringify(sinkOf(node).status())} source ${JSON.stringify(sourceOf(node).status())}`);
  });
  await until('every change applied', async () => sinkOf(node).status().applied === committed, 30_000).catch((err) => {
    throw new Error(`${(err as Error).message}: ${committed} committed; sink ${JSON.stringify(sinkOf(node).status())}`);
  });
  assert.deepEqual(await rows(dst, 'SELECT * FROM orders ORDER BY id'), await rows(src, 'SELECT * FROM orders ORDER BY id'));
  assert.deepEqual(await rows(dst, 'SELECT n::int AS n FROM apply_count'), [{ n: committed }], 'every committed change written once at the target');
  assert.ok((sinkOf(node).status().reconnects as number) >= 1, 'the sink lost its session and came back');
  assert.ok((sourceOf(node).status().reconnects as number) >= 1, 'the source lost its replication connection and came back');
  await node.close();
});
