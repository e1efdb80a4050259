/**
 * postgres-source -> mesh -> postgres-sink between two PostgreSQL clusters
 * and two meshgate nodes run as child processes (issue 15, "Sink"):
 * (a) one way, 10,000+ changes while the source's node is killed with -9
 *     twice and the sink's node once: the target equals the source row for
 *     row, and a trigger on the target counts every row write, so a change
 *     lost or applied twice would show. The changes are stored in a stream
 *     on the source's node and the sink reads a mirror of it: with the sink
 *     fed only by live forwarding, a kill of the source's node lost what it
 *     had captured and not yet forwarded (measured: 18,000 of 36,000);
 * (b) both ways, source and sink on each side, concurrent updates of the
 *     same rows on both: both converge to the same rows and row versions,
 *     each source captures only its applications' own writes and drops
 *     every row its sink wrote (no loop).
 */
import assert from 'node:assert/strict';
import { after, before, type TestContext, test } from 'node:test';
import pg from 'pg';
import { awaitInterest, freePort, NodeProcess, until } from '../../helpers/mesh.js';
import { type PostgresHandle, startPostgres } from '../../helpers/postgres.js';

let east: PostgresHandle;
let west: PostgresHandle;
before(async () => {
  [east, west] = await Promise.all([startPostgres(), startPostgres()]);
});
after(() => Promise.all([east?.stop(), west?.stop()]));

const ORDERS = 'CREATE TABLE public.orders (id int PRIMARY KEY, qty int NOT NULL, note text);';
const COUNTED = `CREATE TABLE apply_count (n bigint NOT NULL); INSERT INTO apply_count VALUES (0);
CREATE FUNCTION count_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE apply_count SET n = n + 1; RETURN NULL; END $$;
CREATE TRIGGER counted AFTER INSERT OR UPDATE OR DELETE ON orders FOR EACH ROW EXECUTE FUNCTION count_apply();`;

let dbCount = 0;
async function freshDb(h: PostgresHandle, ddl: string): Promise<string> {
  const db = `m${++dbCount}_${process.pid}`;
  await h.sql(`CREATE DATABASE ${db}`);
  await h.sql(ddl, [], db);
  return db;
}

/** Every row, in key order, as one text: two tables are equal row for row when these are. */
async function table(h: PostgresHandle, db: string): Promise<string> {
  const r = await h.sql<{ t: string | null }>("SELECT string_agg(format('%s:%s:%s', id, qty, note), ',' ORDER BY id) AS t FROM orders", [], db);
  return r.rows[0].t ?? '';
}

async function bridge(node: NodeProcess, name: string): Promise<Record<string, unknown>> {
  const body = await node.json<{ bridges: Array<Record<string, unknown>> }>('/v1/bridges');
  const row = body.bridges.find((b) => b.name === name);
  if (row === undefined) throw new Error(`no bridge ${name} on ${node.spec.id}: ${JSON.stringify(body)}`);
  return row;
}

async function connect(t: TestContext, url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  t.after(() => c.end());
  return c;
}

