/**
 * For test/ and bench/ only: broker/ws/'s public surface plus the internals its tests exercise.
 */

export { CBOR_CODEC } from './client-protocol.js';
export * from './mod.js';
export { SessionSubscriptions } from './session-subscriptions.js';
