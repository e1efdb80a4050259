/** GET /v1/sse/<filter> fed from a stream: `id: <epoch>:<offset>`, Last-Event-ID resume, mg-reset; a real Chromium EventSource reconnecting by itself. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { type TestContext, test } from 'node:test';
import { signHs256 } from '../../../broker/auth/mod.js';
import type { RunningNode } from '../../../broker/node/internal.js';
import { launchChromium, openPage } from '../../console/browser.js';
import { ce, type FrameClient, openClient, startTestNode } from '../../helpers/node.js';
import { startTcpProxy } from '../../helpers/tcp-proxy.js';

const STREAMS = { storage: { engine: 'memory' }, streams: [{ name: 'seq', filters: ['seq.>'] }] };

/** Publishes seq.x events with data {n} for n in [from, to), awaiting every ack (acks wait for the stream's commit). */
async function publishRange(pub: FrameClient, from: number, to: number): Promise<void> {
  const acks: Promise<Record<string, unknown>>[] = [];
  for (let n = from; n < to; n++) acks.push(pub.request({ op: 'pub', topic: 'seq.x', event: ce(`s${n}`, { data: { n } }) }));
  for (const a of await Promise.all(acks)) assert.equal(a.op, 'ok');
}

interface SseMessage {
  event: string;
  id: string | undefined;
  data: string;
}

/** An SSE response read with node:http, parsed into messages (comments dropped), with a wait for a count. */
function openSse(
  t: TestContext,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ res: http.IncomingMessage; messages: SseMessage[]; waitFor: (pred: (m: SseMessage[]) => boolean) => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const messages: SseMessage[] = [];
      let buffer = '';
      const waiters: Array<{ pred: (m: SseMessage[]) => boolean; done: () => void }> = [];
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buffer += d;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
          const m: SseMessage = { event: 'message', id: undefined, data: '' };
          let fields = 0;
          for (const line of block.split('\n')) {
            if (line.startsWith(':') || line === '') continue;
            const colon = line.indexOf(': ');
            const [name, value] = colon < 0 ? [line, ''] : [line.slice(0, colon), line.slice(colon + 2)];
            fields++;
            if (name === 'event') m.event = value;
            else if (name === 'id') m.id = value;
            else if (name === 'data') m.data += m.data === '' ? value : `\n${value}`;
          }
          if (fields > 0) messages.push(m);
        }
        for (const w of waiters.splice(0))
          if (w.pred(messages)) w.done();
          else waiters.push(w);
      });
      res.on('error', () => undefined);
      resolve({ res, messages, waitFor: (pred) => (pred(messages) ? Promise.resolve() : new Promise((done) => waiters.push({ pred, done }))) });
    });
    req.on('error', reject);
    t.after(() => req.destroy());
  });
}

const url = (node: RunningNode, filter: string, query = '') => `${node.httpUrl}/v1/sse/${encodeURIComponent(filter)}${query}`;
const events = (ms: SseMessage[]) => ms.filter((m) => m.event === 'message' && m.data !== '');
const ns = (ms: SseMessage[]) => events(ms).map((m) => (JSON.parse(m.data) as { data: { n: number } }).data.n);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('a stream-covered SSE filter carries id: <epoch>:<offset>, starts with an id-only position message, and Last-Event-ID resumes after it with no gap or duplicate', async (t) => {
  const node = await startTestNode(t, STREAMS);
  const epoch = node.streams.info('seq')!.epoch;
  const pub = await openClient(t, node.wsUrl);
  await publishRange(pub, 0, 10);
  const first = await openSse(t, url(node, 'seq.>', '?from=first'));
  assert.equal(first.res.headers['meshgate-stream'], 'seq');
  assert.equal(first.res.headers['meshgate-stream-epoch'], epoch);
  await first.waitFor((m) => events(m).length >= 10);
  assert.deepEqual(first.messages[0], { event: 'message', id: `${epoch}:0`, data: '' });
  assert.deepEqual(ns(first.messages), range(0, 10));
  assert.deepEqual(
    events(first.messages).map((m) => m.id),
    range(1, 11).map((o) => `${epoch}:${o}`),
  );
  // A reconnect after offset 4 (the header wins over from=first): 5..10 stored, then live.
  const again = await openSse(t, url(node, 'seq.>', '?from=first'), { 'last-event-id': `${epoch}:4` });
  await again.waitFor((m) => events(m).length >= 6);
  await publishRange(pub, 10, 15);
  await again.waitFor((m) => events(m).length >= 11);
  assert.deepEqual(ns(again.messages), range(4, 15));
  // The lastEventId parameter, for clients that cannot set headers.
  const query = await openSse(t, url(node, 'seq.>', `?lastEventId=${epoch}:13`));
  await query.waitFor((m) => events(m).length >= 2);
  assert.deepEqual(ns(query.messages), [13, 14]);
  assert.equal((node.node.metrics.snapshot().meshgate_sse_resumes_total as Record<string, number>)['outcome=resumed'], 2);
});