test('(a) source on A, sink on B: A killed with -9 twice and B once mid-stream, the target equals the source and no change is lost or applied twice', async (t) => {
  const src = await freshDb(east, ORDERS);
  const dst = await freshDb(west, `${ORDERS} ${COUNTED}`);
  const [portA, portB] = [await freePort(), await freePort()];
  // Captured changes are stored on A (the slot is confirmed only then) and mirrored to B with A's offsets; the sink reads
  // the mirror, so what A captured while B was down, or what A's killed instance had not forwarded yet, reaches B from A's stream.
  const b = new NodeProcess(t, {
    id: 'b',
    port: portB,
    config: {
      streams: [{ name: 'cdc', mirror: { stream: 'cdc', node: 'a' } }],
      bridges: [{ type: 'postgres-sink', name: 'apply', url: west.url(dst), filter: 'db.public.orders.>', stream: 'cdc' }],
    },
  });
  const a = new NodeProcess(t, {
    id: 'a',
    port: portA,
    peers: [b.peerUrl],
    config: {
      streams: [{ name: 'cdc', filters: ['db.>'] }],
      bridges: [{ type: 'postgres-source', name: 'capture', url: east.url(src), tables: ['public.orders'], slot: 'one_way', heartbeatMs: 100 }],
    },
  });
  await b.start();
  await a.start();

  // Mixed transactions: 5 inserts, 3 updates, 1 delete each; every statement's row count is a change the target must see once.
  const writer = await connect(t, east.url(src));
  const live: number[] = [];
  let next = 1;
  let changes = 0;
  let seed = 7;
  const pick = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return live[seed % live.length];
  };
  // At least 10,000 changes, and on until the last restart: the nodes are killed and restarted with changes still coming (bounded: 4000 transactions).
  const total = 10_000;
  let restarted = false;
  const write = (async () => {
    const t0 = Date.now();
    for (let tx = 0; (changes < total || !restarted) && tx < 4000; tx++) {
      // About 100 transactions (900 changes) a second: the kills below fall while changes are still coming.
      const due = t0 + tx * 10 - Date.now();
      if (due > 0) await new Promise((r) => setTimeout(r, due));
      await writer.query('BEGIN');
      for (let i = 0; i < 5; i++) {
        changes += (await writer.query('INSERT INTO orders VALUES ($1, $2, $3)', [next, next, `n${next}`])).rowCount ?? 0;
        live.push(next++);
      }
      for (let i = 0; i < 3; i++) changes += (await writer.query('UPDATE orders SET qty = qty + 1, note = $2 WHERE id = $1', [pick(), `u${tx}`])).rowCount ?? 0;
      const gone = pick();
      changes += (await writer.query('DELETE FROM orders WHERE id = $1', [gone])).rowCount ?? 0;
      live.splice(live.indexOf(gone), 1);
      await writer.query('COMMIT');
    }
  })();

  // The source's node A is killed with -9 twice and the sink's node B once, changes still coming in all along.
  const applied = async () => (await bridge(b, 'apply')).applied as number;
  await until('B applied some', async () => (await applied()) >= 100, 30_000);
  await a.kill9();
  await a.start();
  const atFirst = changes;
  await until('B applied more after A came back', async () => (await applied()) >= 1500, 60_000);
  await b.kill9();
  const atKill = changes;
  await b.start();
  await until('B applies again', async () => (await applied()) >= 100, 60_000);
  await a.kill9();
  await a.start();
  restarted = true;
  assert.ok(atFirst < atKill, 'changes were written between the kills');
  await write;
  assert.ok(atKill < changes, 'B was killed while changes were still being written');
  const want = await table(east, src);
  await until('the target equals the source', async () => (await table(west, dst)) === want, 60_000).catch(async (err) => {
    const have = new Map((await table(west, dst)).split(',').map((r) => [r.split(':')[0], r]));
    const diff = want
      .split(',')
      .filter((r) => have.get(r.split(':')[0]) !== r)
      .slice(0, 10);
    const extra = [...have.keys()].filter((k) => !want.split(',').some((r) => r.startsWith(`${k}:`))).slice(0, 10);
    throw new Error(
      `${(err as Error).message}: sink ${JSON.stringify(await bridge(b, 'apply'))} differ ${diff} extra ${extra} changes ${changes} source ${JSON.stringify(await bridge(a, 'capture'))} streamB ${JSON.stringify(await b.json('/v1/streams'))} A metrics:\n${(
        await (await fetch(`${a.httpUrl}/metrics`)).text()
      )
        .split('\n')
        .filter((l) => /undeliver|unwanted|peer_|dedup|withdrawn/.test(l) && !l.startsWith('#'))
        .join('\n')}\nB metrics:\n${(await (await fetch(`${b.httpUrl}/metrics`)).text())
        .split('\n')
        .filter((l) => /undeliver|unwanted|peer_|dedup|withdrawn|stream/.test(l) && !l.startsWith('#'))
        .join('\n')}`,
    );
  });
  await until('B has nothing left to apply', async () => (await bridge(b, 'apply')).behind === 0, 30_000);
  assert.equal(await table(west, dst), want, 'row for row');
  const counted = Number((await west.sql<{ n: string }>('SELECT n FROM apply_count', [], dst)).rows[0].n);
  assert.equal(counted, changes, `${changes} changes at the source, ${counted} row writes at the target: none lost, none twice`);
  const sink = await bridge(b, 'apply');
  t.diagnostic(`after the restart: applied ${sink.applied}, skipped as duplicates ${sink.duplicates}, conflicts ${sink.conflicts}`);
  assert.equal(sink.conflicts, 0, 'one writer: no conflicts');
  assert.equal(sink.deadLettered, 0);
  // Stopped before the after-hooks remove their directories (a running source writes its checkpoint there).
  await Promise.all([a.stop(), b.stop()]);
});

