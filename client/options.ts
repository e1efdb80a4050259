/**
 * The client's options: documented defaults, checked once at
 * construction so a wrong value fails there, naming the option and the
 * fix, instead of on the first reconnect.
 */
import { MeshgateError } from './errors.js';
import type { WebSocketConstructor } from './transport.js';

export interface MeshgateClientOptions {
  /** Client endpoint, `ws://host:port/v1/ws`; a URL without a path gets `/v1/ws`. */
  readonly url: string;
  /**
   * Credential (a JWT or static token), sent as the `token` query parameter
   * of the upgrade request, since browsers cannot set headers. A function
   * is asked again before every connection, so it can hand out a fresh
   * token; with one, MG_ERR_AUTH_EXPIRED leads to a reconnect instead of
   * closing the client.
   */
  readonly token?: string | (() => string | Promise<string>);
  /** WebSocket constructor. @default globalThis.WebSocket, else the `ws` package (Node) */
  readonly WebSocket?: WebSocketConstructor;
  /** CloudEvents `source` of published events without one. @default 'meshgate-client' */
  readonly source?: string;
  /** Reconnect after an unexpected close. @default true */
  readonly reconnect?: boolean;
  /** First reconnect delay bound, ms. @default 100 */
  readonly backoffMinMs?: number;
  /** Largest reconnect delay, ms. @default 5000 */
  readonly backoffMaxMs?: number;
  /** How long a request waits for its reply, connection time included, ms. @default 15000 */
  readonly requestTimeoutMs?: number;
  /** How long `connect()` waits for the first connection, ms; then it rejects and the client closes. @default 10000 */
  readonly connectTimeoutMs?: number;
  /** Random source for backoff jitter (tests). @default Math.random */
  readonly random?: () => number;
}

/** Options with every default filled in; `token` and `WebSocket` stay optional. */
export type ResolvedOptions = Readonly<Required<Omit<MeshgateClientOptions, 'token' | 'WebSocket'>>> & Pick<MeshgateClientOptions, 'token' | 'WebSocket'>;

const DEFAULTS = Object.freeze({
  source: 'meshgate-client',
  reconnect: true,
  backoffMinMs: 100,
  backoffMaxMs: 5000,
  requestTimeoutMs: 15_000,
  connectTimeoutMs: 10_000,
});

/** Fills in the defaults and checks every value; throws MG_ERR_CLIENT_OPTIONS naming the option. */
export function resolveOptions(options: MeshgateClientOptions): ResolvedOptions {
  if (typeof options?.url !== 'string' || !/^wss?:\/\//i.test(options.url)) {
    throw new MeshgateError('MG_ERR_CLIENT_OPTIONS', `url: expected a ws:// or wss:// URL, got ${JSON.stringify(options?.url)}`);
  }
  const resolved = {
    ...DEFAULTS,
    // An option passed as undefined means "the default", as if left out.
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    random: options.random ?? Math.random,
    url: withPath(options.url),
  } as ResolvedOptions;
  for (const key of ['backoffMinMs', 'backoffMaxMs', 'requestTimeoutMs', 'connectTimeoutMs'] as const) {
    const v = resolved[key];
    if (!(Number.isFinite(v) && v > 0))
      throw new MeshgateError('MG_ERR_CLIENT_OPTIONS', `${key}: expected a positive number of milliseconds, got ${String(v)}`);
  }
  return resolved;
}

/** The upgrade URL with the credential as the `token` query parameter, since browsers cannot set headers on it. */
export function withToken(url: string, token: string): string {
  const u = new URL(url);
  u.searchParams.set('token', token);
  return u.toString();
}

/** `ws://host:port` -> `ws://host:port/v1/ws`; a URL with a path is kept. */
function withPath(url: string): string {
  const u = new URL(url);
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/v1/ws';
  return u.toString();
}