test('a pruned or other-epoch Last-Event-ID gets event: mg-reset with its code, then the stream from its first entry', async (t) => {
  const node = await startTestNode(t, { storage: { engine: 'memory' }, streams: [{ name: 'seq', filters: ['seq.>'], maxEvents: 5 }] });
  const epoch = node.streams.info('seq')!.epoch;
  const pub = await openClient(t, node.wsUrl);
  await publishRange(pub, 0, 20);
  const first = node.streams.info('seq')!.first;
  assert.ok(first > 3, `retention trimmed the stream (first ${first})`);
  for (const [lastId, code] of [
    [`${epoch}:2`, 'MG_ERR_STREAM_PRUNED'],
    ['0123456789abcdef:3', 'MG_ERR_STREAM_EPOCH'],
  ] as const) {
    const s = await openSse(t, url(node, 'seq.>'), { 'last-event-id': lastId });
    await s.waitFor((m) => events(m).length >= 21 - first);
    const reset = s.messages.find((m) => m.event === 'mg-reset');
    assert.ok(reset !== undefined, 'an mg-reset message');
    const body = JSON.parse(reset.data) as Record<string, unknown>;
    assert.equal(body.code, code);
    assert.equal(body.position, lastId);
    assert.equal(body.first, first);
    // The reset's id is where the stream continues, so a reconnect after it resumes right.
    assert.equal(reset.id, `${epoch}:${first - 1}`);
    assert.deepEqual(ns(s.messages), range(first - 1, 20));
  }
  assert.equal((node.node.metrics.snapshot().meshgate_sse_resumes_total as Record<string, number>)['outcome=reset'], 2);
});

test('a stream re-created under a reader (new epoch) sends mg-reset MG_ERR_STREAM_EPOCH mid-stream, then the new epoch from its first entry', async (t) => {
  const node = await startTestNode(t, STREAMS);
  const before = node.streams.info('seq')!.epoch;
  const pub = await openClient(t, node.wsUrl);
  await publishRange(pub, 0, 3);
  const s = await openSse(t, url(node, 'seq.>', '?from=first'));
  await s.waitFor((m) => events(m).length >= 3);
  await node.streams.create({ name: 'seq', filters: ['seq.>'], maxEvents: 1000 }, { replace: true });
  const after = node.streams.info('seq')!.epoch;
  assert.notEqual(after, before);
  await publishRange(pub, 3, 5);
  await s.waitFor((m) => events(m).length >= 5);
  const reset = s.messages.find((m) => m.event === 'mg-reset');
  assert.ok(reset !== undefined);
  const body = JSON.parse(reset.data) as Record<string, unknown>;
  assert.equal(body.code, 'MG_ERR_STREAM_EPOCH');
  assert.equal(body.position, `${before}:3`);
  assert.equal(reset.id, `${after}:0`);
  assert.deepEqual(ns(s.messages), range(0, 5));
  assert.deepEqual(
    events(s.messages)
      .slice(3)
      .map((m) => m.id),
    [`${after}:1`, `${after}:2`],
  );
});

