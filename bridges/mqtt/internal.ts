/**
 * For test/ and bench/ only: bridges/mqtt/'s public surface plus the internals its tests exercise.
 */
export * from './mod.js';
export { type PublishSizeProperties, publishPacketBytes } from './packet-size.js';
export { acceptPacketTooLargeAcks } from './packet-too-large-ack.js';
export { exportRefusal, pubackReasonCode } from './reason-codes.js';
