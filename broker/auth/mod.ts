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
export { Authenticator, credentialOf, PERMS_CLAIM, type AuthConfig, type AuthResult, type JwtConfig, type Principal, type StaticTokenConfig } from './authenticator.js';
export { filtersOverlap } from './filter-overlap.js';
export { IpLimiter, type IpLimits } from './ip-limiter.js';
export { JwtVerifier, signHs256, type JwtAlgorithm, type JwtCheck, type JwtKeys, type JwtResult } from './jwt.js';
export { originChecker } from './origin-check.js';
export { Permissions, RESERVED_TOKEN, type PermissionSpec, type RuleSpec, type SubscribeRight } from './permissions.js';
export { SessionGuard, type GuardRefusal, type PublishLimit } from './session-guard.js';
export { TokenBucket } from './token-bucket.js';
export { statusOf, UpgradeGate, type GateOptions, type GateVerdict, type UpgradeRequest } from './upgrade-gate.js';
