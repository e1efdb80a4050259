/** GET /v1/sse/<filter>: live Server-Sent Events from a real node to real HTTP clients and a real browser. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { type TestContext, test } from 'node:test';
import { signHs256 } from '../../../broker/auth/mod.js';
import type { RunningNode } from '../../../broker/node/internal.js';
import { launchChromium } from '../../console/browser.js';
import { ce, openClient, startTestNode } from '../../helpers/node.js';

const sseUrl = (node: RunningNode, filter: string) => `${node.httpUrl}/v1/sse/${encodeURIComponent(filter)}`;

/** An SSE stream read with node:http: raw text, and a wait for text to appear. */
function openStream(t: TestContext, url: string): Promise<{ res: http.IncomingMessage; text: () => string; waitFor: (re: RegExp) => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let text = '';
      const waiters: Array<{ re: RegExp; done: () => void }> = [];
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        for (const w of waiters.splice(0))
          if (w.re.test(text)) w.done();
          else waiters.push(w);
      });
      res.on('error', () => undefined);
      resolve({
        res,
        text: () => text,
        waitFor: (re) => (re.test(text) ? Promise.resolve() : new Promise((done) => waiters.push({ re, done }))),
      });
    });
    req.on('error', reject);
    t.after(() => req.destroy());
  });
}

/** The structured events of a stream: each message's data lines joined, parsed. */
function messages(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n\n')
    .map((block) =>
      block
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n'),
    )
    .filter((d) => d !== '')
    .map((d) => JSON.parse(d) as Record<string, unknown>);
}

test('an SSE stream gets events published over WebSocket as data: lines of structured CloudEvents', async (t) => {
  const node = await startTestNode(t);
  const stream = await openStream(t, sseUrl(node, 'orders.>'));
  assert.equal(stream.res.statusCode, 200);
  assert.match(stream.res.headers['content-type'] ?? '', /^text\/event-stream/);
  await stream.waitFor(/meshgate sse/);
  const pub = await openClient(t, node.wsUrl);
  await pub.request({ op: 'pub', topic: 'orders.eu', event: ce('w1', { subject: 's', data: { a: 1 } }) });
  await pub.request({ op: 'pub', topic: 'billing.eu', event: ce('other') });
  await pub.request({ op: 'pub', topic: 'orders.us', event: ce('w2') });
  await stream.waitFor(/"id":"w2"/);
  const got = messages(stream.text());
  assert.deepEqual(
    got.map((e) => e.id),
    ['w1', 'w2'],
  );
  assert.equal(got[0].subject, 's');
  assert.deepEqual(got[0].data, { a: 1 });
  assert.equal(got[0].mgprotocol, 'ws');
});

test('an SSE stream gets a heartbeat comment every http.sseHeartbeatMs', async (t) => {
  const node = await startTestNode(t, { http: { sseHeartbeatMs: 1000 } });
  const stream = await openStream(t, sseUrl(node, 'quiet.>'));
  await stream.waitFor(/\n: heartbeat\n\n/);
});

test('a bad filter is refused with 400 and a filter the token may not read with 403, both problem JSON before any stream', async (t) => {
  const secret = 'sse-test-secret-0123456789abcdef';
  const node = await startTestNode(t, { auth: { jwt: { secret } } });
  const tok = signHs256({ sub: 'r', exp: Math.floor(Date.now() / 1000) + 600, perms: { pub: [], sub: ['orders.>'] } }, secret);
  const bad = await fetch(`${sseUrl(node, 'a.>.b')}?token=${tok}`);
  assert.equal(bad.status, 400);
  assert.equal(bad.headers.get('content-type'), 'application/problem+json');
  assert.match(((await bad.json()) as { code: string }).code, /^MG_ERR_TOPIC_/);
  const forbidden = await fetch(sseUrl(node, 'billing.>'), { headers: { authorization: `Bearer ${tok}` } });
  assert.equal(forbidden.status, 403);
  assert.equal(((await forbidden.json()) as { code: string }).code, 'MG_ERR_AUTH_FORBIDDEN');
  const none = await fetch(sseUrl(node, 'orders.>'));
  assert.equal(none.status, 401);
  await none.body?.cancel();
  const ok = await fetch(`${sseUrl(node, 'orders.>')}?token=${tok}`);
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
});

test('a slow SSE reader (paused socket) is closed at limits.maxBufferedBytes and counted as a slow consumer', async (t) => {
  const node = await startTestNode(t, { limits: { maxBufferedBytes: 64 * 1024 } });
  const stream = await openStream(t, sseUrl(node, 'load.>'));
  await stream.waitFor(/meshgate sse/);
  stream.res.pause();
  stream.res.socket.pause();
  const closed = new Promise<void>((resolve) => stream.res.socket.once('close', () => resolve()));
  const pub = await openClient(t, node.wsUrl);
  const payload = 'p'.repeat(4096);
  for (let i = 0; i < 4000; i++) pub.send({ op: 'pub', topic: 'load.x', event: ce(`e${i}`, { datacontenttype: 'text/plain', data: payload }) });
  await pub.request({ op: 'ping' });
  const metrics = node.node.metrics.snapshot();
  assert.deepEqual(metrics.meshgate_slow_consumer_closes_total, { 'limit=socket': 1, 'limit=node': 0 });
  stream.res.socket.resume();
  stream.res.resume();
  await closed;
  assert.equal(node.node.metrics.snapshot().meshgate_sse_streams, 0);
});

test('a headless Chromium EventSource on /v1/sse/ receives events', async (t) => {
  const node = await startTestNode(t);
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${node.httpUrl}/healthz`);
  const received = page.evaluate(
    (u) =>
      new Promise<string>((resolve, reject) => {
        const source = new EventSource(u);
        source.onmessage = (m) => {
          source.close();
          resolve(m.data as string);
        };
        source.onerror = () => reject(new Error('EventSource error'));
      }),
    `/v1/sse/${encodeURIComponent('browser.>')}`,
  );
  const pub = await openClient(t, node.wsUrl);
  // Publish until the browser's subscription is in place (it opens asynchronously), then stop.
  let n = 0;
  let done = false;
  void received.finally(() => (done = true));
  while (!done && n < 200) {
    await pub.request({ op: 'pub', topic: 'browser.x', event: ce(`b${n++}`, { data: { hello: 'browser' } }) });
    await new Promise((r) => setImmediate(r));
    if (node.node.localFilters().includes('browser.>')) break;
  }
  await pub.request({ op: 'pub', topic: 'browser.x', event: ce('final', { data: { hello: 'browser' } }) });
  const event = JSON.parse(await received) as Record<string, unknown>;
  assert.equal(event.specversion, '1.0');
  assert.deepEqual(event.data, { hello: 'browser' });
});
