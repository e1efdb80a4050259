import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import WebSocket from 'ws';
import type { ConfigLayer } from '../../broker/config/mod.js';
import { type ClientEvents, MeshgateClient, type MeshgateClientOptions, MeshgateError, type WebSocketConstructor } from '../../client/mod.js';
import { startTestNode } from '../helpers/node.js';
import { tokenFor } from './jwt.js';

const WS = WebSocket as unknown as WebSocketConstructor;

function client(t: TestContext, options: MeshgateClientOptions): MeshgateClient {
  const c = new MeshgateClient({ WebSocket: WS, connectTimeoutMs: 5000, requestTimeoutMs: 5000, ...options });
  t.after(() => c.close());
  return c;
}

function next<K extends keyof ClientEvents>(c: MeshgateClient, type: K): Promise<Parameters<ClientEvents[K]>> {
  return new Promise((resolve) => c.once(type, ((...args: Parameters<ClientEvents[K]>) => resolve(args)) as ClientEvents[K]));
}

const SECRET = 'client-auth-test-secret-0123456789';
const authLayer: ConfigLayer = { auth: { jwt: { secret: SECRET, clockSkewSec: 0 } } } as ConfigLayer;

test("MeshgateClient: a refused upgrade rejects connect() with the node's MG_ERR_AUTH_* code and does not retry", async (t) => {
  const node = await startTestNode(t, authLayer);
  const none = client(t, { url: node.wsUrl, backoffMinMs: 10 });
  await assert.rejects(none.connect(), (e: unknown) => e instanceof MeshgateError && e.code === 'MG_ERR_AUTH_REQUIRED');
  assert.equal(none.state, 'closed');
  const wrong = client(t, { url: node.wsUrl, token: tokenFor('some-other-secret-0123456789', { sub: ['>'] }) });
  await assert.rejects(wrong.connect(), (e: unknown) => e instanceof MeshgateError && e.code === 'MG_ERR_AUTH_INVALID');
  await assert.rejects(
    wrong.publish('a.b'),
    (e: unknown) => e instanceof MeshgateError && e.code === 'MG_ERR_AUTH_INVALID',
    'later requests carry the same error',
  );

  const ok = client(t, { url: node.wsUrl, token: tokenFor(SECRET, { sub: ['a.>'], pub: ['a.>'] }) });
  await ok.subscribe('a.>', () => undefined);
  await assert.rejects(
    ok.subscribe('secret.>', () => undefined),
    (e: unknown) => e instanceof MeshgateError && e.code === 'MG_ERR_AUTH_FORBIDDEN',
  );
  assert.equal(ok.state, 'open', 'a forbidden request does not end the connection');
});

test('MeshgateClient: a session whose token expires ends with MG_ERR_AUTH_EXPIRED, or reconnects when token is a function', async (t) => {
  const node = await startTestNode(t, authLayer);
  const fixed = client(t, { url: node.wsUrl, token: tokenFor(SECRET, { sub: ['>'] }, 1) });
  await fixed.subscribe('a.>', () => undefined);
  // error, close and state fire in one turn: listen for both before awaiting either.
  const failed = next(fixed, 'error');
  const stateChanged = next(fixed, 'state');
  const [err] = await failed;
  assert.equal(err.code, 'MG_ERR_AUTH_EXPIRED');
  await stateChanged;
  assert.equal(fixed.state, 'closed');

  let issued = 0;
  const refreshing = client(t, { url: node.wsUrl, backoffMinMs: 10, token: () => tokenFor(SECRET, { sub: ['>'] }, issued++ === 0 ? 1 : 600) });
  await refreshing.subscribe('b.>', () => undefined);
  const [filters] = await next(refreshing, 'restored');
  assert.deepEqual(filters, ['b.>']);
  assert.equal(issued, 2);
  assert.equal(refreshing.state, 'open');
});
