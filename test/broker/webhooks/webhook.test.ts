/** Webhook delivery (config `webhooks:`) from a real node to real HTTP targets on 127.0.0.1, and the node as a webhook target. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { signHs256 } from '../../../broker/auth/mod.js';
import { type ConfigLayer, resolveConfig } from '../../../broker/config/mod.js';
import { type RunningNode, startNode } from '../../../broker/node/internal.js';
import { retryDelay } from '../../../broker/webhooks/mod.js';
import { ce, type FrameClient, openClient, startTestNode } from '../../helpers/node.js';
import { testTmpDir } from '../../helpers/tmp.js';
import { allowOrigin, startWebhookTarget, type TargetRequest, unusedPort } from '../../helpers/webhook-target.js';

const FAST_RETRY = { initialDelayMs: 10, maxDelayMs: 40 };

async function publish(pub: FrameClient, ids: string[], topic = 'hook.x'): Promise<void> {
  const acks = await Promise.all(ids.map((id) => pub.request({ op: 'pub', topic, event: ce(id, { data: { id } }) })));
  for (const a of acks) assert.equal(a.op, 'ok');
}

const ids = (prefix: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => `${prefix}${from + i}`);
const posts = (rs: TargetRequest[]) => rs.filter((r) => r.method === 'POST');
const ceId = (r: TargetRequest) => String(r.headers['ce-id'] ?? (JSON.parse(r.body.toString()) as { id: string }).id);

/** Resolves once `pred` holds, checked every loop turn for at most `ms` (for state the node changes in this process). */
async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function webhookRow(node: RunningNode, name: string): Promise<Record<string, unknown>> {
  return fetch(`${node.httpUrl}/v1/webhooks`)
    .then((r) => r.json() as Promise<{ webhooks: Array<Record<string, unknown>> }>)
    .then((b) => b.webhooks.find((w) => w.name === name)!);
}

const metric = (node: RunningNode, name: string, hook: string) =>
  (node.node.metrics.snapshot()[name] as Record<string, number> | undefined)?.[`webhook=${hook}`] ?? 0;

test('a target answering 500 five times then 2xx gets every event once delivered, in order, the retried one with the same id; binary mode headers and Origin', async (t) => {
  let failures = 0;
  const target = await startWebhookTarget(t, (r) => {
    if (r.method === 'OPTIONS') return allowOrigin(r);
    return failures++ < 5 ? { status: 500 } : { status: 204 };
  });
  const node = await startTestNode(t, { webhooks: [{ name: 'h', url: target.url, filter: 'hook.>', retry: FAST_RETRY, origin: 'mesh.example' }] });
  const pub = await openClient(t, node.wsUrl);
  const sent = ids('e', 20);
  await publish(pub, sent);
  await target.waitFor(() => target.delivered().length >= 20);
  assert.deepEqual(target.delivered().map(ceId), sent, 'none lost, none twice, in order');
  const all = posts(target.requests);
  assert.equal(all.length, 25);
  assert.deepEqual(all.slice(0, 6).map(ceId), ['e0', 'e0', 'e0', 'e0', 'e0', 'e0'], 'retries carry the same CloudEvents id');
  const first = target.requests[0]!;
  assert.equal(first.method, 'OPTIONS');
  assert.equal(first.headers['webhook-request-origin'], 'mesh.example');
  const d = target.delivered()[0]!;
  assert.equal(d.headers.origin, 'mesh.example');
  assert.equal(d.headers['ce-specversion'], '1.0');
  assert.equal(d.headers['ce-source'], 'test');
  assert.equal(d.headers['ce-mgprotocol'], 'ws');
  assert.equal(d.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(d.body.toString()), { id: 'e0' });
  // The target answered; the node counts once its fetch resolves.
  await until(() => metric(node, 'meshgate_webhook_delivered_total', 'h') === 20, 'delivered counted');
  assert.equal(metric(node, 'meshgate_webhook_retries_total', 'h'), 5);
  assert.equal(metric(node, 'meshgate_webhook_failed_total', 'h'), 0);
  const row = await webhookRow(node, 'h');
  assert.equal(row.state, 'active');
  assert.equal(row.delivered, 20);
  assert.equal(row.lastError, 'answered 500');
});

