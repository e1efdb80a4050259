import assert from 'node:assert/strict';
import { createHmac, sign as cryptoSign, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import fc from 'fast-check';
import WebSocket from 'ws';
import { signHs256 } from '../../../broker/auth/mod.js';
import type { ConfigLayer } from '../../../broker/config/mod.js';
import type { RunningNode } from '../../../broker/node/internal.js';
import { filterMatches } from '../../../routing/mod.js';
import { makeTestPki } from '../../helpers/certs.js';
import { ce, FrameClient, startTestNode } from '../../helpers/node.js';
import { testTmpDir } from '../../helpers/tmp.js';

const SECRET = 'ws-auth-test-secret-0123456789';
const STATIC = 'static-ops-token-0123456789';

type Rules = { allow?: string[]; deny?: string[] };

function token(perms: { pub?: Rules | string[]; sub?: Rules | string[] }, claims: Record<string, unknown> = {}): string {
  return signHs256({ sub: 'tester', exp: Math.floor(Date.now() / 1000) + 600, perms, ...claims }, SECRET);
}

const ADMIN = () => token({ pub: ['>', '_mg.>'], sub: ['>', '_mg.>'] });

async function authNode(t: TestContext, extra: ConfigLayer = {}): Promise<RunningNode> {
  return startTestNode(t, {
    auth: { jwt: { secret: SECRET, clockSkewSec: 0 }, tokens: [{ name: 'ops', token: STATIC, sub: ['_mg.>'] }], ...(extra.auth ?? {}) },
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'auth')),
  });
}

function withToken(url: string, tok: string | undefined): string {
  if (tok === undefined) return url;
  const u = new URL(url);
  u.searchParams.set('token', tok);
  return u.toString();
}

/** Opens a client-protocol socket and waits for hello; `token` in the query unless `headers` carry it. */
async function open(t: TestContext, url: string, tok?: string, headers: Record<string, string> = {}): Promise<FrameClient> {
  const socket = new WebSocket(withToken(url, tok), 'meshgate.v1.json', { headers });
  const client = new FrameClient(socket, false);
  t.after(() => socket.terminate());
  await client.waitFor((f) => f.op === 'hello');
  return client;
}

/** The HTTP answer to an upgrade that should be refused: status and body. */
async function refusal(
  url: string,
  options: { token?: string; headers?: Record<string, string>; protocol?: string } = {},
): Promise<{ status: number; body: string }> {
  const socket = new WebSocket(withToken(url, options.token), options.protocol ?? 'meshgate.v1.json', { headers: options.headers ?? {} });
  socket.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    socket.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      const tcp = req.socket;
      res.on('end', () => {
        req.destroy();
        tcp?.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    socket.once('open', () => {
      socket.terminate();
      reject(new Error('the upgrade was accepted'));
    });
  });
}

function rejected(node: RunningNode, code: string): number {
  const m = node.node.metrics.snapshot().meshgate_events_rejected_total;
  return typeof m === 'object' ? (m[`code=${code}`] ?? 0) : 0;
}

/** Every earlier frame from this client has been handled, and every event queued for it before has arrived. */
async function settle(...clients: FrameClient[]): Promise<void> {
  for (const c of clients) assert.equal((await c.request({ op: 'ping' })).op, 'pong');
}

function eventIds(c: FrameClient): string[] {
  return c.events().map((f) => (f.event as { id: string }).id);
}

