/**
 * The postgres-source bridge against a real PostgreSQL 15 (test/helpers/postgres.ts):
 * changes into the mesh as db-change events, the snapshot seam, exactly once
 * across a node restart, the idle-slot heartbeat, unchanged TOAST, and set-up errors.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, type TestContext, test } from 'node:test';
import pg from 'pg';
import { createBridges, type RunningBridges } from '../../../bridges/mod.js';
import { parseLsn } from '../../../bridges/postgres/mod.js';
import { type ConfigLayer, resolveConfig } from '../../../broker/config/mod.js';
import type { MeshEvent, Subscriber } from '../../../broker/mod.js';
import { type RunningNode, startNode } from '../../../broker/node/internal.js';
import { SchemaRegistry, shippedSchema } from '../../../schemas/mod.js';
import { until } from '../../helpers/mesh.js';
import { runCli } from '../../helpers/node.js';
import { type PostgresHandle, startPostgres } from '../../helpers/postgres.js';
import { testTmpDir } from '../../helpers/tmp.js';

let pgh: PostgresHandle;
before(async () => {
  pgh = await startPostgres();
});
after(() => pgh?.stop());

const registry = new SchemaRegistry();
registry.register('db-change-event', shippedSchema('db-change-event'));
const validate = registry.get('db-change-event', 1)!.validate;

let dbCount = 0;
/** A fresh database with `ddl` run in it. */
async function freshDb(ddl: string): Promise<string> {
  const db = `t${++dbCount}_${process.pid}`;
  await pgh.sql(`CREATE DATABASE ${db}`);
  await pgh.sql(ddl, [], db);
  return db;
}

/** Records every event on `filter`, keyed by id. */
class Collector implements Subscriber {
  readonly format = { name: 'test', binary: true, encode: () => new Uint8Array(0), batch: null };
  readonly all: MeshEvent[] = [];
  deliver(_item: Uint8Array, event: MeshEvent): void {
    this.all.push(event);
  }
  data(): Array<Record<string, unknown>> {
    return this.all.map((e) => JSON.parse(Buffer.from(e.data!).toString('utf8')) as Record<string, unknown>);
  }
}

async function startSourceNode(t: TestContext, dir: string, source: Record<string, unknown>, layer: ConfigLayer = {}): Promise<RunningNode> {
  const config = resolveConfig({ node: { id: 'pg-node', region: 'test' }, listen: { host: '127.0.0.1', port: 0 } }, layer, {
    storage: { dir, engine: 'memory' },
    bridges: [{ type: 'postgres-source', heartbeatMs: 100, ...source }],
  } as ConfigLayer);
  const running = await startNode(config, { bridges: createBridges, log: () => undefined });
  t.after(() => running.close());
  return running;
}

function sourceOf(n: RunningNode) {
  return (n.bridges as RunningBridges).sources[0];
}

async function slotConfirmed(db: string, slot: string): Promise<bigint> {
  const r = await pgh.sql<{ l: string | null }>('SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = $1', [slot], db);
  return r.rows[0]?.l ? parseLsn(r.rows[0].l) : 0n;
}

test('existing rows arrive as op r, then inserts, updates and deletes as c, u, d change events that validate against the shipped schema', async (t) => {
  const db = await freshDb(
    'CREATE TABLE public.items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, $$old$$ || g FROM generate_series(1, 25) g;',
  );
  const dir = testTmpDir(t, 'pgsrc');
  const sub = new Collector();
  const node = await startSourceNode(t, dir, { url: pgh.url(db), tables: ['public.items'], slot: 'slot_a', snapshotChunkRows: 10 });
  // The snapshot was read during start: subscribe from here on is too late for it, so count it from the metric.
  node.node.subscribe('db.>', sub);
  assert.equal(sourceOf(node).status().captured, 25);
  await pgh.sql("INSERT INTO items VALUES (100, 'new'); UPDATE items SET name = 'changed' WHERE id = 1; DELETE FROM items WHERE id = 2;", [], db);
  await until('three changes', () => sub.all.length >= 3);
  const data = sub.data();
  assert.deepEqual(
    data.map((d) => d.op),
    ['c', 'u', 'd'],
  );
  for (const d of data) assert.equal(validate(d), true, JSON.stringify(validate.errors));
  assert.deepEqual(data[0].after, { id: 100, name: 'new' });
  assert.deepEqual(data[1].after, { id: 1, name: 'changed' });
  assert.deepEqual((data[2].before as Record<string, unknown>).id, 2);
  assert.deepEqual(
    sub.all.map((e) => e.topic),
    ['db.public.items.c', 'db.public.items.u', 'db.public.items.d'],
  );
  assert.deepEqual(
    sub.all.map((e) => e.attrs.subject),
    ['100', '1', '2'],
  );
  assert.equal(sub.all[0].source, `postgres://127.0.0.1:${pgh.port}/${db}`);
  // One transaction: one commit LSN, positions 1..3, ids from both.
  const commit = sub.all[0].attrs.pgcommitlsn;
  assert.ok(sub.all.every((e) => e.attrs.pgcommitlsn === commit));
  assert.deepEqual(
    sub.all.map((e) => e.attrs.pgtxpos),
    ['1', '2', '3'],
  );
  assert.deepEqual(
    sub.all.map((e) => e.id.split('-')[1]),
    ['1', '2', '3'],
  );
});

