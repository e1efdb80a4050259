import type { ErrorCode } from '../base/mod.js';
import { type AuthConfig, Authenticator, credentialOf, type Principal } from './authenticator.js';
import { IpLimiter, type IpLimits } from './ip-limiter.js';
import { originChecker } from './origin-check.js';

/** What an upgrade request shows the gate (all from headers, the query and the socket). */
export interface UpgradeRequest {
  /** `Origin` header, '' when absent. */
  readonly origin: string;
  /** `Authorization` header, '' when absent. */
  readonly authorization: string;
  /** `token` query parameter. */
  readonly queryToken: string | undefined;
  /** Client address as text. */
  readonly ip: string;
}

export type GateVerdict =
  | { readonly ok: true; readonly principal: Principal | null; readonly ip: string | null }
  | { readonly ok: false; readonly status: string; readonly code: ErrorCode; readonly message: string };

export interface GateOptions {
  readonly auth: AuthConfig;
  readonly allowedOrigins?: readonly string[];
  readonly ipLimits: IpLimits;
  readonly now?: () => number;
}

const STATUS: Partial<Record<ErrorCode, string>> = {
  MG_ERR_AUTH_REQUIRED: '401 Unauthorized',
  MG_ERR_AUTH_INVALID: '401 Unauthorized',
  MG_ERR_AUTH_EXPIRED: '401 Unauthorized',
  MG_ERR_AUTH_FORBIDDEN: '403 Forbidden',
  MG_ERR_ORIGIN_FORBIDDEN: '403 Forbidden',
  MG_ERR_CONN_LIMIT: '429 Too Many Requests',
  MG_ERR_CONN_RATE: '429 Too Many Requests',
};

/** The HTTP status line an upgrade refusal with `code` is answered with. */
export function statusOf(code: ErrorCode): string {
  return STATUS[code] ?? '400 Bad Request';
}

/**
 * Everything checked before a WebSocket exists, in this order:
 *   Origin (403) -> connection count and rate per address (429) -> credential (401).
 * The rate is taken before the credential is checked, so guessing tokens
 * is throttled like any other connection. An admitted connection must call
 * `release(ip)` when it closes.
 */
export class UpgradeGate {
  readonly authenticator: Authenticator;
  readonly #originAllowed: (origin: string) => boolean;
  readonly #ips: IpLimiter;

  constructor(options: GateOptions) {
    this.authenticator = new Authenticator(options.auth, options.now);
    this.#originAllowed = originChecker(options.allowedOrigins);
    this.#ips = new IpLimiter(options.ipLimits);
  }

  /** Whether clients must present credentials. */
  get authEnabled(): boolean {
    return this.authenticator.enabled;
  }

  /** Addresses tracked by the connection limits. */
  get trackedAddresses(): number {
    return this.#ips.size;
  }

  check(req: UpgradeRequest): GateVerdict {
    if (!this.#originAllowed(req.origin)) return refuse('MG_ERR_ORIGIN_FORBIDDEN', `origin '${req.origin.slice(0, 200)}' is not in auth.allowedOrigins`);
    const limited = this.#ips.active;
    if (limited) {
      const verdict = this.#ips.acquire(req.ip);
      if (verdict === 'MG_ERR_CONN_LIMIT') return refuse(verdict, 'this address holds limits.maxConnectionsPerIp connections');
      if (verdict === 'MG_ERR_CONN_RATE') return refuse(verdict, 'this address opens connections faster than limits.connectionRatePerIp');
    }
    const ip = limited ? req.ip : null;
    if (!this.authenticator.enabled) return { ok: true, principal: null, ip };
    const result = this.authenticator.authenticate(credentialOf(req.authorization, req.queryToken));
    if (!result.ok) {
      if (ip !== null) this.#ips.release(ip);
      return refuse(result.code, result.message);
    }
    return { ok: true, principal: result.principal, ip };
  }

  /**
   * Only the per-address limits (count and rate), for connections that
   * authenticate otherwise (peers prove the mesh key after the upgrade).
   * They share the client budget: an address holds no more sockets by
   * also dialling /v1/peer. An admitted connection must call `release(ip)`.
   */
  checkAddress(
    ip: string,
  ):
    | { readonly ok: true; readonly ip: string | null }
    | { readonly ok: false; readonly status: string; readonly code: 'MG_ERR_CONN_LIMIT' | 'MG_ERR_CONN_RATE'; readonly message: string } {
    if (!this.#ips.active) return { ok: true, ip: null };
    const verdict = this.#ips.acquire(ip);
    if (verdict === 'MG_ERR_CONN_LIMIT')
      return { ok: false, status: statusOf(verdict), code: verdict, message: 'this address holds limits.maxConnectionsPerIp connections' };
    if (verdict === 'MG_ERR_CONN_RATE')
      return { ok: false, status: statusOf(verdict), code: verdict, message: 'this address opens connections faster than limits.connectionRatePerIp' };
    return { ok: true, ip };
  }

  /** An admitted connection closed (ip as the verdict gave it; null is a no-op). */
  release(ip: string | null): void {
    if (ip !== null) this.#ips.release(ip);
  }
}

function refuse(code: ErrorCode, message: string): GateVerdict {
  return { ok: false, status: statusOf(code), code, message };
}