test('auth on: upgrades without a valid credential get 401 with their code, before any WebSocket exists', async (t) => {
  const node = await authNode(t);
  const url = node.wsUrl;
  const cases: Array<[string, { token?: string; headers?: Record<string, string> }, string]> = [
    ['no credential', {}, 'MG_ERR_AUTH_REQUIRED'],
    ['an unknown static token', { token: 'not-a-token-at-all' }, 'MG_ERR_AUTH_INVALID'],
    ['a JWT signed with another secret', { token: signHs256({ perms: { sub: ['>'] } }, 'another-secret-0123456789') }, 'MG_ERR_AUTH_INVALID'],
    [
      'alg none',
      { token: `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"perms":{"sub":[">"]}}').toString('base64url')}.` },
      'MG_ERR_AUTH_INVALID',
    ],
    ['an expired JWT', { token: token({ sub: ['>'] }, { exp: Math.floor(Date.now() / 1000) - 5 }) }, 'MG_ERR_AUTH_EXPIRED'],
    ['a JWT not valid yet', { token: token({ sub: ['>'] }, { nbf: Math.floor(Date.now() / 1000) + 300 }) }, 'MG_ERR_AUTH_INVALID'],
    ['a malformed Bearer header', { headers: { Authorization: 'Bearer x.y.z' } }, 'MG_ERR_AUTH_INVALID'],
  ];
  for (const [what, options, code] of cases) {
    const before = rejected(node, code);
    const r = await refusal(url, options);
    assert.equal(r.status, 401, what);
    assert.ok(r.body.startsWith(`${code}:`), `${what}: ${r.body}`);
    assert.equal(rejected(node, code), before + 1, `${what} counted`);
  }
  // The CloudEvents binding is guarded the same way.
  const ceRefusal = await refusal(`ws://127.0.0.1:${node.port}/v1/ce/a.%3E`, { protocol: 'cloudevents.json' });
  assert.equal(ceRefusal.status, 401);
  assert.equal(node.connections(), 0);
});

test('auth on: a token in ?token= or Authorization: Bearer, or a static token, opens a session', async (t) => {
  const node = await authNode(t);
  const viaQuery = await open(t, node.wsUrl, ADMIN());
  const viaHeader = await open(t, node.wsUrl, undefined, { Authorization: `Bearer ${ADMIN()}` });
  const ops = await open(t, node.wsUrl, STATIC);
  assert.equal((await ops.request({ op: 'sub', filter: '_mg.>' })).op, 'ok');
  assert.equal((await ops.request({ op: 'sub', filter: 'orders.>' })).code, 'MG_ERR_AUTH_FORBIDDEN');
  assert.equal((await viaQuery.request({ op: 'pub', topic: '_mg.system.x', event: ce('m1') })).op, 'ok');
  await ops.waitFor((f) => f.op === 'event' && f.topic === '_mg.system.x');
  await settle(viaHeader);
});

test('ES256 and RS256 tokens verified with auth.jwt.publicKeyFiles open sessions; an HS256 token keyed with the public key gets 401', async (t) => {
  const dir = testTmpDir(t, 'mg-keys');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ecPem = ec.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  writeFileSync(join(dir, 'ec.pem'), ecPem);
  writeFileSync(join(dir, 'rsa.pem'), rsaPem);
  const node = await startTestNode(t, { auth: { jwt: { publicKeyFiles: [join(dir, 'ec.pem'), join(dir, 'rsa.pem')], audience: 'mesh' } } });
  const jws = (alg: string, sign: (data: Buffer) => Buffer, claims: Record<string, unknown>) => {
    const input = `${Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${sign(Buffer.from(input)).toString('base64url')}`;
  };
  const claims = { aud: 'mesh', exp: Math.floor(Date.now() / 1000) + 60, perms: { sub: ['>'] } };
  const es = await open(
    t,
    node.wsUrl,
    jws('ES256', (d) => cryptoSign('sha256', d, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }), claims),
  );
  const rs = await open(
    t,
    node.wsUrl,
    jws('RS256', (d) => cryptoSign('sha256', d, rsa.privateKey), claims),
  );
  await settle(es, rs);
  const forged = jws('HS256', (d) => createHmac('sha256', rsaPem).update(d).digest(), claims);
  const r = await refusal(node.wsUrl, { token: forged });
  assert.equal(r.status, 401);
  assert.match(r.body, /^MG_ERR_AUTH_INVALID: HS256 is not accepted/);
  const wrongAud = await refusal(node.wsUrl, { token: jws('RS256', (d) => cryptoSign('sha256', d, rsa.privateKey), { ...claims, aud: 'other' }) });
  assert.equal(wrongAud.status, 401);
});