test("a column added and one dropped mid-stream show in the events, and the table's row schema gets a new version in the registry each time", async (t) => {
  const db = await freshDb('CREATE TABLE public.parts (id int PRIMARY KEY, name text NOT NULL)');
  const sub = new Collector();
  const node = await startSourceNode(t, testTmpDir(t, 'pgddl'), { url: pgh.url(db), tables: ['public.parts'], slot: 'slot_ddl' });
  node.node.subscribe('db.>', sub);
  await pgh.sql("INSERT INTO parts VALUES (1, 'bolt')", [], db);
  await until('the first change', () => sub.all.length >= 1);
  const v1 = node.schemas.get('db.public.parts', 1)?.schema as { properties: Record<string, unknown>; required: string[] };
  assert.deepEqual(Object.keys(v1.properties), ['id', 'name']);
  assert.deepEqual(v1.required, ['id']);
  assert.deepEqual(v1.properties.id, { type: 'integer', description: 'PostgreSQL int4' });

  await pgh.sql("ALTER TABLE parts ADD COLUMN weight float8; INSERT INTO parts VALUES (2, 'nut', 1.5)", [], db);
  await until('the change after the new column', () => sub.all.length >= 2);
  assert.deepEqual(sub.data()[1].after, { id: 2, name: 'nut', weight: 1.5 });
  const v2 = node.schemas.get('db.public.parts', 2)?.schema as { properties: Record<string, unknown> };
  assert.deepEqual(v2.properties.weight, { type: ['number', 'null'], description: 'PostgreSQL float8' });

  await pgh.sql('ALTER TABLE parts DROP COLUMN name; UPDATE parts SET weight = 2 WHERE id = 2', [], db);
  await until('the change after the dropped column', () => sub.all.length >= 3);
  assert.deepEqual(sub.data()[2].after, { id: 2, weight: 2 });
  const v3 = node.schemas.get('db.public.parts', 3)?.schema as { properties: Record<string, unknown> };
  assert.deepEqual(Object.keys(v3.properties), ['id', 'weight']);
  assert.equal(node.schemas.get('db.public.parts', 4), undefined, 'an unchanged table registers nothing more');
});

test('the snapshot and the stream meet with nothing lost or doubled, and snapshot rows validate', async (t) => {
  const db = await freshDb('CREATE TABLE public.seam (id int PRIMARY KEY, v int); INSERT INTO seam SELECT g, 0 FROM generate_series(1, 300) g;');
  const dir = testTmpDir(t, 'pgsrc');
  const config = resolveConfig({ node: { id: 'pg-node', region: 'test' }, listen: { host: '127.0.0.1', port: 0 } }, {
    storage: { dir, engine: 'memory' },
    bridges: [{ type: 'postgres-source', url: pgh.url(db), tables: ['public.seam'], slot: 'slot_b', snapshotChunkRows: 7, heartbeatMs: 100 }],
  } as ConfigLayer);
  // Subscribe before the bridges start, so the snapshot is seen too; write concurrently with it.
  const sub = new Collector();
  const writes = (async () => {
    for (let i = 301; i <= 360; i++) await pgh.sql(`INSERT INTO seam VALUES (${i}, 1)`, [], db);
  })();
  const running = await startNode(config, {
    bridges: async (node, entries, log, host) => {
      node.subscribe('db.>', sub);
      return createBridges(node, entries, log, host);
    },
    log: () => undefined,
  });
  t.after(() => running.close());
  await writes;
  await until('all 360 rows', () => new Set(sub.data().map((d) => (d.after as { id: number }).id)).size === 360, 20_000);
  const ids = sub.data().map((d) => (d.after as { id: number }).id);
  assert.equal(ids.length, 360, 'no row twice');
  for (const d of sub.data().filter((x) => x.op === 'r')) assert.equal(validate(d), true, JSON.stringify(validate.errors));
  assert.equal(new Set(sub.all.map((e) => e.id)).size, 360);
});