test('a target that hangs past timeoutMs is retried: the event is delivered by the next request', async (t) => {
  const target = await startWebhookTarget(t, (r, i) => (r.method === 'OPTIONS' ? allowOrigin(r) : i === 1 ? 'hang' : { status: 200 }));
  const node = await startTestNode(t, {
    webhooks: [{ name: 'slow', url: target.url, filter: 'hook.>', timeoutMs: 200, retry: FAST_RETRY, mode: 'structured' }],
  });
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, ['a', 'b']);
  await target.waitFor(() => target.delivered().length >= 2);
  assert.deepEqual(posts(target.requests).map(ceId), ['a', 'a', 'b']);
  assert.equal(target.requests[1]!.status, null, 'the first POST was never answered');
  assert.match(String(target.delivered()[0]!.headers['content-type']), /^application\/cloudevents\+json/);
  assert.equal(metric(node, 'meshgate_webhook_retries_total', 'slow'), 1);
  assert.equal((await webhookRow(node, 'slow')).lastError, 'timeout');
});

test('connection errors during the handshake are retried until the target is up; then the event arrives once', async (t) => {
  const port = await unusedPort();
  const node = await startTestNode(t, { webhooks: [{ name: 'down', url: `http://127.0.0.1:${port}/hook`, filter: 'hook.>', retry: FAST_RETRY }] });
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, ['late']);
  await until(async () => (await webhookRow(node, 'down')).lastError !== null, 'a failed handshake');
  const row = await webhookRow(node, 'down');
  assert.equal(row.state, 'validating');
  assert.match(String(row.lastError), /ECONNREFUSED/);
  const target = await startWebhookTarget(t, (r) => (r.method === 'OPTIONS' ? allowOrigin(r) : { status: 200 }), port);
  await target.waitFor(() => target.delivered().length >= 1);
  assert.deepEqual(posts(target.requests).map(ceId), ['late']);
});

test('webhooks config: defaults filled in; a non-http URL, an unknown key or a repeated name stops start-up with the key', () => {
  const c = resolveConfig({ webhooks: [{ url: 'http://127.0.0.1:1/x', filter: 'a.>' }] });
  assert.deepEqual(c.webhooks[0], {
    name: 'webhook-0',
    url: 'http://127.0.0.1:1/x',
    filter: 'a.>',
    mode: 'binary',
    timeoutMs: 10_000,
    retry: { initialDelayMs: 500, maxDelayMs: 30_000, maxAttempts: 0 },
    handshake: true,
    maxQueue: 10_000,
    headers: {},
  });
  const bad = (layer: ConfigLayer, re: RegExp) =>
    assert.throws(
      () => resolveConfig(layer),
      (e: Error & { code?: string }) => e.code === 'MG_ERR_CONFIG_INVALID' && re.test(e.message),
    );
  bad({ webhooks: [{ url: 'ftp://x/y', filter: 'a' }] }, /webhooks\[0\]\.url/);
  bad({ webhooks: [{ url: 'http://x/y', filter: 'a', retries: 3 }] }, /webhooks\[0\]\.retries: unknown key/);
  bad(
    {
      webhooks: [
        { name: 'w', url: 'http://x/y', filter: 'a' },
        { name: 'w', url: 'http://x/z', filter: 'b' },
      ],
    },
    /webhooks\[1\]\.name: 'w' is already webhooks\[0\]/,
  );
  bad({ webhooks: [{ url: 'http://x/y', filter: 'a', consumer: 'c' }] }, /webhooks\[0\]\.consumer: a durable consumer reads a stream/);
  bad({ webhooks: [{ url: 'http://x/y', filter: 'a', stream: 's', consumer: 'bad name' }] }, /webhooks\[0\]\.consumer/);
});

test('retry delays double from initialDelayMs within +/-20%, never pass maxDelayMs, and take Retry-After within the cap', () => {
  const retry = { initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: 0 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 20].map((a) => retryDelay(retry, a, null, () => 0.5)),
    [100, 200, 400, 800, 1000, 1000],
  );
  assert.equal(
    retryDelay(retry, 1, null, () => 0),
    80,
  );
  assert.equal(
    retryDelay(retry, 1, null, () => 1),
    120,
  );
  assert.equal(
    retryDelay(retry, 10, null, () => 1),
    1000,
  );
  assert.equal(
    retryDelay(retry, 1, '0', () => 0.5),
    0,
  );
  assert.equal(
    retryDelay(retry, 1, '3600', () => 0.5),
    1000,
  );
  assert.equal(
    retryDelay(retry, 1, 'Wed, 21 Oct 2015 07:28:00 GMT', () => 0.5),
    100,
  );
});