test('origins outside auth.allowedOrigins get 403 MG_ERR_ORIGIN_FORBIDDEN even with a valid token', async (t) => {
  const node = await authNode(t, { auth: { allowedOrigins: ['https://app.example.com'] } });
  const r = await refusal(node.wsUrl, { token: ADMIN(), headers: { Origin: 'https://evil.example' } });
  assert.equal(r.status, 403);
  assert.match(r.body, /^MG_ERR_ORIGIN_FORBIDDEN:/);
  assert.equal(rejected(node, 'MG_ERR_ORIGIN_FORBIDDEN'), 1);
  await open(t, node.wsUrl, ADMIN(), { Origin: 'https://app.example.com' });
  // Origin is checked with auth off too.
  const open2 = await startTestNode(t, { auth: { allowedOrigins: ['https://app.example.com'] } });
  assert.equal((await refusal(open2.wsUrl, { headers: { Origin: 'http://localhost:3000' } })).status, 403);
  await open(t, open2.wsUrl);
});

test('a publisher without rights gets MG_ERR_AUTH_FORBIDDEN for each of N events, and no subscriber receives any', async (t) => {
  const node = await authNode(t);
  const watcher = await open(t, node.wsUrl, ADMIN());
  assert.equal((await watcher.request({ op: 'sub', filter: '>' })).op, 'ok');
  assert.equal((await watcher.request({ op: 'sub', filter: '_mg.>' })).op, 'ok');
  const pub = await open(t, node.wsUrl, token({ pub: { allow: ['orders.>'], deny: ['orders.secret'] } }));
  const N = 50;
  for (let i = 0; i < N; i++) {
    const topic = ['payroll.x', 'orders.secret', '_mg.dlq', 'x'][i % 4];
    const reply = await pub.request({ op: 'pub', topic, event: ce(`forbidden-${i}`) });
    assert.equal(reply.code, 'MG_ERR_AUTH_FORBIDDEN', topic);
  }
  // Unacked publishes and batches are refused the same way.
  pub.send({ op: 'pub', topic: 'payroll.y', event: ce('forbidden-noack') });
  pub.send({
    op: 'pubs',
    ref: 'batch',
    items: [
      { topic: 'payroll.z', event: ce('forbidden-b') },
      { topic: 'orders.ok', event: ce('allowed-b') },
    ],
  });
  assert.equal((await pub.waitFor((f) => f.ref === 'batch' && f.op === 'ok')).accepted, 1);
  assert.equal((await pub.waitFor((f) => f.ref === 'batch' && f.op === 'err')).code, 'MG_ERR_AUTH_FORBIDDEN');
  assert.equal((await pub.request({ op: 'pub', topic: 'orders.new', event: ce('allowed') })).op, 'ok');
  await watcher.waitFor((f) => f.op === 'event' && (f.event as { id: string }).id === 'allowed');
  await settle(pub, watcher);
  assert.deepEqual(eventIds(watcher).sort(), ['allowed', 'allowed-b']);
  assert.ok(rejected(node, 'MG_ERR_AUTH_FORBIDDEN') >= N + 2);
});

