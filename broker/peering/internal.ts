/**
 * For test/ and bench/ only: broker/peering/'s public surface plus the internals its tests exercise.
 */
export * from './mod.js';
export {
  type ControlFrame,
  decodeEventEntry,
  decodePeerFrame,
  encodeControl,
  encodeDests,
  encodeEventBatch,
  PEER_PROTOCOL_VERSION,
  withHopParent,
} from './peer-frames.js';
export { keyProof, newNonce } from './peer-handshake.js';