test('a connection dropped mid-request is retried: the event is delivered once, by the next request', async (t) => {
  const target = await startWebhookTarget(t, (r, i) => (r.method === 'OPTIONS' ? allowOrigin(r) : i === 1 ? 'reset' : { status: 200 }));
  const node = await startTestNode(t, { webhooks: [{ name: 'reset', url: target.url, filter: 'hook.>', retry: FAST_RETRY }] });
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, ['c0', 'c1']);
  await target.waitFor(() => target.delivered().length >= 2);
  assert.deepEqual(posts(target.requests).map(ceId), ['c0', 'c0', 'c1']);
  assert.deepEqual(target.delivered().map(ceId), ['c0', 'c1']);
  assert.equal(metric(node, 'meshgate_webhook_retries_total', 'reset'), 1);
});

test('429 and 408 are retried (Retry-After honoured), not dead-lettered', async (t) => {
  const answers = [{ status: 429, headers: { 'Retry-After': '0' } }, { status: 408 }];
  const target = await startWebhookTarget(t, (r) => (r.method === 'OPTIONS' ? allowOrigin(r) : (answers.shift() ?? { status: 200 })));
  const node = await startTestNode(t, { webhooks: [{ name: 'busy', url: target.url, filter: 'hook.>', retry: FAST_RETRY }] });
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, ['r0', 'r1']);
  await target.waitFor(() => target.delivered().length >= 2);
  assert.deepEqual(
    posts(target.requests).map((r) => [ceId(r), r.status]),
    [
      ['r0', 429],
      ['r0', 408],
      ['r0', 200],
      ['r1', 200],
    ],
  );
  assert.equal(metric(node, 'meshgate_webhook_retries_total', 'busy'), 2);
  assert.equal(metric(node, 'meshgate_webhook_failed_total', 'busy'), 0);
});

test('a live webhook holds at most maxQueue events while its target is not ready; the rest are counted failed', async (t) => {
  const target = await startWebhookTarget(t, () => 'hang');
  const node = await startTestNode(t, { webhooks: [{ name: 'full', url: target.url, filter: 'hook.>', maxQueue: 2, timeoutMs: 60_000 }] });
  await target.waitFor((rs) => rs.length >= 1);
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, ids('q', 5));
  assert.equal(metric(node, 'meshgate_webhook_failed_total', 'full'), 3);
  const row = await webhookRow(node, 'full');
  assert.equal(row.state, 'validating');
  assert.equal(row.queued, 2);
});

test('410 Gone disables the webhook: counted, listed with the reason, nothing more is sent', async (t) => {
  const target = await startWebhookTarget(t, (r) => (r.method === 'OPTIONS' ? allowOrigin(r) : { status: 410 }));
  const node = await startTestNode(t, { webhooks: [{ name: 'gone', url: target.url, filter: 'hook.>', retry: FAST_RETRY }] });
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, ['g0', 'g1', 'g2']);
  await until(() => metric(node, 'meshgate_webhook_disabled_total', 'gone') === 1, 'the webhook disabled');
  await publish(pub, ['g3']);
  const row = await webhookRow(node, 'gone');
  assert.equal(row.state, 'disabled');
  assert.match(String(row.reason), /410 Gone/);
  assert.equal(posts(target.requests).length, 1);
  assert.ok(!node.node.localFilters().includes('hook.>'), 'the webhook left the router');
  assert.equal((node.node.metrics.snapshot().meshgate_events_rejected_total as Record<string, number>)['code=MG_ERR_WEBHOOK_REFUSED'], 1);
});

test('a 4xx other than 408/429 sends the event to the dead letters and delivery goes on', async (t) => {
  const target = await startWebhookTarget(t, (r) => (r.method === 'OPTIONS' ? allowOrigin(r) : ceId(r) === 'bad' ? { status: 422 } : { status: 200 }));
  const node = await startTestNode(t, { webhooks: [{ name: 'dl', url: target.url, filter: 'hook.>', retry: FAST_RETRY }] });
  const letters = await openClient(t, node.wsUrl);
  assert.equal((await letters.request({ op: 'sub', filter: '_mg.deadletter.>' })).op, 'ok');
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, ['ok1', 'bad', 'ok2']);
  await target.waitFor(() => target.delivered().length >= 2);
  assert.deepEqual(posts(target.requests).map(ceId), ['ok1', 'bad', 'ok2'], 'not retried');
  const letter = (await letters.waitFor((f) => f.op === 'event')) as {
    topic: string;
    event: { subject: string; data: { reasons: Array<{ message: string }> } };
  };
  assert.equal(letter.topic, '_mg.deadletter.hook.x');
  assert.match(letter.event.data.reasons[0]!.message, /webhook dl .*answered 422/);
  assert.equal(metric(node, 'meshgate_webhook_failed_total', 'dl'), 1);
  await until(() => metric(node, 'meshgate_webhook_delivered_total', 'dl') === 2, 'delivered counted');
});