test('a node restart mid-stream loses nothing, replays carry the same ids, and the slot is never confirmed past the checkpoint', async (t) => {
  const db = await freshDb('CREATE TABLE public.seq (id int PRIMARY KEY);');
  const dir = testTmpDir(t, 'pgsrc');
  const source = { url: pgh.url(db), tables: ['public.seq'], slot: 'slot_c', snapshot: false };
  const seen = new Map<string, string>();
  let duplicates = 0;
  const sub = new Collector();
  const record = (e: MeshEvent) => {
    const body = Buffer.from(e.data!).toString('utf8');
    const prior = seen.get(`${e.source} ${e.id}`);
    if (prior === undefined) seen.set(`${e.source} ${e.id}`, body);
    else {
      duplicates++;
      assert.equal(JSON.parse(body).after.id, JSON.parse(prior).after.id, 'a replay carries its original id');
    }
  };
  sub.deliver = (_i, e) => record(e);
  let node = await startSourceNode(t, dir, source);
  node.node.subscribe('db.>', sub);
  const file = join(dir, 'postgres', 'slot_c.json');
  const checkpointed = () => parseLsn((JSON.parse(readFileSync(file, 'utf8')) as { lsn: string }).lsn);
  // One connection each for the watcher and the writer: a connection per query would fork a backend per query.
  const watcher = new pg.Client({ connectionString: pgh.url(db) });
  await watcher.connect();
  t.after(() => watcher.end());
  let violations = 0;
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const r = await watcher.query<{ l: string | null }>('SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = $1', ['slot_c']);
      const confirmed = r.rows[0]?.l ? parseLsn(r.rows[0].l) : 0n;
      if (confirmed > checkpointed()) violations++;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const total = 400;
  const writerClient = new pg.Client({ connectionString: pgh.url(db) });
  await writerClient.connect();
  t.after(() => writerClient.end());
  const writer = (async () => {
    for (let i = 1; i <= total; i += 10) await writerClient.query(`INSERT INTO seq SELECT generate_series(${i}, ${i + 9})`);
  })();
  await until('some changes in', () => seen.size >= 100);
  await node.close();
  const atClose = seen.size;
  node = await startSourceNode(t, dir, source);
  node.node.subscribe('db.>', sub);
  await writer;
  await until('every change', () => seen.size === total, 20_000).catch((err) => {
    throw new Error(`${(err as Error).message}: ${seen.size}/${total} seen, source ${JSON.stringify(sourceOf(node).status())}`);
  });
  watching = false;
  await watch;
  assert.ok(atClose < total, 'the node was stopped mid-stream');
  assert.equal(seen.size, total, '0 lost');
  assert.equal(violations, 0, 'confirmed_flush_lsn never passed the checkpoint');
  t.diagnostic(`replayed after the restart, with their original ids: ${duplicates}`);
});