test('(b) both ways: concurrent updates of the same rows on both sides converge, and no change loops', async (t) => {
  const dbEast = await freshDb(east, ORDERS);
  const dbWest = await freshDb(west, ORDERS);
  const [portA, portB] = [await freePort(), await freePort()];
  const side = (url: string, slot: string) => ({
    bridges: [
      { type: 'postgres-sink', name: 'apply', url, filter: 'db.public.orders.>' },
      { type: 'postgres-source', name: 'capture', url, tables: ['public.orders'], slot, heartbeatMs: 100 },
    ],
  });
  const b = new NodeProcess(t, { id: 'b', port: portB, config: side(west.url(dbWest), 'both_b') });
  const a = new NodeProcess(t, { id: 'a', port: portA, peers: [b.peerUrl], config: side(east.url(dbEast), 'both_a') });
  await b.start();
  await a.start();
  await awaitInterest(
    new Map([
      ['a', a],
      ['b', b],
    ]),
    'db.public.orders.>',
    ['a', 'b'],
  );
  const rows = 40;
  await east.sql(`INSERT INTO orders SELECT g, 0, 'seed' FROM generate_series(1, ${rows}) g`, [], dbEast);
  await until('the seed rows reached the west', async () => ((await bridge(b, 'apply')).applied as number) === rows, 30_000);

  // Both sides update the same rows at the same time, one statement per transaction.
  const updates = 300;
  const [we, ww] = [await connect(t, east.url(dbEast)), await connect(t, west.url(dbWest))];
  const run = (c: pg.Client, tag: string) =>
    (async () => {
      for (let i = 0; i < updates; i++) await c.query('UPDATE orders SET qty = qty + 1, note = $2 WHERE id = $1', [(i % rows) + 1, `${tag}${i}`]);
    })();
  await Promise.all([run(we, 'east'), run(ww, 'west')]);

  // Every captured change handled by both sinks (applied, recorded as their own, or skipped), then the tables compared.
  const handled = (s: Record<string, unknown>) =>
    (s.applied as number) + (s.ownRecorded as number) + (s.duplicates as number) + (s.conflicts as number) + (s.deadLettered as number);
  const expected = rows + 2 * updates;
  for (const node of [a, b]) {
    await until(`${node.spec.id} handled all ${expected} changes`, async () => handled(await bridge(node, 'apply')) >= expected, 60_000).catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(await bridge(node, 'apply'))}`);
    });
  }
  const [e, w] = [await table(east, dbEast), await table(west, dbWest)];
  assert.equal(e, w, 'both sides hold the same rows');
  assert.equal(e.split(',').length, rows);
  const [capA, capB, sinkA, sinkB] = [await bridge(a, 'capture'), await bridge(b, 'capture'), await bridge(a, 'apply'), await bridge(b, 'apply')];
  t.diagnostic(`east sink ${JSON.stringify(sinkA)}; west sink ${JSON.stringify(sinkB)}`);
  // No loop: each source captured exactly its applications' writes; what its sink wrote carried the origin and was dropped.
  assert.equal(capA.captured, rows + updates);
  assert.equal(capB.captured, updates);
  // Every row the sinks wrote came back to their own source as an origin-marked change, and was dropped there.
  for (const [node, sink] of [
    [a, sinkA],
    [b, sinkB],
  ] as const) {
    await until(`${node.spec.id}'s source dropped every row its sink wrote`, async () => {
      return ((await bridge(node, 'capture')).originSkipped as { changes: number }).changes === sink.applied;
    });
  }
  assert.ok((sinkB.applied as number) >= rows);
  assert.equal(handled(sinkA), expected, 'no change reached a sink twice over');
  assert.equal(handled(sinkB), expected);
  // Both sides agree on every row's version (the winning change's mghlc and mgorigin), not only on its values.
  const versions =
    "SELECT string_agg(format('%s:%s:%s', pk, hlc, origin), ',' ORDER BY pk) AS v FROM meshgate_row_version WHERE target_table = 'public.orders'";
  const [ve, vw] = [(await east.sql<{ v: string }>(versions, [], dbEast)).rows[0].v, (await west.sql<{ v: string }>(versions, [], dbWest)).rows[0].v];
  assert.equal(ve, vw);
  assert.equal(ve.split(',').length, rows);
  // How often the two writers met depends on timing: reported, not asserted.
  t.diagnostic(`conflicts resolved: east ${sinkA.conflicts}, west ${sinkB.conflicts}`);
  await Promise.all([a.stop(), b.stop()]);
});