test('a target refusing the validation handshake (no WebHook-Allowed-Origin, another origin, 405) gets no event and the webhook is disabled with why', async (t) => {
  const cases: Array<[string, (r: TargetRequest) => { status: number; headers?: Record<string, string> }, RegExp]> = [
    ['no-header', () => ({ status: 200 }), /no WebHook-Allowed-Origin/],
    ['other', () => ({ status: 200, headers: { 'WebHook-Allowed-Origin': 'someone.else' } }), /'someone.else' is not 'test-node'/],
    ['405', () => ({ status: 405 }), /OPTIONS answered 405/],
  ];
  const targets = await Promise.all(cases.map(([, a]) => startWebhookTarget(t, (r) => (r.method === 'OPTIONS' ? a(r) : { status: 200 }))));
  const node = await startTestNode(t, {
    webhooks: cases.map(([name], i) => ({ name, url: targets[i]!.url, filter: 'hook.>', retry: FAST_RETRY })),
  });
  for (const [name] of cases) await until(() => metric(node, 'meshgate_webhook_disabled_total', name) === 1, `${name} disabled`);
  const pub = await openClient(t, node.wsUrl);
  await publish(pub, ['x']);
  for (const [i, [name, , reason]] of cases.entries()) {
    assert.deepEqual(
      targets[i]!.requests.map((r) => r.method),
      ['OPTIONS'],
      name,
    );
    const row = await webhookRow(node, name);
    assert.equal(row.state, 'disabled');
    assert.match(String(row.reason), reason);
  }
});

test('OPTIONS /v1/events/<topic>: the node as a webhook target allows an origin whose request passes auth and http.webhookOrigins', async (t) => {
  const secret = 'webhook-test-secret-0123456789abcdef';
  const node = await startTestNode(t, { auth: { jwt: { secret } }, http: { webhookOrigins: ['good.example'] } });
  const tok = signHs256({ sub: 'p', exp: Math.floor(Date.now() / 1000) + 600, perms: { pub: ['orders.>'], sub: [] } }, secret);
  const options = (topic: string, headers: Record<string, string>) => fetch(`${node.httpUrl}/v1/events/${topic}`, { method: 'OPTIONS', headers });
  const ok = await options('orders.eu', { 'WebHook-Request-Origin': 'good.example', authorization: `Bearer ${tok}` });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('webhook-allowed-origin'), 'good.example');
  assert.equal(ok.headers.get('webhook-allowed-rate'), '*');
  assert.match(ok.headers.get('allow') ?? '', /POST/);
  for (const [topic, headers, status, code] of [
    ['orders.eu', { 'WebHook-Request-Origin': 'good.example' }, 401, 'MG_ERR_AUTH_REQUIRED'],
    ['billing.eu', { 'WebHook-Request-Origin': 'good.example', authorization: `Bearer ${tok}` }, 403, 'MG_ERR_AUTH_FORBIDDEN'],
    ['orders.eu', { 'WebHook-Request-Origin': 'evil.example', authorization: `Bearer ${tok}` }, 403, 'MG_ERR_ORIGIN_FORBIDDEN'],
  ] as const) {
    const r = await options(topic, headers);
    assert.equal(r.status, status, `${topic} ${JSON.stringify(headers)}`);
    assert.equal(r.headers.get('webhook-allowed-origin'), null);
    assert.equal(((await r.json()) as { code: string }).code, code);
  }
  const plain = await options('orders.eu', {});
  assert.equal(plain.status, 204);
  assert.equal(plain.headers.get('webhook-allowed-origin'), null);
});

