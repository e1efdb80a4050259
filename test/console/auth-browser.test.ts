// What a browser can see: an upgrade refused with HTTP 401 shows up only as
// a failed connection (browsers hide the status and body), so the codes a
// page can report are the in-session ones: MG_ERR_AUTH_FORBIDDEN (err frame)
// and MG_ERR_AUTH_EXPIRED (close 4401 with the code as reason).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { ConfigLayer } from '../../broker/config/mod.js';
import { resolveConfig } from '../../broker/config/mod.js';
import type { RunningNode } from '../../broker/node/internal.js';
import { startNode } from '../../broker/node/mod.js';
import { tokenFor } from '../client/jwt.js';
import { launchChromium, openPage, screenshot } from './browser.js';

const SECRET = 'browser-auth-test-secret-0123456789';
let node: RunningNode;
let browser: Browser;

before(async () => {
  const layer = { auth: { jwt: { secret: SECRET, clockSkewSec: 0 } } } as ConfigLayer;
  [node, browser] = await Promise.all([
    startNode(resolveConfig({ node: { id: 'auth-node', region: 'test' }, listen: { host: '127.0.0.1', port: 0 } }, layer)),
    launchChromium(),
  ]);
});

after(async () => {
  await browser.close();
  await node.close();
});

test('the client library in a page reports MG_ERR_AUTH_FORBIDDEN and MG_ERR_AUTH_EXPIRED by code', async (t) => {
  const watched = await openPage(t, browser, `${node.httpUrl}/v1/client/meshgate-client.js`);
  const { page } = watched;
  const result = await page.evaluate(
    async ({ limited, shortLived }) => {
      const { MeshgateClient, MeshgateError } = await import('/v1/client/meshgate-client.js' as string);
      const url = `ws://${location.host}/v1/ws`;
      const c1 = new MeshgateClient({ url, token: limited });
      await c1.subscribe('orders.>', () => undefined);
      let forbidden: unknown = null;
      try {
        await c1.subscribe('payroll.>', () => undefined);
      } catch (e) {
        forbidden = { code: (e as { code: string }).code, typed: e instanceof MeshgateError };
      }
      const c2 = new MeshgateClient({ url, token: shortLived });
      const expired = new Promise<string>((resolve) => c2.on('error', (e: { code: string }) => resolve(e.code)));
      await c2.subscribe('orders.>', () => undefined);
      const code = await expired;
      await new Promise((r) => (c2.state === 'closed' ? r(null) : c2.on('state', (s: string) => s === 'closed' && r(null))));
      await c1.close();
      return { forbidden, expired: code, state: c2.state, c1: c1.state };
    },
    { limited: tokenFor(SECRET, { sub: ['orders.>'] }), shortLived: tokenFor(SECRET, { sub: ['>'] }, 1) },
  );
  assert.deepEqual(result, { forbidden: { code: 'MG_ERR_AUTH_FORBIDDEN', typed: true }, expired: 'MG_ERR_AUTH_EXPIRED', state: 'closed', c1: 'closed' });
  await screenshot(page, 'auth-codes');
  assert.deepEqual(watched.pageErrors, []);
});
