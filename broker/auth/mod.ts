/**
 * broker/auth/: who may connect and what each connection may do.
 *
 *   jwt.ts              HS256 / ES256 / RS256 verification (node:crypto), HS256 minting
 *   permissions.ts      pub/sub rights as topic filters, deny first, reserved _mg. topics
 *   filter-overlap.ts   whether two filters share a topic (for partial subscriptions)
 *   narrow-filter.ts    a partial subscription's readable part, as filters for the router
 *   authenticator.ts    bearer credential -> Principal (static tokens, JWTs)
 *   origin-check.ts     browser Origin allow-list
 *   token-bucket.ts     rate limiting primitive
 *   ip-limiter.ts       connections and connection rate per client address
 *   session-guard.ts    one connection's checks: publish, subscribe, delivery, expiry
 *   upgrade-gate.ts     everything checked before a WebSocket exists
 */
export {
  type AuthConfig,
  Authenticator,
  type AuthResult,
  credentialOf,
  type JwtConfig,
  PERMS_CLAIM,
  type Principal,
  type StaticTokenConfig,
} from './authenticator.js';
export { filtersOverlap } from './filter-overlap.js';
export { IpLimiter, type IpLimits } from './ip-limiter.js';
export { type JwtAlgorithm, type JwtCheck, type JwtKeys, type JwtResult, JwtVerifier, signHs256 } from './jwt.js';
export { originChecker } from './origin-check.js';
export { type PermissionSpec, Permissions, RESERVED_TOKEN, type RuleSpec, type SubscribeRight } from './permissions.js';
export { type GuardRefusal, type PublishLimit, SessionGuard } from './session-guard.js';
export { TokenBucket } from './token-bucket.js';
export { type GateOptions, type GateVerdict, statusOf, UpgradeGate, type UpgradeRequest } from './upgrade-gate.js';