test('an idle slot advances: confirmed_flush_lsn follows WAL written outside the publication', async (t) => {
  const db = await freshDb('CREATE TABLE public.watched (id int PRIMARY KEY); CREATE TABLE public.other (id int PRIMARY KEY);');
  const dir = testTmpDir(t, 'pgsrc');
  const node = await startSourceNode(t, dir, { url: pgh.url(db), tables: ['public.watched'], slot: 'slot_d', snapshot: false });
  const start = await slotConfirmed(db, 'slot_d');
  await pgh.sql('INSERT INTO other SELECT generate_series(1, 1000)', [], db);
  const written = parseLsn((await pgh.sql<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l', [], db)).rows[0].l);
  await until('slot past the unrelated writes', async () => (await slotConfirmed(db, 'slot_d')) >= written, 10_000);
  assert.ok((await slotConfirmed(db, 'slot_d')) > start);
  assert.equal(sourceOf(node).status().captured, 0);
  const metrics = node.node.metrics.render();
  assert.match(metrics, /meshgate_pg_slot_lag_bytes\{bridge="postgres-source-0"\} \d+/);
});

test('an update that leaves a large TOASTed column unchanged lists it in unchanged_toast instead of sending null', async (t) => {
  const db = await freshDb('CREATE TABLE public.docs (id int PRIMARY KEY, title text, body text); ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;');
  await pgh.sql(`INSERT INTO docs VALUES (1, 'a', repeat('x', 100000))`, [], db);
  const dir = testTmpDir(t, 'pgsrc');
  const sub = new Collector();
  const node = await startSourceNode(t, dir, { url: pgh.url(db), tables: ['public.docs'], slot: 'slot_e', snapshot: false });
  node.node.subscribe('db.>', sub);
  await pgh.sql("UPDATE docs SET title = 'b' WHERE id = 1", [], db);
  await until('the update', () => sub.all.length === 1);
  const d = sub.data()[0];
  assert.equal(validate(d), true, JSON.stringify(validate.errors));
  assert.deepEqual(d.after, { id: 1, title: 'b' });
  assert.ok(!('body' in (d.after as object)));
  assert.deepEqual(d.unchanged_toast, ['body']);
});

test('a wrong url, a missing table and a role without REPLICATION stop start-up naming the key and the fix', async (t) => {
  const db = await freshDb('CREATE TABLE public.ok (id int PRIMARY KEY);');
  await pgh.sql('CREATE ROLE plain LOGIN');
  const dir = testTmpDir(t, 'pgsrc');
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ url: `postgres://postgres@127.0.0.1:1/${db}`, tables: ['public.ok'] }, /bridges\[0\]\.url: cannot connect .*fix:/],
    [{ url: 'mqtt://127.0.0.1/x', tables: ['public.ok'] }, /bridges\[0\]\.url/],
    [{ url: pgh.url(db), tables: ['public.missing'] }, /bridges\[0\]\.tables\[0\]: table public\.missing does not exist.*fix:/],
    [{ url: pgh.url(db, 'plain'), tables: ['public.ok'] }, /bridges\[0\]\.url: role "plain" has no REPLICATION.*fix: ALTER ROLE plain REPLICATION/],
  ];
  for (const [source, message] of cases) {
    await assert.rejects(startSourceNode(t, dir, source), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MG_ERR_CONFIG_INVALID');
      assert.match(err.message, message);
      return true;
    });
  }
});

test('a meshgate child killed with -9 mid-stream and restarted stores every change in its stream, replays only with the same ids, and never lets the slot pass its checkpoint', async (t) => {
  const db = await freshDb('CREATE TABLE public.k9 (id int PRIMARY KEY);');
  const dir = testTmpDir(t, 'pgsrc-k9');
  const file = join(dir, 'node.json');
  writeFileSync(
    file,
    JSON.stringify({
      node: { id: 'pg-k9', region: 'test' },
      listen: { host: '127.0.0.1', port: 0 },
      storage: { dir: join(dir, 'data') },
      streams: [{ name: 'cdc', filters: ['db.>'] }],
      bridges: [{ type: 'postgres-source', url: pgh.url(db), tables: ['public.k9'], slot: 'slot_k9', snapshot: false, heartbeatMs: 100 }],
    }),
  );
  const checkpointed = () => {
    try {
      return parseLsn((JSON.parse(readFileSync(join(dir, 'data', 'postgres', 'slot_k9.json'), 'utf8')) as { lsn: string }).lsn);
    } catch {
      return 0n; // not written yet
    }
  };
  const watcher = new pg.Client({ connectionString: pgh.url(db) });
  await watcher.connect();
  t.after(() => watcher.end());
  let violations = 0;
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const r = await watcher.query<{ l: string | null }>('SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = $1', ['slot_k9']);
      // Read the checkpoint after the slot: the file only moves forward, so a confirmation it covers is covered then too.
      const confirmed = r.rows[0]?.l ? parseLsn(r.rows[0].l) : 0n;
      if (confirmed > checkpointed() && checkpointed() !== 0n) violations++;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const httpOf = async (cli: ReturnType<typeof runCli>) => {
    await cli.waitForOutput(/health\s+(http:\/\/\S+)\/healthz/);
    return /health\s+(http:\/\/\S+)\/healthz/.exec(cli.stdout)![1];
  };
  const entries = async (http: string) => {
    const ids: string[] = [];
    let after = 0;
    for (;;) {
      const res = (await (await fetch(`${http}/v1/streams/cdc/entries?after=${after}&limit=1000`)).json()) as {
        entries: Array<{ offset: number; id: string }>;
      };
      if (res.entries.length === 0) return ids;
      for (const e of res.entries) ids.push(e.id);
      after = res.entries[res.entries.length - 1].offset;
    }
  };
  const first = runCli(t, ['start', '--config', file]);
  const http1 = await httpOf(first);
  const writerClient = new pg.Client({ connectionString: pgh.url(db) });
  await writerClient.connect();
  t.after(() => writerClient.end());
  const total = 600;
  const writer = (async () => {
    for (let i = 1; i <= total; i += 10) await writerClient.query(`INSERT INTO k9 SELECT generate_series(${i}, ${i + 9})`);
  })();
  await until('some changes stored', async () => (await entries(http1)).length >= 100);
  first.child.kill('SIGKILL');
  await first.exited;
  const second = runCli(t, ['start', '--config', file]);
  const http2 = await httpOf(second);
  await writer;
  await until('every change stored', async () => new Set(await entries(http2)).size === total, 30_000);
  watching = false;
  await watch;
  const ids = await entries(http2);
  assert.equal(new Set(ids).size, total, '0 lost: every change is in the stream');
  assert.equal(violations, 0, 'confirmed_flush_lsn never passed the checkpoint');
  t.diagnostic(`stream entries ${ids.length} for ${total} changes: ${ids.length - total} replays, each with its original id`);
  second.child.kill('SIGTERM');
  await second.exited;
});