test('a token that may publish only a.> cannot suppress the real b.billing event by publishing its (source, id) on a.decoy', async (t) => {
  const node = await authNode(t);
  const subscriber = await open(t, node.wsUrl, token({ sub: ['b.>'] }));
  assert.equal((await subscriber.request({ op: 'sub', filter: 'b.>' })).op, 'ok');
  const attacker = await open(t, node.wsUrl, token({ pub: ['a.>'] }));
  const producer = await open(t, node.wsUrl, token({ pub: ['b.billing'] }));
  const invoice = ce('invoice-42', { source: 'billing-svc' });
  const decoy = await attacker.request({ op: 'pub', topic: 'a.decoy', event: invoice });
  assert.equal(decoy.op, 'ok');
  assert.equal(decoy.duplicate, undefined);
  const real = await producer.request({ op: 'pub', topic: 'b.billing', event: invoice });
  assert.equal(real.op, 'ok');
  assert.equal(real.duplicate, undefined, 'the authorized event is not taken for a duplicate');
  const got = await subscriber.waitFor((f) => f.op === 'event');
  assert.equal(got.topic, 'b.billing');
  assert.equal((got.event as { id: string }).id, 'invoice-42');
  // A retry on the same topic is still one event, acked as a duplicate.
  assert.equal((await producer.request({ op: 'pub', topic: 'b.billing', event: invoice })).duplicate, true);
  assert.equal((await attacker.request({ op: 'pub', topic: 'a.decoy', event: invoice })).duplicate, true);
  await settle(producer, attacker, subscriber);
  assert.deepEqual(eventIds(subscriber), ['invoice-42']);
});

test('auth on: even a token with _mg.> gets MG_ERR_TOPIC_RESERVED publishing to _mg.deadletter.x or _mg.sys.x; it still reads them', async (t) => {
  const node = await authNode(t);
  const admin = await open(t, node.wsUrl, ADMIN());
  assert.equal((await admin.request({ op: 'sub', filter: '_mg.deadletter.>' })).op, 'ok');
  for (const topic of ['_mg.deadletter.x', '_mg.sys.x']) {
    const reply = await admin.request({ op: 'pub', topic, event: ce(`forged-${topic}`) });
    assert.equal(reply.code, 'MG_ERR_TOPIC_RESERVED', topic);
  }
  await settle(admin);
  assert.deepEqual(eventIds(admin), []);
  assert.equal(rejected(node, 'MG_ERR_TOPIC_RESERVED'), 2);
});

test('a subscriber without rights is refused, and a > subscriber with partial rights receives only what it may see', async (t) => {
  const node = await authNode(t);
  const admin = await open(t, node.wsUrl, ADMIN());
  const limited = await open(t, node.wsUrl, token({ sub: { allow: ['orders.>', 'public.*'], deny: ['orders.*.pii'] } }));
  assert.equal((await limited.request({ op: 'sub', filter: 'payroll.>' })).code, 'MG_ERR_AUTH_FORBIDDEN');
  assert.equal((await limited.request({ op: 'sub', filter: 'orders.*.pii' })).code, 'MG_ERR_AUTH_FORBIDDEN');
  assert.equal((await limited.request({ op: 'sub', filter: '_mg.>' })).code, 'MG_ERR_AUTH_FORBIDDEN');
  assert.equal((await limited.request({ op: 'sub', filter: '>' })).op, 'ok');
  // The CloudEvents binding: a forbidden filter is refused at upgrade, a partial one filtered.
  const ceUrl = (filter: string) => `ws://127.0.0.1:${node.port}/v1/ce/${encodeURIComponent(filter)}`;
  const ceToken = token({ sub: { allow: ['orders.>'], deny: ['orders.*.pii'] } });
  const ceRefused = await refusal(ceUrl('payroll.>'), { token: ceToken, protocol: 'cloudevents.json' });
  assert.equal(ceRefused.status, 403);
  assert.match(ceRefused.body, /^MG_ERR_AUTH_FORBIDDEN:/);
  const ceWide = new WebSocket(withToken(ceUrl('>'), ceToken), 'cloudevents.json');
  t.after(() => ceWide.terminate());
  const ceGot: string[] = [];
  ceWide.on('message', (raw: Buffer) => void ceGot.push((JSON.parse(raw.toString()) as { id: string }).id));
  await new Promise((resolve) => ceWide.once('open', resolve));

  const N = 40;
  const forbidden = ['payroll.salary', 'orders.7.pii', '_mg.dlq.orders', 'public.a.b', 'x'];
  for (let i = 0; i < N; i++) assert.equal((await admin.request({ op: 'pub', topic: forbidden[i % forbidden.length], event: ce(`no-${i}`) })).op, 'ok');
  for (const [i, topic] of ['orders.1', 'orders.7.total', 'public.news'].entries()) await admin.request({ op: 'pub', topic, event: ce(`yes-${i}`) });
  await limited.waitFor((f) => f.op === 'event' && (f.event as { id: string }).id === 'yes-2');
  await settle(admin, limited);
  assert.deepEqual(eventIds(limited), ['yes-0', 'yes-1', 'yes-2']);
  await new Promise<void>((resolve) => {
    const check = () => (ceGot.includes('yes-1') ? resolve() : ceWide.once('message', check));
    check();
  });
  assert.deepEqual(ceGot, ['yes-0', 'yes-1']);
  // Both subscriptions are narrowed to orders.> (and public.*), so of the
  // forbidden topics only orders.7.pii reaches the per-delivery check, once
  // per connection; the rest never get routed to them.
  assert.equal(node.node.metrics.snapshot().meshgate_auth_filtered_deliveries_total, (2 * N) / forbidden.length);
});