test('a stream removed under a reader: mg-reset MG_ERR_STREAM_UNKNOWN at the next heartbeat, then the response ends', async (t) => {
  const node = await startTestNode(t, { ...STREAMS, http: { sseHeartbeatMs: 1000 } });
  const pub = await openClient(t, node.wsUrl);
  await publishRange(pub, 0, 2);
  const s = await openSse(t, url(node, 'seq.>', '?from=first'));
  await s.waitFor((m) => events(m).length >= 2);
  const ended = new Promise<void>((resolve) => s.res.once('close', () => resolve()));
  assert.equal(await node.streams.remove('seq'), true);
  await s.waitFor((m) => m.some((x) => x.event === 'mg-reset'));
  const body = JSON.parse(s.messages.find((m) => m.event === 'mg-reset')!.data) as Record<string, unknown>;
  assert.equal(body.code, 'MG_ERR_STREAM_UNKNOWN');
  assert.equal(body.stream, 'seq');
  await ended;
  assert.equal(node.node.metrics.snapshot().meshgate_sse_streams, 0);
});

test('a stream-fed SSE stream withholds what the token may not read (partly authorized filter), and its ids still resume', async (t) => {
  const secret = 'sse-resume-secret-0123456789abcdef';
  const node = await startTestNode(t, { ...STREAMS, auth: { jwt: { secret } } });
  const exp = Math.floor(Date.now() / 1000) + 600;
  const writer = signHs256({ sub: 'w', exp, perms: { pub: ['seq.>'], sub: [] } }, secret);
  const reader = signHs256({ sub: 'r', exp, perms: { pub: [], sub: ['seq.a.>'] } }, secret);
  const pub = await openClient(t, `${node.wsUrl}?token=${writer}`);
  for (const topic of ['seq.a.1', 'seq.b.1', 'seq.a.2']) {
    const ack = await pub.request({ op: 'pub', topic, event: ce(topic, { data: { n: 0 } }) });
    assert.equal(ack.op, 'ok');
  }
  const s = await openSse(t, url(node, 'seq.>', `?from=first&token=${reader}`));
  assert.equal(s.res.statusCode, 200);
  assert.equal(s.res.headers['meshgate-stream'], 'seq');
  await s.waitFor((m) => events(m).length >= 2);
  const epoch = node.streams.info('seq')!.epoch;
  assert.deepEqual(
    events(s.messages).map((m) => [m.id, (JSON.parse(m.data) as { id: string }).id]),
    [
      [`${epoch}:1`, 'seq.a.1'],
      [`${epoch}:3`, 'seq.a.2'],
    ],
  );
  assert.ok((node.node.metrics.snapshot().meshgate_auth_filtered_deliveries_total as number) >= 1);
});

test('stream selection: ?stream= names one, two covering streams or ?stream= (empty) stay live-only, bad positions are 400 and unknown streams 404', async (t) => {
  const node = await startTestNode(t, {
    storage: { engine: 'memory' },
    streams: [
      { name: 'all', filters: ['a.>'] },
      { name: 'also', filters: ['a.b.>'] },
    ],
  });
  const pub = await openClient(t, node.wsUrl);
  await pub.request({ op: 'pub', topic: 'a.b.c', event: ce('stored', { data: { n: 0 } }) });
  // a.b.> is covered by both: live-only, no ids.
  const live = await openSse(t, url(node, 'a.b.>'));
  assert.equal(live.res.headers['meshgate-stream'], undefined);
  const named = await openSse(t, url(node, 'a.b.>', '?stream=also&from=first'));
  assert.equal(named.res.headers['meshgate-stream'], 'also');
  const auto = await openSse(t, url(node, 'a.x.>', '?from=first'));
  assert.equal(auto.res.headers['meshgate-stream'], 'all');
  const optOut = await openSse(t, url(node, 'a.>', '?stream='));
  assert.equal(optOut.res.headers['meshgate-stream'], undefined);
  await named.waitFor((m) => events(m).length >= 1);
  await pub.request({ op: 'pub', topic: 'a.b.c', event: ce('live', { data: { n: 1 } }) });
  await live.waitFor((m) => events(m).length >= 1);
  await optOut.waitFor((m) => events(m).length >= 1);
  await named.waitFor((m) => events(m).length >= 2);
  assert.deepEqual(
    events(live.messages).map((m) => m.id),
    [undefined],
  );
  assert.deepEqual(ns(named.messages), [0, 1]);
  for (const [query, headers, status, code] of [
    ['?stream=nope', {}, 404, 'MG_ERR_STREAM_UNKNOWN'],
    ['?stream=all&from=yesterday', {}, 400, 'MG_ERR_SSE_POSITION_INVALID'],
    ['?stream=all', { 'last-event-id': 'garbage' }, 400, 'MG_ERR_SSE_POSITION_INVALID'],
    ['?stream=all&from=99', {}, 400, 'MG_ERR_STREAM_BEYOND_END'],
  ] as const) {
    const r = await fetch(url(node, 'a.>', query), { headers });
    assert.equal(r.status, status, query);
    assert.equal(((await r.json()) as { code: string }).code, code);
  }
  const rejected = node.node.metrics.snapshot().meshgate_events_rejected_total as Record<string, number>;
  assert.equal(rejected['code=MG_ERR_SSE_POSITION_INVALID'], 2);
});

