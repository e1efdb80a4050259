import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MeshError } from '../base/mod.js';
import { JwtVerifier } from './jwt.js';
import { type PermissionSpec, Permissions } from './permissions.js';

/** Who is on the other end of a connection, and what it may do. */
export interface Principal {
  /** `sub` of a JWT, or the static token's name; for logs. */
  readonly name: string;
  readonly permissions: Permissions;
  /** When the credential stops being valid, ms since the epoch; null: never. */
  readonly expiresAt: number | null;
}

/** The `auth.jwt` config section. */
export interface JwtConfig {
  /** HS256 shared secret (at least 16 characters). */
  readonly secret?: string;
  /** PEM files of ES256 (EC P-256) or RS256 (RSA) public keys. */
  readonly publicKeyFiles?: readonly string[];
  readonly audience?: string;
  readonly issuer?: string;
  /** Leeway for exp and nbf, seconds. @default 30 */
  readonly clockSkewSec?: number;
}

/** One `auth.tokens` entry: a fixed bearer token with its rights. */
export interface StaticTokenConfig extends PermissionSpec {
  readonly name: string;
  readonly token: string;
}

/** The `auth` config section's credential part. */
export interface AuthConfig {
  readonly jwt?: JwtConfig;
  readonly tokens?: readonly StaticTokenConfig[];
}

export type AuthResult =
  | { readonly ok: true; readonly principal: Principal }
  | { readonly ok: false; readonly code: 'MG_ERR_AUTH_REQUIRED' | 'MG_ERR_AUTH_INVALID' | 'MG_ERR_AUTH_EXPIRED'; readonly message: string };

/** Name of the JWT claim carrying permissions: `{"perms": {"pub": [...], "sub": {"allow": [...], "deny": [...]}}}`. */
export const PERMS_CLAIM = 'perms';
const CACHE_ENTRIES = 1024;

/**
 * Turns a bearer credential into a Principal: static tokens first (looked
 * up by SHA-256, so the comparison does not leak the token through
 * timing), then JWTs. Verified tokens are cached (bounded) so many
 * connections with one token share one Permissions and its verdict cache;
 * expiry is re-checked on every use.
 */
export class Authenticator {
  readonly #jwt: JwtVerifier | null;
  readonly #skewMs: number;
  readonly #static = new Map<string, Principal>();
  readonly #cache = new Map<string, Principal>();
  readonly #now: () => number;

  /** Throws MeshError MG_ERR_CONFIG_INVALID on a bad key file or permission filter. */
  constructor(config: AuthConfig, now: () => number = Date.now) {
    this.#now = now;
    const jwt = config.jwt;
    this.#skewMs = (jwt?.clockSkewSec ?? 30) * 1000;
    if (jwt !== undefined && (jwt.secret !== undefined || (jwt.publicKeyFiles?.length ?? 0) > 0)) {
      const publicKeys = (jwt.publicKeyFiles ?? []).map((file, i) => {
        try {
          return readFileSync(file, 'utf8');
        } catch (err) {
          throw new MeshError(
            'MG_ERR_CONFIG_INVALID',
            `invalid configuration:\n  auth.jwt.publicKeyFiles[${i}]: cannot read ${file} (${(err as Error).message}); fix: a PEM file with an EC P-256 or RSA public key`,
            { cause: err },
          );
        }
      });
      try {
        this.#jwt = new JwtVerifier({ secret: jwt.secret, publicKeys }, { audience: jwt.audience, issuer: jwt.issuer, clockSkewSec: jwt.clockSkewSec, now });
      } catch (err) {
        throw new MeshError('MG_ERR_CONFIG_INVALID', `invalid configuration:\n  auth.jwt.publicKeyFiles: ${(err as Error).message}`, { cause: err });
      }
    } else this.#jwt = null;
    (config.tokens ?? []).forEach((entry, i) => {
      const permissions = Permissions.fromSpec(entry);
      if (typeof permissions === 'string')
        throw new MeshError(
          'MG_ERR_CONFIG_INVALID',
          `invalid configuration:\n  auth.tokens[${i}].${permissions}; fix: use mesh topic filters such as orders.> or sensors.*.temp`,
        );
      this.#static.set(digest(entry.token), { name: entry.name, permissions, expiresAt: null });
    });
  }

  /** Whether any credential is configured: with none, the node is open (the default). */
  get enabled(): boolean {
    return this.#jwt !== null || this.#static.size > 0;
  }

  /** Checks one bearer credential (null: none was presented). */
  authenticate(credential: string | null): AuthResult {
    if (credential === null || credential === '')
      return { ok: false, code: 'MG_ERR_AUTH_REQUIRED', message: 'this node requires a token: pass ?token=... or Authorization: Bearer ...' };
    const known = this.#static.get(digest(credential));
    if (known !== undefined) return { ok: true, principal: known };
    const cached = this.#cache.get(credential);
    if (cached !== undefined) {
      if (cached.expiresAt !== null && this.#now() > cached.expiresAt) {
        this.#cache.delete(credential);
        return { ok: false, code: 'MG_ERR_AUTH_EXPIRED', message: 'token expired' };
      }
      return { ok: true, principal: cached };
    }
    if (this.#jwt === null || credential.split('.').length !== 3) return { ok: false, code: 'MG_ERR_AUTH_INVALID', message: 'unknown token' };
    const verified = this.#jwt.verify(credential);
    if (!verified.ok) return { ok: false, code: verified.expired ? 'MG_ERR_AUTH_EXPIRED' : 'MG_ERR_AUTH_INVALID', message: verified.reason };
    const claims = verified.claims;
    const spec = claims[PERMS_CLAIM];
    const permissions = Permissions.fromSpec(typeof spec === 'object' && spec !== null ? (spec as PermissionSpec) : {});
    if (typeof permissions === 'string') return { ok: false, code: 'MG_ERR_AUTH_INVALID', message: `${PERMS_CLAIM}.${permissions}` };
    const exp = claims.exp;
    const principal: Principal = {
      name: typeof claims.sub === 'string' ? claims.sub : 'jwt',
      permissions,
      expiresAt: typeof exp === 'number' ? exp * 1000 + this.#skewMs : null,
    };
    if (this.#cache.size >= CACHE_ENTRIES) this.#cache.clear();
    this.#cache.set(credential, principal);
    return { ok: true, principal };
  }
}

/**
 * The credential of an upgrade request: `Authorization: Bearer T` first,
 * else the `token` query parameter (browsers cannot set headers on a
 * WebSocket).
 */
export function credentialOf(authorization: string, queryToken: string | undefined): string | null {
  const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(authorization);
  if (m !== null) return m[1];
  return queryToken === undefined || queryToken === '' ? null : queryToken;
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}
