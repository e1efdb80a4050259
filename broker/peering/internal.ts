/**
 * For test/ and bench/ only: broker/peering/'s public surface plus the internals its tests exercise.
 */
export * from './mod.js';
export { encodeControl, decodePeerFrame, PEER_PROTOCOL_VERSION, decodeEventEntry, encodeDests, encodeEventBatch, withHopParent, type ControlFrame } from './peer-frames.js';
export { keyProof, newNonce } from './peer-handshake.js';