test('a partial subscription registers only its readable part with the router; client filters keep their own sub/unsub/limit semantics', async (t) => {
  const node = await authNode(t, { limits: { maxSubscriptionsPerConnection: 2 } });
  const admin = await open(t, node.wsUrl, ADMIN());
  const client = await open(t, node.wsUrl, token({ sub: { allow: ['a.>', 'b.*'], deny: ['b.secret'] } }));
  const local = () => node.node.localFilters().sort();
  assert.equal((await client.request({ op: 'sub', filter: '>' })).op, 'ok');
  assert.deepEqual(local(), ['a.>', 'b.*'], '> narrowed to what the token reads (b.secret stays a per-delivery check)');
  assert.equal((await client.request({ op: 'sub', filter: 'a.>' })).op, 'ok');
  assert.deepEqual(local(), ['a.>', 'b.*'], 'a.> shares the registration > needs');
  // The limit counts client filters (2), not router filters.
  assert.equal((await client.request({ op: 'sub', filter: 'b.x' })).code, 'MG_ERR_SUB_LIMIT');
  for (const [i, topic] of ['a.1', 'b.secret', 'c.1', 'b.2', 'a.x.y'].entries())
    assert.equal((await admin.request({ op: 'pub', topic, event: ce(`e${i}`) })).op, 'ok');
  await settle(admin, client);
  assert.deepEqual(eventIds(client), ['e0', 'e3', 'e4'], 'each readable event once, though > and a.> both match a.*');
  assert.equal(node.node.metrics.snapshot().meshgate_auth_filtered_deliveries_total, 1, 'only b.secret reached the per-delivery check; c.1 never got here');

  assert.equal((await client.request({ op: 'unsub', filter: '>' })).op, 'ok');
  assert.deepEqual(local(), ['a.>'], 'b.* was only needed by >');
  assert.equal((await client.request({ op: 'unsub', filter: '>' })).code, 'MG_ERR_SUB_UNKNOWN');
  assert.equal((await admin.request({ op: 'pub', topic: 'a.2', event: ce('after') })).op, 'ok');
  await client.waitFor((f) => f.op === 'event' && (f.event as { id: string }).id === 'after');
  assert.equal((await client.request({ op: 'sub', filter: 'b.*' })).op, 'ok');
  await client.close();
  assert.deepEqual(local(), [], 'close removes exactly what was registered');

  // The CloudEvents binding registers the same narrowed filters, and drops them on close.
  const ceSocket = new WebSocket(
    withToken(`ws://127.0.0.1:${node.port}/v1/ce/${encodeURIComponent('*.x')}`, token({ sub: ['a.*', 'b.>', 'c.y'] })),
    'cloudevents.json',
  );
  t.after(() => ceSocket.terminate());
  await new Promise((resolve) => ceSocket.once('open', resolve));
  await settle(admin);
  assert.deepEqual(local(), ['a.x', 'b.x']);
  ceSocket.close();
  await new Promise((resolve) => ceSocket.once('close', resolve));
  assert.deepEqual(local(), []);
});

