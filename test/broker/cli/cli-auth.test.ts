import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Authenticator } from '../../../broker/auth/mod.js';
import { runCli, startTestNode } from '../../helpers/node.js';

const SECRET = 'cli-auth-secret-0123456789';

test('meshgate token mints an HS256 JWT with repeatable --pub/--sub filters, deny lists and --ttl', { timeout: 60_000 }, async (t) => {
  const cli = runCli(t, ['token', '--secret', SECRET, '--pub', 'a.>', '--pub', 'b.*', '--sub', '>', '--deny-sub', 'a.secret', '--ttl', '90s', '--name', 'svc']);
  assert.equal(await cli.exited, 0, cli.stderr);
  const token = cli.stdout.trim();
  const [header, payload] = token
    .split('.')
    .slice(0, 2)
    .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>);
  assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
  assert.equal(payload.sub, 'svc');
  assert.equal((payload.exp as number) - (payload.iat as number), 90);
  assert.deepEqual(payload.perms, { pub: { allow: ['a.>', 'b.*'], deny: [] }, sub: { allow: ['>'], deny: ['a.secret'] } });
  const verified = new Authenticator({ jwt: { secret: SECRET } }).authenticate(token);
  assert.ok(verified.ok);
  assert.equal(verified.ok && verified.principal.permissions.canRead('a.secret'), false);
  const short = runCli(t, ['token', '--secret', 'short']);
  assert.equal(await short.exited, 2);
  const badTtl = runCli(t, ['token', '--secret', SECRET, '--ttl', 'soon']);
  assert.equal(await badTtl.exited, 2);
});

test('meshgate start --jwt-secret requires tokens; pub and sub take --token; a refusal exits 1 with its code', { timeout: 60_000 }, async (t) => {
  const node = runCli(t, ['start', '--port', '0', '--node-id', 'cli-auth', '--jwt-secret', SECRET]);
  await node.waitForOutput(/client auth\s+on/);
  const url = /(ws:\/\/127\.0\.0\.1:\d+\/v1\/ws)/.exec(node.stdout)![1];
  const mint = async (...args: string[]) => {
    const c = runCli(t, ['token', '--secret', SECRET, ...args]);
    assert.equal(await c.exited, 0);
    return c.stdout.trim();
  };
  const reader = await mint('--sub', 'cli.>');
  const writer = await mint('--pub', 'cli.orders');

  const anonymous = runCli(t, ['sub', 'cli.>', '--url', url]);
  assert.equal(await anonymous.exited, 1);
  assert.match(anonymous.stderr, /MG_ERR_AUTH_REQUIRED/);

  const sub = runCli(t, ['sub', 'cli.>', '--url', url, '--token', reader, '--count', '2']);
  await sub.waitForOutput('subscribed to cli.>');
  const forbidden = runCli(t, ['pub', 'cli.payroll', '{}', '--url', url, '--token', writer]);
  assert.equal(await forbidden.exited, 1);
  assert.match(forbidden.stderr, /MG_ERR_AUTH_FORBIDDEN/);
  const pub = runCli(t, ['pub', 'cli.orders', '{"n":1}', '--url', url, '--count', '2'], { env: { MESHGATE_TOKEN: writer } });
  assert.equal(await pub.exited, 0, pub.stderr);
  assert.equal(await sub.exited, 0, sub.stderr);
  const topics = sub.stdout
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { topic: string }).topic);
  assert.deepEqual(topics, ['cli.orders', 'cli.orders']);
});

test('meshgate token refuses a bad topic filter with its code and mints nothing', async (t) => {
  for (const flag of ['--pub', '--sub', '--deny-pub', '--deny-sub']) {
    const cli = runCli(t, ['token', '--secret', SECRET, flag, 'a..b']);
    assert.equal(await cli.exited, 1, flag);
    assert.match(cli.stderr, new RegExp(`^MG_ERR_TOPIC_INVALID: ${flag} 'a\\.\\.b': .*empty; no token minted$`, 'm'), flag);
    assert.equal(cli.stdout, '', flag);
  }
  const wildcard = runCli(t, ['token', '--secret', SECRET, '--sub', 'a.>.b']);
  assert.equal(await wildcard.exited, 1);
});

test("meshgate sub exits 1 with MG_ERR_AUTH_FORBIDDEN when the filter is outside the token's rights", { timeout: 60_000 }, async (t) => {
  const node = await startTestNode(t, { auth: { jwt: { secret: SECRET } } });
  const mint = runCli(t, ['token', '--secret', SECRET, '--sub', 'mine.>']);
  assert.equal(await mint.exited, 0, mint.stderr);
  const sub = runCli(t, ['sub', 'theirs.>', '--url', node.wsUrl, '--token', mint.stdout.trim()]);
  const code = await Promise.race([sub.exited, new Promise((r) => setTimeout(r, 10_000, 'still running'))]);
  assert.equal(code, 1, sub.stderr);
  assert.match(sub.stderr, /^MG_ERR_AUTH_FORBIDDEN: /m);
});