test('a large transaction pauses the replication stream at maxInFlight unstored changes and still arrives whole', async (t) => {
  const db = await freshDb('CREATE TABLE public.big (id int PRIMARY KEY, v text);');
  const dir = testTmpDir(t, 'pgsrc-big');
  const config = resolveConfig({ node: { id: 'pg-big', region: 'test' }, listen: { host: '127.0.0.1', port: 0 } }, {
    storage: { dir, engine: 'lmdb' },
    streams: [{ name: 'big', filters: ['db.>'] }],
    bridges: [{ type: 'postgres-source', url: pgh.url(db), tables: ['public.big'], slot: 'slot_big', snapshot: false, maxInFlight: 50, heartbeatMs: 100 }],
  } as ConfigLayer);
  const running = await startNode(config, { bridges: createBridges, log: () => undefined });
  t.after(() => running.close());
  const sub = new Collector();
  running.node.subscribe('db.>', sub);
  await pgh.sql("INSERT INTO big SELECT g, repeat('v', 200) FROM generate_series(1, 5000) g", [], db);
  await until('the whole transaction', () => sub.all.length === 5000, 30_000);
  const source = sourceOf(running);
  assert.ok(running.node.metrics.render().match(/meshgate_pg_stream_pauses_total\{bridge="postgres-source-0"\} ([1-9]\d*)/), 'the stream was paused');
  assert.deepEqual(
    sub.all.map((e) => Number(e.attrs.pgtxpos)),
    Array.from({ length: 5000 }, (_, i) => i + 1),
  );
  // Confirmed only once all 5000 were stored: at the commit, not before.
  await until('checkpoint at the commit', () => source.committedLsn >= parseLsn(String(sub.all[0].attrs.pgcommitlsn)));
});

test('a snapshot interrupted before it finished is read again from a new slot at the next start', async (t) => {
  const db = await freshDb('CREATE TABLE public.again (id int PRIMARY KEY); INSERT INTO again SELECT generate_series(1, 20);');
  const dir = testTmpDir(t, 'pgsrc-again');
  const source = { url: pgh.url(db), tables: ['public.again'], slot: 'slot_again' };
  const first = await startSourceNode(t, dir, source);
  await first.close();
  // As a crash inside the snapshot leaves it: the slot exists, the checkpoint still says pending.
  const file = join(dir, 'postgres', 'slot_again.json');
  const before = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: string; consistentPoint: string };
  writeFileSync(file, JSON.stringify({ ...before, snapshot: 'pending' }));
  await pgh.sql('INSERT INTO again VALUES (21)', [], db);
  const second = await startSourceNode(t, dir, source);
  assert.equal(sourceOf(second).status().captured, 21, 'every row read again, the new one included');
  const after = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: string; consistentPoint: string };
  assert.equal(after.snapshot, 'done');
  assert.ok(parseLsn(after.consistentPoint) > parseLsn(before.consistentPoint), 'a new slot, with a new consistent point');
});
