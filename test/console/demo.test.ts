// Tests of `npm run demo` (demo/): kept beside the console tests, whose
// mesh picture the demo exists to show.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import WebSocket from 'ws';
import { type MeshEvent, MeshgateClient, type WebSocketConstructor } from '../../client/mod.js';
import { ChangeFeed } from '../../demo/change-events.js';
import { until } from '../helpers/mesh.js';

const DEMO = fileURLToPath(new URL('../../demo/run.js', import.meta.url));
/** The database change event schema the project ships (schemas/). */
const DB_CHANGE_SCHEMA = JSON.parse(readFileSync(new URL('../../../schemas/db-change-event.schema.json', import.meta.url), 'utf8')) as object;

type Envelope = {
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  op: string;
  source: { db: string; table: string; lsn: number };
  ts_ms: number;
};

test("ChangeFeed emits Debezium-style inserts, updates and deletes of orders and customers, valid against schemas/db-change-event.schema.json, whose before is the row's last after", () => {
  const valid = new Ajv2020({ strict: false }).compile(DB_CHANGE_SCHEMA);
  const feed = new ChangeFeed(7);
  const rows = new Map<string, Record<string, unknown>>();
  const seen = new Set<string>();
  let lsn = 0;
  for (let i = 0; i < 2000; i++) {
    const { topic, event } = feed.next(1_700_000_000_000 + i);
    const data = event.data as Envelope;
    assert.ok(valid(data), `${topic}: ${JSON.stringify(valid.errors)}`);
    const [, table, verb] = topic.split('.');
    seen.add(`${table}.${verb}`);
    assert.equal(event.type, `io.debezium.${table}.${data.op}`);
    assert.equal(data.source.table, table);
    assert.equal(data.source.db, 'shop');
    assert.ok(data.source.lsn > lsn, 'lsn grows');
    lsn = data.source.lsn;
    const key = `${table}/${event.subject}`;
    if (verb === 'insert') {
      assert.equal(data.before, null);
      assert.ok(!rows.has(key));
      rows.set(key, data.after!);
    } else {
      assert.deepEqual(data.before, rows.get(key), `${topic} ${key}: before is the last after`);
      if (verb === 'update') rows.set(key, data.after!);
      else {
        assert.equal(data.after, null);
        rows.delete(key);
      }
    }
  }
  assert.deepEqual([...seen].sort(), ['customers.delete', 'customers.insert', 'customers.update', 'orders.delete', 'orders.insert', 'orders.update']);
  assert.deepEqual(new ChangeFeed(7).next(1).event.data, new ChangeFeed(7).next(1).event.data, 'deterministic per seed');
  assert.equal(valid(new ChangeFeed(7).broken(1_700_000_000_000).event.data), false, 'broken() changes fail the schema');
  assert.deepEqual(
    valid.errors?.map((e) => e.instancePath),
    ['/ts_ms'],
  );
});

test('npm run demo starts three peered regions and a producer, prints the console URL, and stops everything on Ctrl-C', async (t) => {
  const child = spawn(process.execPath, [DEMO, '--port', '0', '--rate', '50', '--bad-every', '10'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const check = () => (/console: +http:\/\/127\.0\.0\.1:\d+\/console/.test(out) ? resolve() : undefined);
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`demo exited ${code}:\n${out}`)));
  });
  const consoleUrl = /console: +(http:\/\/127\.0\.0\.1:\d+)\/console/.exec(out)![1];
  const httpUrls = [...out.matchAll(/^ {2}(eu|us|ap) +\S+ +(http:\/\/127\.0\.0\.1:\d+)/gm)].map((m) => m[2]);
  assert.equal(httpUrls.length, 3, out);
  assert.equal(consoleUrl, httpUrls[0], 'the console is served by eu');

  // The mesh as the console sees it: 3 nodes, 3 links up.
  await until('the demo mesh shows 3 nodes and 3 links up', async () => {
    const view = (await (await fetch(`${consoleUrl}/v1/mesh`)).json()) as { nodes: unknown[]; links: Array<{ state: string }> };
    return view.nodes.length === 3 && view.links.length === 3 && view.links.every((l) => l.state === 'up');
  });
  const page = await fetch(`${consoleUrl}/console`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /meshgate console/);

  // Change events flow: subscribe on ap, receive eu's and us's changes.
  const c = new MeshgateClient({ url: httpUrls[2].replace('http', 'ws'), WebSocket: WebSocket as unknown as WebSocketConstructor });
  t.after(() => c.close());
  const got: MeshEvent[] = [];
  // The schema registered on eu validates at us too (replicated), and broken changes become dead letters.
  const letter = new Promise<MeshEvent>((resolve) => void c.subscribe('_mg.deadletter.>', resolve));
  await new Promise<void>((resolve) => {
    void c.subscribe('db.>', (e) => {
      got.push(e);
      if (new Set(got.map((x) => x.topic.split('.')[1])).size === 2) resolve();
    });
  });
  const order = got.find((e) => e.topic.startsWith('db.orders.'))!;
  const env = order.json<Envelope>();
  assert.equal(env.source.table, 'orders');
  assert.ok(['c', 'u', 'd'].includes(env.op));
  assert.equal(order.origin, 'eu');
  assert.deepEqual(
    order.hops.map((h) => h.node),
    ['eu', 'ap'],
  );
  const dead = await letter;
  assert.match(dead.topic, /^_mg\.deadletter\.db\.(orders|customers)\./);
  const body = dead.json<{ reasons: Array<{ path: string; message: string }>; event: { data: { ts_ms: unknown } } }>();
  assert.deepEqual(body.reasons, [{ path: '/ts_ms', message: 'must be integer' }]);
  assert.equal(typeof body.event.data.ts_ms, 'string', 'the original, broken change is carried whole');
  for (const url of httpUrls)
    assert.ok(((await (await fetch(`${url}/v1/schemas/subjects`)).json()) as string[]).includes('db-change-event'), `${url} holds the schema`);
  await c.close();

  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, out);
  assert.match(out, /demo stopped/);
  for (const url of httpUrls) await assert.rejects(fetch(`${url}/healthz`), `${url} is down`);
});

test('npm run demo -- --sync keeps two PostgreSQL databases equal both ways under a two-sided workload, and Ctrl-C stops it after they converge', async (t) => {
  const child = spawn(process.execPath, [DEMO, '--sync', '--rate', '40', '--rows', '30'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit');
  // Two report lines in which both regions applied the other's changes: the sync runs both ways.
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      const applied = [...out.matchAll(/^eu: written \d+, captured \d+, applied (\d+),.*us: written \d+, captured \d+, applied (\d+),/gm)];
      if (applied.filter((m) => Number(m[1]) > 0 && Number(m[2]) > 0).length >= 2) resolve();
    };
    child.stdout!.on('data', check);
    void exited.then(([code]) => reject(new Error(`demo exited ${code}:\n${out}`)));
  });
  const nodes = [...out.matchAll(/^ {2}(eu|us) +node (http:\/\/127\.0\.0\.1:\d+)/gm)].map((m) => m[2]);
  assert.equal(nodes.length, 2, out);
  child.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 0, out);
  assert.match(out, /converged: both databases hold the same \d+ rows/);
  assert.match(out, /demo stopped/);
  for (const url of nodes) await assert.rejects(fetch(`${url}/healthz`), `${url} is down`);
});
