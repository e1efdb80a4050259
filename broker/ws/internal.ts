/**
 * For test/ and bench/ only: broker/ws/'s public surface plus the internals its tests exercise.
 */
export * from './mod.js';
export { CBOR_CODEC } from './client-protocol.js';
export { SessionSubscriptions } from './session-subscriptions.js';