test('a headless Chromium EventSource cut before its first event and again mid-stream reconnects by itself with Last-Event-ID: every event once, in order', async (t) => {
  const node = await startTestNode(t, STREAMS);
  const proxy = await startTcpProxy(node.port);
  t.after(() => proxy.close());
  const browser = await launchChromium();
  t.after(() => browser.close());
  const { page, pageErrors } = await openPage(t, browser, `http://127.0.0.1:${proxy.port}/healthz`);
  type Win = { got: number[]; opens: number; errors: number };
  await page.evaluate(
    (u) => {
      const w = window as unknown as Win;
      w.got = [];
      w.opens = 0;
      w.errors = 0;
      const source = new EventSource(u);
      source.onopen = () => w.opens++;
      source.onerror = () => w.errors++;
      source.onmessage = (m) => w.got.push((JSON.parse(m.data as string) as { data: { n: number } }).data.n);
    },
    `/v1/sse/${encodeURIComponent('seq.>')}`,
  );
  await page.waitForFunction(() => (window as unknown as Win).opens >= 1);
  const pub = await openClient(t, node.wsUrl);
  // Cut before the first event, and hold the reconnect while 20 are published: only the
  // id-only start message lets EventSource ask for them (without a Last-Event-ID it would start from new).
  proxy.hold();
  assert.equal(proxy.cut(), 1);
  await publishRange(pub, 0, 20);
  for (const end = Date.now() + 15_000; proxy.held === 0; ) {
    assert.ok(Date.now() < end, 'EventSource reconnected');
    await new Promise((r) => setTimeout(r, 10));
  }
  proxy.release();
  const total = 600;
  let cut = 0;
  for (let n = 20; n < total; n += 20) {
    await publishRange(pub, n, n + 20);
    // Cut once the browser is well into the stream, while publishing goes on.
    if (cut === 0 && (await page.evaluate(() => (window as unknown as Win).got.length)) >= 100) cut = proxy.cut();
  }
  assert.ok(cut >= 1, 'the EventSource connection was cut mid-stream');
  await page.waitForFunction((n) => (window as unknown as Win).got.length >= n, total, { timeout: 30_000 });
  const got = await page.evaluate(() => {
    const w = window as unknown as Win;
    return { got: w.got, opens: w.opens, errors: w.errors };
  });
  assert.equal(got.got.length, total, 'none duplicated');
  assert.deepEqual(got.got, range(0, total), 'none lost, in order');
  assert.ok(got.opens >= 3, `EventSource reconnected by itself, twice (opens ${got.opens})`);
  assert.ok(proxy.accepted >= 3);
  assert.ok((node.node.metrics.snapshot().meshgate_sse_resumes_total as Record<string, number>)['outcome=resumed'] >= 2, 'resumed by Last-Event-ID');
  assert.deepEqual(pageErrors, []);
});
