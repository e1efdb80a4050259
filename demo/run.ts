/**
 * `npm run demo`: a three-region mesh on loopback, a producer of database
 * change events, three subscribing services, and the console URL.
 *
 *          eu (eu-west) ──── us (us-east)        eu dials us and ap; us dials ap,
 *               \              /                 so the console on eu can reach
 *                ap (ap-south)                   every node and draw every link
 *
 *   producer   orders db    -> eu    customers db -> us     (--rate changes/s, default 20)
 *   services   analytics@ap db.orders.>   crm@eu db.customers.>   audit@us db.*.delete
 *
 *   schema     the shipped db-change-event schema, registered on eu and bound
 *              to db.>, replicated to us and ap over the peer links; every
 *              --bad-every'th change is broken on purpose and lands on
 *              _mg.deadletter.db.> with its reasons (the console lists them)
 *
 * Options: --port BASE (default 8081: nodes on BASE..BASE+2; 0 picks free
 * ports), --rate N, --bad-every N (default 100; 0 = never). Ctrl-C (SIGINT) or SIGTERM stops the producer, the
 * services and the three nodes, then exits 0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { MeshgateClient, type WebSocketConstructor } from '../client/mod.js';
import { shippedSchema } from '../schemas/mod.js';
import { ChangeFeed } from './change-events.js';
import { runSync } from './sync.js';

const CLI = fileURLToPath(new URL('../bin/meshgate.js', import.meta.url));
const MESH_KEY = 'meshgate-demo-key';
const HOST = '127.0.0.1';

interface DemoNode {
  readonly id: string;
  readonly region: string;
  readonly port: number;
  readonly dials: string[];
  child?: ChildProcess;
}

async function portFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function choosePorts(base: number): Promise<number[]> {
  if (base !== 0) {
    const wanted = [base, base + 1, base + 2];
    const free = await Promise.all(wanted.map(portFree));
    if (free.every(Boolean)) return wanted;
    process.stdout.write(`ports ${wanted.join(', ')} are not all free; using free ports instead\n`);
  }
  return [await freePort(), await freePort(), await freePort()];
}

function startNode(n: DemoNode, ports: Map<string, number>, onExit: (n: DemoNode, code: number | null) => void): Promise<void> {
  const args = [CLI, 'start', '--host', HOST, '--port', String(n.port), '--node-id', n.id, '--region', n.region, '--mesh-key', MESH_KEY];
  for (const d of n.dials) args.push('--peer', `ws://${HOST}:${ports.get(d)}`);
  // Same process group: a Ctrl-C in the terminal reaches the nodes too, and each shuts down cleanly on it.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  n.child = child;
  let out = '';
  const prefix = (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line.trim() !== '') process.stderr.write(`[${n.id}] ${line}\n`);
  };
  child.stderr!.on('data', prefix);
  child.once('exit', (code) => onExit(n, code));
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes(' ready\n')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`node ${n.id} exited with ${code} before it was ready:\n${out}`)));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8081' },
      rate: { type: 'string', default: '20' },
      'bad-every': { type: 'string', default: '100' },
      sync: { type: 'boolean' },
      rows: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run demo -- [--port BASE (default 8081, 0 = free ports)] [--rate CHANGES_PER_SEC (default 20)] [--bad-every N (default 100, 0 = never)]\n' +
        '       npm run demo -- --sync [--rate CHANGES_PER_SEC per side (default 20)] [--rows KEYS (default 50)] [--seconds N (default 0: until Ctrl-C)]\n',
    );
    return;
  }
  if (values.sync) {
    const rate = Number(values.rate);
    const rows = Number(values.rows);
    const seconds = Number(values.seconds);
    if (!(rate > 0 && rate <= 5_000)) throw new Error(`--rate: expected 1..5000 changes per second on each side, got '${values.rate}'`);
    if (!Number.isInteger(rows) || rows < 1) throw new Error(`--rows: expected a whole number of keys >= 1, got '${values.rows}'`);
    if (!Number.isInteger(seconds) || seconds < 0) throw new Error(`--seconds: expected a whole number (0 = until Ctrl-C), got '${values.seconds}'`);
    return runSync({ rate, rows, seconds });
  }
  const rate = Number(values.rate);
  const badEvery = Number(values['bad-every']);
  if (!Number.isInteger(badEvery) || badEvery < 0) throw new Error(`--bad-every: expected a whole number (0 = never), got '${values['bad-every']}'`);
  const base = Number(values.port);
  if (!(rate > 0 && rate <= 10_000)) throw new Error(`--rate: expected 1..10000 changes per second, got '${values.rate}'`);
  if (!Number.isInteger(base) || base < 0 || base > 65533) throw new Error(`--port: expected a TCP port (0 = free ports), got '${values.port}'`);

  const [p1, p2, p3] = await choosePorts(base);
  const nodes: DemoNode[] = [
    { id: 'eu', region: 'eu-west', port: p1, dials: ['us', 'ap'] },
    { id: 'us', region: 'us-east', port: p2, dials: ['ap'] },
    { id: 'ap', region: 'ap-south', port: p3, dials: [] },
  ];
  const ports = new Map(nodes.map((n) => [n.id, n.port]));
  const wsUrl = (id: string) => `ws://${HOST}:${ports.get(id)}/v1/ws`;

  let stopping = false;
  const clients: MeshgateClient[] = [];
  let timer: NodeJS.Timeout | undefined;
  let statusTimer: NodeJS.Timeout | undefined;

  const stop = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${why}: stopping the producer, the services and the nodes\n`);
    clearInterval(timer);
    clearInterval(statusTimer);
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all(
      nodes.map(async (n) => {
        const child = n.child;
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }),
    );
    process.stdout.write('demo stopped\n');
    process.exit(code);
  };
  process.once('SIGINT', () => void stop('SIGINT', 0));
  process.once('SIGTERM', () => void stop('SIGTERM', 0));
  process.once('exit', () => {
    for (const n of nodes) if (n.child && n.child.exitCode === null) n.child.kill('SIGKILL');
  });
  const onNodeExit = (n: DemoNode, code: number | null) => {
    if (!stopping) void stop(`node ${n.id} exited (${code})`, 1);
  };

  await Promise.all(nodes.map((n) => startNode(n, ports, onNodeExit)));
  await bindChangeSchema(nodes.map((n) => `http://${HOST}:${n.port}`));

  const connect = (id: string, source: string) => {
    const c = new MeshgateClient({ url: wsUrl(id), WebSocket: WebSocket as unknown as WebSocketConstructor, source });
    c.on('error', (err) => process.stderr.write(`[${source}] ${err.code}: ${err.message}\n`));
    clients.push(c);
    return c;
  };
  const delivered = { analytics: 0, crm: 0, audit: 0 };
  await connect('ap', 'analytics').subscribe('db.orders.>', () => delivered.analytics++);
  await connect('eu', 'crm').subscribe('db.customers.>', () => delivered.crm++);
  await connect('us', 'audit').subscribe('db.*.delete', () => delivered.audit++);
  const ordersDb = connect('eu', '/debezium/postgresql/shop');
  const customersDb = connect('us', '/debezium/postgresql/shop');
  await Promise.all([ordersDb.connect(), customersDb.connect()]);

  const feed = new ChangeFeed(Date.now() & 0xffff);
  let published = 0;
  let refused = 0;
  let deadLettered = 0;
  // Steady rate: a tick every 50 ms (or slower) emits what is due since the start.
  const started = Date.now();
  timer = setInterval(
    () => {
      const due = Math.floor(((Date.now() - started) * rate) / 1000) - published;
      for (let i = 0; i < due; i++) {
        const change = badEvery > 0 && (published + 1) % badEvery === 0 ? feed.broken() : feed.next();
        const db = change.topic.startsWith('db.orders.') ? ordersDb : customersDb;
        published++;
        db.publish(change.topic, change.event).catch((err) => {
          if (err.code === 'MG_ERR_EVENT_SCHEMA') {
            deadLettered++; // the broken-on-purpose changes: see the console's dead letters
            return;
          }
          refused++;
          if (!stopping) process.stderr.write(`publish ${change.topic}: ${err.code}: ${err.message}\n`);
        });
      }
    },
    Math.max(10, Math.min(50, 1000 / rate)),
  );

  const http = (id: string) => `http://${HOST}:${ports.get(id)}`;
  process.stdout.write(
    `\nmeshgate demo: three regions on loopback\n` +
      nodes.map((n) => `  ${n.id.padEnd(3)} ${n.region.padEnd(9)} ${http(n.id)}${n.dials.length ? `  (dials ${n.dials.join(', ')})` : ''}\n`).join('') +
      `  producer     orders db -> eu, customers db -> us: ${rate} changes/s (Debezium-style before/after/op/source)\n` +
      `  services     analytics@ap db.orders.>   crm@eu db.customers.>   audit@us db.*.delete\n` +
      `  schema       db-change-event bound to db.> on eu, replicated to us and ap` +
      (badEvery > 0 ? `; every ${badEvery}th change is broken on purpose -> _mg.deadletter.db.>\n\n` : '\n\n') +
      `  console:     ${http('eu')}/console\n` +
      `  (also on ${http('us')}/console and ${http('ap')}/console)\n\n` +
      `Ctrl-C stops everything.\n`,
  );
  statusTimer = setInterval(() => {
    process.stdout.write(
      `published ${published} (${deadLettered} dead-lettered by schema, ${refused} refused) · delivered analytics ${delivered.analytics} · crm ${delivered.crm} · audit ${delivered.audit}\n`,
    );
  }, 10_000);
}

/**
 * Registers the shipped change-event schema on the first node, bound to
 * db.>, as an operator would (the registry's HTTP API), and waits until
 * the peer links have carried it to every node, so every producer is
 * validated from its first change.
 */
async function bindChangeSchema(httpUrls: string[]): Promise<void> {
  const res = await fetch(`${httpUrls[0]}/v1/schemas/subjects/db-change-event/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ schema: shippedSchema('db-change-event'), topics: ['db.>'] }),
  });
  if (!res.ok) throw new Error(`registering db-change-event: HTTP ${res.status} ${await res.text()}`);
  const deadline = Date.now() + 10_000;
  for (const url of httpUrls) {
    while (!((await (await fetch(`${url}/v1/schemas/subjects`)).json()) as string[]).includes('db-change-event')) {
      if (Date.now() > deadline) throw new Error(`the db-change-event schema did not reach ${url} within 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

main().catch((err) => {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