test('a token that expires during a session closes it with 4401 MG_ERR_AUTH_EXPIRED', async (t) => {
  const node = await authNode(t);
  const exp = Math.floor(Date.now() / 1000) + 2;
  const client = await open(t, node.wsUrl, token({ sub: ['>'] }, { exp }));
  assert.equal((await client.request({ op: 'sub', filter: 'a.>' })).op, 'ok');
  const { code, reason } = await client.closed;
  assert.equal(code, 4401);
  assert.match(reason, /^MG_ERR_AUTH_EXPIRED/);
  assert.ok(Date.now() >= exp * 1000 - 5);
  assert.equal(rejected(node, 'MG_ERR_AUTH_EXPIRED'), 1);
  assert.deepEqual(node.node.localFilters(), [], 'its subscription is gone');
});

test('property: a client receives exactly the events its permissions allow (fast-check, brute-force model)', async (t) => {
  const node = await authNode(t);
  const admin = await open(t, node.wsUrl, ADMIN());
  const tokens = ['a', 'b', '_mg'];
  const topicArb = fc.array(fc.constantFrom(...tokens, 'c'), { minLength: 1, maxLength: 3 }).map((ts) => ts.join('.'));
  const filterArb = fc
    .array(fc.constantFrom(...tokens, '*', '>'), { minLength: 1, maxLength: 3 })
    .filter((ts) => ts.indexOf('>') === -1 || ts.indexOf('>') === ts.length - 1)
    .map((ts) => ts.join('.'));
  const rulesArb = fc.record({ allow: fc.array(filterArb, { maxLength: 3 }), deny: fc.array(filterArb, { maxLength: 2 }) });
  const readable = (rules: { allow: string[]; deny: string[] }, topic: string) =>
    !rules.deny.some((d) => filterMatches(d, topic)) &&
    rules.allow.some((a) => filterMatches(a, topic) && (!topic.startsWith('_mg.') || a.split('.')[0] === '_mg'));
  let run = 0;
  await fc.assert(
    fc.asyncProperty(
      rulesArb,
      fc.uniqueArray(filterArb, { minLength: 1, maxLength: 3 }),
      fc.uniqueArray(topicArb, { minLength: 1, maxLength: 12 }),
      async (rules, filters, topics) => {
        run++;
        const client = await open(t, node.wsUrl, token({ sub: rules }));
        const held: string[] = [];
        for (const filter of filters) {
          const reply = await client.request({ op: 'sub', filter });
          if (reply.op === 'ok') held.push(filter);
          else assert.equal(reply.code, 'MG_ERR_AUTH_FORBIDDEN');
        }
        for (const [i, topic] of topics.entries()) assert.equal((await admin.request({ op: 'pub', topic, event: ce(`p${run}-${i}`) })).op, 'ok');
        await settle(admin, client);
        const expected = topics.flatMap((topic, i) => (readable(rules, topic) && filters.some((f) => filterMatches(f, topic)) ? [`p${run}-${i}`] : []));
        assert.deepEqual(eventIds(client), expected, JSON.stringify({ rules, filters, held, topics }));
        // A refused subscription really had nothing readable in it.
        for (const f of filters.filter((x) => !held.includes(x))) assert.ok(!topics.some((tp) => filterMatches(f, tp) && readable(rules, tp)), f);
        await client.close();
      },
    ),
    { numRuns: 60 },
  );
});

