import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, type TestContext, test } from 'node:test';
import type { Browser } from 'playwright-core';
import WebSocket, { WebSocketServer } from 'ws';
import { MeshgateClient, type WebSocketConstructor } from '../../client/mod.js';
import { awaitInterest, awaitLinks, type NodeProcess, startMesh } from '../helpers/mesh.js';
import { launchChromium, openPage, screenshot, type WatchedPage } from './browser.js';

// One mesh and one browser for the file:
//
//        eu ──── us         eu dials us and ap, us dials ap: the console on
//          \    /           eu reaches every node's /v1/peers and can draw
//            ap             every link.
const EDGES: Array<[string, string]> = [
  ['eu', 'us'],
  ['eu', 'ap'],
  ['us', 'ap'],
];
const cleanups: Array<() => unknown> = [];
const fileContext = { after: (fn: () => unknown) => void cleanups.push(fn) } as unknown as TestContext;
let nodes: Map<string, NodeProcess>;
let browser: Browser;
let consolePage: WatchedPage;

before(async () => {
  [nodes, browser] = await Promise.all([startMesh(fileContext, ['eu', 'us', 'ap'], EDGES), launchChromium()]);
  cleanups.push(() => browser.close());
  await awaitLinks(nodes, EDGES);
  consolePage = await openPage(null, browser, `${node('eu').httpUrl}/console`);
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

function node(id: string): NodeProcess {
  return nodes.get(id)!;
}

function nodeClient(t: TestContext, id: string): MeshgateClient {
  const c = new MeshgateClient({ url: node(id).wsUrl, WebSocket: WebSocket as unknown as WebSocketConstructor, source: 'console-test' });
  t.after(() => c.close());
  return c;
}

test('the console served by a node loads and draws the three nodes of the mesh and their three links, up', async () => {
  const { page } = consolePage;
  await page.locator('#conn[data-state="open"]').waitFor();
  await page.waitForFunction(
    () => document.querySelectorAll('#mesh [data-node]').length === 3 && document.querySelectorAll('#mesh .link[data-state="up"]').length === 3,
  );
  const drawn = await page.$$eval('#mesh [data-node]', (els) => els.map((e) => `${e.getAttribute('data-node')}:${e.getAttribute('data-state')}`).sort());
  assert.deepEqual(drawn, ['ap:up', 'eu:up', 'us:up']);
  const links = await page.$$eval('#mesh .link', (els) => els.map((e) => e.getAttribute('data-link')).sort());
  assert.deepEqual(links, ['ap|eu', 'ap|us', 'eu|us']);
  assert.match(await page.locator('#identity').innerText(), /node eu · region region-eu/);
  await screenshot(page, 'mesh-up');
  assert.deepEqual(consolePage.pageErrors, []);
});

test('typing a filter in the live tail shows live events from another region, and topic rates count them', async (t) => {
  const { page } = consolePage;
  await page.fill('#tail-filter', 'shop.orders.>');
  await page.press('#tail-filter', 'Enter');
  await page.locator('#tail-status', { hasText: 'tailing shop.orders.>' }).waitFor();
  // Published on ap: each event crosses the ap-eu link to reach the page.
  const producer = nodeClient(t, 'ap');
  // The page's subscription reaches ap as interest; publish until the first event shows up there.
  const deadline = Date.now() + 10_000;
  let n = 0;
  const publishing = (async () => {
    while (Date.now() < deadline && (await page.locator('#tail li').count()) < 3) {
      await producer.publish(`shop.orders.${n % 2 === 0 ? 'insert' : 'update'}`, { type: 'order', data: { order_id: n++, status: 'paid' } });
      await producer.publish('shop.customers.insert', { type: 'customer', data: { id: n } });
    }
  })();
  await page.locator('#tail li[data-topic="shop.orders.insert"]').first().waitFor();
  await publishing;
  const topics = await page.$$eval('#tail li', (els) => els.map((e) => e.getAttribute('data-topic')));
  assert.ok(topics.length >= 3);
  assert.ok(
    topics.every((x) => x?.startsWith('shop.orders.')),
    `only the tailed filter: ${topics.join(',')}`,
  );
  assert.match(await page.locator('#tail li').first().innerText(), /shop\.orders\.\w+ order ap→eu/);
  // The rates table counts every topic (the page subscribes to >).
  await page.locator('#rates tr[data-topic="shop.customers.insert"]').waitFor();
  await screenshot(page, 'live-tail');
  assert.deepEqual(consolePage.pageErrors, []);
});

test('a dead letter on _mg.deadletter.> shows in the console with its reasons', async (t) => {
  const { page } = consolePage;
  // A real refusal on the page's own node: only nodes publish dead letters
  // (a client's publish to _mg.deadletter.> is MG_ERR_TOPIC_RESERVED).
  const schema = { type: 'object', properties: { after: { type: 'object', properties: { total_cents: { type: 'integer' } } } } };
  const registered = await fetch(`${node('eu').httpUrl}/v1/schemas/subjects/console-orders/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ schema, topics: ['db.orders.insert'] }),
  });
  assert.equal(registered.status, 200, await registered.clone().text());
  const producer = nodeClient(t, 'eu');
  await assert.rejects(
    producer.publish('db.orders.insert', { type: 'order', data: { after: { total_cents: '12.50' } } }),
    (err: { code?: string }) => err.code === 'MG_ERR_EVENT_SCHEMA',
  );
  const row = page.locator('#deadletters tr[data-topic="_mg.deadletter.db.orders.insert"]');
  await row.waitFor();
  assert.match(await row.innerText(), /\/after\/total_cents: must be integer/);
  assert.deepEqual(consolePage.pageErrors, []);
});

test('a filter the node refuses shows its error code in the console', async () => {
  const { page } = consolePage;
  await page.fill('#tail-filter', 'shop..orders');
  await page.press('#tail-filter', 'Enter');
  await page.locator('#tail-status[data-code="MG_ERR_TOPIC_INVALID"]').waitFor();
  assert.match(await page.locator('#tail-status').innerText(), /^MG_ERR_TOPIC_INVALID: /);
});

test('the client library in a page subscribes, receives, survives a restart of its node (resubscribes) and reports errors by code', async (t) => {
  // A page from us, whose node the test restarts; the library is imported from the node itself.
  const watched = await openPage(t, browser, `${node('us').httpUrl}/console?rates=0`);
  const { page } = watched;
  await page.evaluate(async () => {
    const { MeshgateClient } = await import('/v1/client/meshgate-client.js' as string);
    const w = window as unknown as Record<string, unknown>;
    const got: unknown[] = [];
    const states: string[] = [];
    const errors: string[] = [];
    const client = new MeshgateClient({ url: `ws://${location.host}/v1/ws`, backoffMinMs: 20, backoffMaxMs: 300 });
    client.on('state', (s: string) => states.push(s));
    client.on('restored', (f: string[]) => (w.restored = f));
    client.on('error', (e: { code: string }) => errors.push(e.code));
    Object.assign(w, { lib: client, got, states, errors });
    await client.subscribe('lib.>', (e: { topic: string; json(): unknown; hops: Array<{ node: string }> }) =>
      got.push({ topic: e.topic, data: e.json(), via: e.hops.map((h) => h.node) }),
    );
  });
  // The page's filter reaches eu as interest before eu can route to it.
  await awaitInterest(nodes, 'lib.>', ['us']);
  const producer = nodeClient(t, 'eu');
  await producer.publish('lib.one', { type: 't', data: 1 });
  await page.waitForFunction(() => (window as unknown as { got: unknown[] }).got.length === 1);

  await node('us').stop();
  await page.waitForFunction(() => (window as unknown as { states: string[] }).states.includes('reconnecting'));
  await node('us').start();
  await page.waitForFunction(() => (window as unknown as { restored?: string[] }).restored !== undefined);
  assert.deepEqual(await page.evaluate(() => (window as unknown as { restored: string[] }).restored), ['lib.>']);
  await awaitLinks(nodes, EDGES);
  // The restored subscription reaches eu as interest again; publish until it is delivered.
  let n = 2;
  while ((await page.evaluate(() => (window as unknown as { got: unknown[] }).got.length)) < 2) {
    await producer.publish('lib.two', { type: 't', data: n++ });
    await page.waitForFunction(() => (window as unknown as { got: unknown[] }).got.length >= 2, undefined, { timeout: 200 }).catch(() => undefined);
  }
  const got = (await page.evaluate(() => (window as unknown as { got: Array<{ topic: string; data: unknown; via: string[] }> }).got)) as Array<{
    topic: string;
    data: number;
    via: string[];
  }>;
  assert.equal(got[0].topic, 'lib.one');
  assert.deepEqual(got[0].via, ['eu', 'us']);
  assert.equal(got[1].topic, 'lib.two');

  // Errors come back with their stable code, as MeshgateError.
  const refused = await page.evaluate(async () => {
    const { MeshgateError } = await import('/v1/client/meshgate-client.js' as string);
    const client = (window as unknown as { lib: { subscribe: (f: string, h: () => void) => Promise<unknown> } }).lib;
    try {
      await client.subscribe('lib..bad', () => undefined);
      return null;
    } catch (e) {
      return { code: (e as { code: string }).code, isMeshgateError: e instanceof MeshgateError, name: (e as Error).name };
    }
  });
  assert.deepEqual(refused, { code: 'MG_ERR_TOPIC_INVALID', isMeshgateError: true, name: 'MeshgateError' });
  assert.deepEqual(await page.evaluate(() => (window as unknown as { errors: string[] }).errors), [], 'no error events: a restart is not an error');
  await screenshot(page, 'client-after-restart');
  assert.deepEqual(watched.pageErrors, [], 'no unhandled errors in the page');
  assert.deepEqual(
    watched.consoleErrors.filter((m) => /Uncaught|unhandled/i.test(m)),
    [],
    'no unhandled rejections either',
  );
});

test('the client library in a page reports auth errors by code: MG_ERR_AUTH_FORBIDDEN for a refused subscribe, MG_ERR_AUTH_EXPIRED on close 4401', async (t) => {
  // Until auth is wired into /v1/ws (see auth-browser.pending.ts), a stand-in
  // endpoint answers as docs/protocol.md says an auth-enabled node does:
  // err frames with MG_ERR_AUTH_FORBIDDEN, close 4401 with the code as reason.
  const server = createServer();
  const wss = new WebSocketServer({ server });
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  });
  const tokens: string[] = [];
  wss.on('connection', (ws, req) => {
    const token = new URL(req.url!, 'http://x').searchParams.get('token') ?? '';
    tokens.push(token);
    ws.send(JSON.stringify({ op: 'hello', node: 'stand-in', region: 'r', version: '0' }));
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString()) as { ref: number; filter: string };
      if (f.filter.startsWith('payroll.'))
        ws.send(JSON.stringify({ op: 'err', ref: f.ref, code: 'MG_ERR_AUTH_FORBIDDEN', message: `may not subscribe to '${f.filter}'` }));
      else ws.send(JSON.stringify({ op: 'ok', ref: f.ref }));
      if (f.filter === 'expire.now') ws.close(4401, 'MG_ERR_AUTH_EXPIRED: the token expired');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/ws`;

  const watched = await openPage(t, browser, `${node('eu').httpUrl}/console?rates=0`);
  const result = await watched.page.evaluate(async (url) => {
    const { MeshgateClient, MeshgateError } = await import('/v1/client/meshgate-client.js' as string);
    const client = new MeshgateClient({ url, token: 'a-token' });
    const errors: string[] = [];
    client.on('error', (e: { code: string }) => errors.push(e.code));
    await client.subscribe('orders.>', () => undefined);
    let forbidden: unknown = null;
    try {
      await client.subscribe('payroll.>', () => undefined);
    } catch (e) {
      forbidden = { code: (e as { code: string }).code, typed: e instanceof MeshgateError };
    }
    const closed = new Promise((r) => client.on('state', (s: string) => s === 'closed' && r(null)));
    await client.subscribe('expire.now', () => undefined);
    await closed;
    return { forbidden, errors, state: client.state, filters: client.filters };
  }, url);
  assert.deepEqual(result, {
    forbidden: { code: 'MG_ERR_AUTH_FORBIDDEN', typed: true },
    errors: ['MG_ERR_AUTH_EXPIRED'],
    state: 'closed',
    filters: ['orders.>', 'expire.now'],
  });
  assert.deepEqual(tokens, ['a-token'], 'token sent as ?token=, and no reconnect after an expired token');
  assert.deepEqual(watched.pageErrors, []);
});

test('stopping a node turns its links to down in the picture', async () => {
  const { page } = consolePage;
  await node('ap').kill9();
  await page.waitForFunction(() => {
    const state = (link: string) => document.querySelector(`#mesh .link[data-link="${link}"]`)?.getAttribute('data-state');
    return state('ap|eu') === 'down' && state('ap|us') === 'down' && state('eu|us') === 'up';
  });
  assert.equal(await page.getAttribute('#mesh [data-node="ap"]', 'data-state'), 'down');
  assert.equal(await page.getAttribute('#mesh [data-node="us"]', 'data-state'), 'up');
  await screenshot(page, 'node-down');
  assert.deepEqual(consolePage.pageErrors, []);
});

test('a stream created on another node shows in the console with its events and offsets', async (t) => {
  const { page } = consolePage;
  const us = node('us');
  const created = await fetch(`${us.httpUrl}/v1/streams`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'orders', filters: ['kept.orders.>'] }),
  });
  assert.equal(created.status, 201);
  const producer = nodeClient(t, 'us');
  for (let i = 0; i < 3; i++) await producer.publish('kept.orders.insert', { type: 'order', data: { i } });
  const row = page.locator('#streams tr[data-stream="us/orders"]');
  await page.waitForFunction(() => document.querySelector('#streams tr[data-stream="us/orders"] td:nth-child(4)')?.textContent === '3');
  const cells = await row.locator('td').allInnerTexts();
  assert.deepEqual(cells.slice(0, 5), ['us', 'orders', 'kept.orders.>', '3', '1–3']);
  assert.deepEqual(consolePage.pageErrors, []);
});