test('one node delivers to another with auth: the handshake against /v1/events/ passes with the configured Authorization header and the events arrive there with their ids', async (t) => {
  const secret = 'webhook-node-secret-0123456789abcdef';
  const exp = Math.floor(Date.now() / 1000) + 600;
  const receiver = await startTestNode(t, { node: { id: 'receiver' }, auth: { jwt: { secret } }, http: { webhookOrigins: ['sender.example'] } });
  const reader = signHs256({ sub: 'reader', exp, perms: { pub: [], sub: ['in.>'] } }, secret);
  const writer = signHs256({ sub: 'sender', exp, perms: { pub: ['in.>'], sub: [] } }, secret);
  const sink = await openClient(t, `${receiver.wsUrl}?token=${reader}`);
  assert.equal((await sink.request({ op: 'sub', filter: 'in.>' })).op, 'ok');
  const sender = await startTestNode(t, {
    node: { id: 'sender' },
    webhooks: [
      {
        name: 'fwd',
        url: `${receiver.httpUrl}/v1/events/in.orders`,
        filter: 'out.>',
        mode: 'binary',
        origin: 'sender.example',
        headers: { Authorization: `Bearer ${writer}` },
        retry: FAST_RETRY,
      },
    ],
  });
  const pub = await openClient(t, sender.wsUrl);
  await publish(pub, ['m0', 'm1', 'm2'], 'out.orders');
  await sink.waitFor(() => sink.events().length >= 3);
  await until(() => metric(sender, 'meshgate_webhook_delivered_total', 'fwd') === 3, 'delivered counted');
  const got = sink.events() as Array<{ topic: string; event: { id: string; data: unknown } }>;
  assert.deepEqual(
    got.map((e) => [e.topic, e.event.id]),
    [
      ['in.orders', 'm0'],
      ['in.orders', 'm1'],
      ['in.orders', 'm2'],
    ],
  );
  assert.deepEqual(got[0]!.event.data, { id: 'm0' });
});

for (const keeper of ['file', 'consumer'] as const) {
  test(`a webhook on a stream resumes after a node restart from its stored position (${keeper}): every event delivered once, in order`, async (t) => {
    const dir = testTmpDir(t, `webhook-restart-${keeper}`);
    let accepting = true;
    let okCount = 0;
    const target = await startWebhookTarget(t, (r) => {
      if (r.method === 'OPTIONS') return allowOrigin(r);
      if (!accepting) return { status: 503 };
      if (++okCount === 10) accepting = false; // the 11th and later wait for the restart
      return { status: 200 };
    });
    const layer: ConfigLayer = {
      node: { id: 'restart-node', region: 'test' },
      listen: { host: '127.0.0.1', port: 0 },
      storage: { dir },
      streams: [{ name: 'wh', filters: ['hook.>'] }],
      webhooks: [
        { name: 'durable', url: target.url, filter: 'hook.>', stream: 'wh', retry: FAST_RETRY, ...(keeper === 'consumer' ? { consumer: 'hook-out' } : {}) },
      ],
    };
    const start = async (): Promise<RunningNode> => {
      const n = await startNode(resolveConfig(layer));
      t.after(() => n.close());
      return n;
    };
    const first = await start();
    const pub = await openClient(t, first.wsUrl);
    // The webhook starts at the stream's end: wait until it has validated before publishing.
    await target.waitFor((rs) => rs.some((r) => r.method === 'OPTIONS'));
    await publish(pub, ids('e', 30));
    await target.waitFor((rs) => target.delivered().length >= 10 && rs.some((r) => r.status === 503));
    await first.close();
    assert.equal(existsSync(join(dir, 'webhooks', 'durable.json')), keeper === 'file', 'the position is in a file only without a consumer');
    accepting = true;
    okCount = -1_000_000;
    const second = await start();
    const pub2 = await openClient(t, second.wsUrl);
    await publish(pub2, ids('e', 5, 30));
    await target.waitFor(() => target.delivered().length >= 35);
    assert.deepEqual(target.delivered().map(ceId), ids('e', 35), 'none lost, none twice, in order across the restart');
    const row = await webhookRow(second, 'durable');
    assert.deepEqual(row.position, { epoch: second.streams.info('wh')!.epoch, offset: 35 });
    if (keeper === 'consumer') {
      // The position is a durable consumer of the stream, listed with its lag like any other.
      const info = (await (await fetch(`${second.httpUrl}/v1/streams/wh`)).json()) as { consumers: Array<{ name: string; ackFloor: number; lag: number }> };
      const listed = info.consumers.find((c) => c.name === 'hook-out');
      assert.ok(listed !== undefined, JSON.stringify(info.consumers));
      assert.deepEqual([listed.ackFloor, listed.lag], [35, 0]);
    }
  });
}