test('limits: connections per address get 429 MG_ERR_CONN_LIMIT, connection rate 429 MG_ERR_CONN_RATE', async (t) => {
  const count = await startTestNode(t, { limits: { maxConnectionsPerIp: 2 } });
  const a = await open(t, count.wsUrl);
  await open(t, count.wsUrl);
  const r = await refusal(count.wsUrl);
  assert.equal(r.status, 429);
  assert.match(r.body, /^MG_ERR_CONN_LIMIT:/);
  assert.equal(rejected(count, 'MG_ERR_CONN_LIMIT'), 1);
  await a.close();
  await open(t, count.wsUrl); // a slot is free again
  const rate = await startTestNode(t, { limits: { connectionRatePerIp: 0.001, connectionBurstPerIp: 3 } });
  for (let i = 0; i < 3; i++) await (await open(t, rate.wsUrl)).close();
  const r2 = await refusal(rate.wsUrl);
  assert.equal(r2.status, 429);
  assert.match(r2.body, /^MG_ERR_CONN_RATE:/);
  assert.equal(rejected(rate, 'MG_ERR_CONN_RATE'), 1);
});

test('limits: a connection publishing past limits.publishRate gets MG_ERR_PUB_RATE and its extra events go nowhere', async (t) => {
  const node = await startTestNode(t, { limits: { publishRate: 0.001, publishBurst: 5 } });
  const sub = await open(t, node.wsUrl);
  await sub.request({ op: 'sub', filter: 'r.>' });
  const pub = await open(t, node.wsUrl);
  const replies = [];
  for (let i = 0; i < 20; i++) replies.push(await pub.request({ op: 'pub', topic: 'r.x', event: ce(`r${i}`) }));
  assert.deepEqual(
    replies.map((r) => r.op),
    [...Array(5).fill('ok'), ...Array(15).fill('err')],
  );
  assert.ok(replies.slice(5).every((r) => r.code === 'MG_ERR_PUB_RATE'));
  await settle(pub, sub);
  assert.deepEqual(eventIds(sub), ['r0', 'r1', 'r2', 'r3', 'r4']);
  assert.equal(rejected(node, 'MG_ERR_PUB_RATE'), 15);
  // The CloudEvents binding has no error frame: it closes with 4429.
  const ceSock = new WebSocket(`ws://127.0.0.1:${node.port}/v1/ce/r.y`, 'cloudevents.json');
  t.after(() => ceSock.terminate());
  await new Promise((resolve) => ceSock.once('open', resolve));
  const closed = new Promise<[number, string]>((resolve) => ceSock.once('close', (code: number, reason: Buffer) => resolve([code, reason.toString()])));
  for (let i = 0; i < 6; i++) ceSock.send(JSON.stringify(ce(`c${i}`)));
  const [code, reason] = await closed;
  assert.equal(code, 4429);
  assert.match(reason, /^MG_ERR_PUB_RATE/);
});

test('TLS on the client endpoint: wss:// and https:// with the configured certificate', async (t) => {
  const pki = makeTestPki();
  t.after(() => pki.remove());
  const node = await startTestNode(t, { tls: { ...pki.cert('client-endpoint') } });
  assert.match(node.wsUrl, /^wss:\/\//);
  const socket = new WebSocket(node.wsUrl, 'meshgate.v1.json', { ca: readFileSync(pki.caFile) });
  const client = new FrameClient(socket, false);
  t.after(() => socket.terminate());
  assert.equal((await client.waitFor((f) => f.op === 'hello')).op, 'hello');
  assert.equal((await client.request({ op: 'ping' })).op, 'pong');
  const health = await new Promise<number>((resolve, reject) => {
    get(`${node.httpUrl}/healthz`, { ca: readFileSync(pki.caFile) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
  assert.match(node.httpUrl, /^https:\/\//);
  assert.equal(health, 200);
  // A client that does not trust the CA fails the handshake.
  const untrusting = new WebSocket(node.wsUrl, 'meshgate.v1.json');
  const err = await new Promise<Error>((resolve) => untrusting.once('error', resolve));
  assert.match(err.message, /self-signed|unable to verify|certificate/i);
});
