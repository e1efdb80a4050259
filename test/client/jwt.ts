import { createHmac } from 'node:crypto';

/** An HS256 JWT (RFC 7519) for tests of the client against a node with `auth.jwt.secret`. */
export function hs256(claims: Record<string, unknown>, secret: string): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/**
 * A token for `sub: 'tester'` with the given publish/subscribe filters,
 * valid for at least `ttlSec` (exp is in whole seconds: rounding down left
 * a 1-second token as little as a few ms, and a test could see it expire
 * before its first request was answered).
 */
export function tokenFor(secret: string, perms: { pub?: string[]; sub?: string[] }, ttlSec = 600): string {
  return hs256({ sub: 'tester', exp: Math.ceil(Date.now() / 1000) + ttlSec, perms }, secret);
}
