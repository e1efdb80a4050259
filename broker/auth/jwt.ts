import { createHmac, createPublicKey, type KeyObject, timingSafeEqual, verify as verifySignature } from 'node:crypto';

/**
 * JSON Web Tokens (RFC 7519) in compact JWS form (RFC 7515), verified with
 * node:crypto alone: three algorithms, each bound to its own kind of key.
 *
 *   HS256  HMAC-SHA256 with a shared secret           (RFC 7518 §3.2)
 *   ES256  ECDSA P-256 + SHA-256, signature r || s     (RFC 7518 §3.4)
 *   RS256  RSASSA-PKCS1-v1_5 + SHA-256                 (RFC 7518 §3.3)
 *
 * Refused whatever the signature: `alg: none` and any other algorithm;
 * an algorithm no key is configured for; a public key used as an HMAC
 * secret (the classic algorithm confusion, where an attacker signs HS256
 * with the server's public RSA key): the secret used for HS256 is only ever
 * `keys.secret`, and a public key is only ever used with the algorithm its
 * key type implies (EC P-256 -> ES256, RSA -> RS256).
 */
export type JwtAlgorithm = 'HS256' | 'ES256' | 'RS256';

export interface JwtKeys {
  /** HS256 shared secret. */
  readonly secret?: string;
  /** ES256 and/or RS256 public keys (PEM text or KeyObject). */
  readonly publicKeys?: ReadonlyArray<string | KeyObject>;
}

export interface JwtCheck {
  /** Required `aud` (one of them must match the token's, string or array). */
  readonly audience?: string;
  /** Required `iss`. */
  readonly issuer?: string;
  /** Leeway for `exp` and `nbf`, seconds. @default 30 */
  readonly clockSkewSec?: number;
  /** Clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
}

export type JwtResult =
  | { readonly ok: true; readonly claims: Readonly<Record<string, unknown>>; readonly alg: JwtAlgorithm }
  | { readonly ok: false; readonly expired: boolean; readonly reason: string };

/** A verifier with its keys parsed once (at construction, never per token). */
export class JwtVerifier {
  readonly #secret: Buffer | null;
  readonly #es: KeyObject[] = [];
  readonly #rs: KeyObject[] = [];
  readonly #check: Required<Omit<JwtCheck, 'audience' | 'issuer'>> & Pick<JwtCheck, 'audience' | 'issuer'>;

  constructor(keys: JwtKeys, check: JwtCheck = {}) {
    this.#secret = keys.secret === undefined ? null : Buffer.from(keys.secret, 'utf8');
    for (const k of keys.publicKeys ?? []) {
      const key = typeof k === 'string' ? createPublicKey(k) : k;
      if (key.type !== 'public') throw new TypeError('JwtVerifier: publicKeys must be public keys');
      if (key.asymmetricKeyType === 'rsa') this.#rs.push(key);
      else if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') this.#es.push(key);
      else
        throw new TypeError(`JwtVerifier: unsupported public key type ${key.asymmetricKeyType ?? '?'} (use an RSA key for RS256 or an EC P-256 key for ES256)`);
    }
    this.#check = { clockSkewSec: check.clockSkewSec ?? 30, now: check.now ?? Date.now, audience: check.audience, issuer: check.issuer };
  }

  /** The algorithms this verifier accepts, by the keys it holds. */
  get algorithms(): JwtAlgorithm[] {
    const out: JwtAlgorithm[] = [];
    if (this.#secret !== null) out.push('HS256');
    if (this.#es.length > 0) out.push('ES256');
    if (this.#rs.length > 0) out.push('RS256');
    return out;
  }

  verify(token: string): JwtResult {
    const parts = token.split('.');
    if (parts.length !== 3) return invalid('not a compact JWS (three base64url parts)');
    const [h, p, s] = parts;
    const header = parseJsonPart(h);
    if (header === null) return invalid('header is not base64url JSON');
    const alg = header.alg;
    if (typeof alg !== 'string') return invalid('header has no alg');
    if (header.crit !== undefined) return invalid('crit header parameters are not supported'); // RFC 7515 §4.1.11
    const signed = Buffer.from(`${h}.${p}`, 'ascii');
    const sig = base64url(s);
    if (sig === null) return invalid('signature is not base64url');
    let good: boolean;
    switch (alg) {
      case 'HS256': {
        if (this.#secret === null) return invalid('HS256 is not accepted by this node');
        const mac = createHmac('sha256', this.#secret).update(signed).digest();
        good = mac.byteLength === sig.byteLength && timingSafeEqual(mac, sig);
        break;
      }
      case 'ES256':
        if (this.#es.length === 0) return invalid('ES256 is not accepted by this node');
        // JWS carries r || s (64 bytes), not DER.
        good = sig.byteLength === 64 && this.#es.some((key) => verifySignature('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, sig));
        break;
      case 'RS256':
        if (this.#rs.length === 0) return invalid('RS256 is not accepted by this node');
        good = this.#rs.some((key) => verifySignature('sha256', signed, key, sig));
        break;
      default:
        return invalid(`algorithm ${JSON.stringify(alg).slice(0, 20)} is refused; use HS256, ES256 or RS256`);
    }
    if (!good) return invalid('signature does not match');
    const claims = parseJsonPart(p);
    if (claims === null) return invalid('payload is not base64url JSON');
    return this.#checkClaims(claims, alg);
  }

  #checkClaims(claims: Record<string, unknown>, alg: JwtAlgorithm): JwtResult {
    const now = this.#check.now() / 1000;
    const skew = this.#check.clockSkewSec;
    const { exp, nbf, aud, iss } = claims;
    if (exp !== undefined) {
      if (typeof exp !== 'number' || !Number.isFinite(exp)) return invalid('exp is not a number');
      if (now > exp + skew) return { ok: false, expired: true, reason: `token expired at ${new Date(exp * 1000).toISOString()}` };
    }
    if (nbf !== undefined) {
      if (typeof nbf !== 'number' || !Number.isFinite(nbf)) return invalid('nbf is not a number');
      if (now + skew < nbf) return invalid(`token not valid before ${new Date(nbf * 1000).toISOString()}`);
    }
    const wantAud = this.#check.audience;
    if (wantAud !== undefined) {
      const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
      if (!auds.includes(wantAud)) return invalid(`aud does not include ${JSON.stringify(wantAud)}`);
    }
    const wantIss = this.#check.issuer;
    if (wantIss !== undefined && iss !== wantIss) return invalid(`iss is not ${JSON.stringify(wantIss)}`);
    return { ok: true, claims, alg };
  }
}

/**
 * Mints an HS256 token (the CLI's `meshgate token`, tests).
 *
 * @example
 * signHs256({ sub: 'svc', exp: Math.floor(Date.now() / 1000) + 3600 }, 's3cret');
 */
export function signHs256(claims: Record<string, unknown>, secret: string): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const mac = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${mac}`;
}

function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function base64url(part: string): Buffer | null {
  return B64URL.test(part) ? Buffer.from(part, 'base64url') : null;
}

function parseJsonPart(part: string): Record<string, unknown> | null {
  const bytes = base64url(part);
  if (bytes === null) return null;
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function invalid(reason: string): JwtResult {
  return { ok: false, expired: false, reason };
}
