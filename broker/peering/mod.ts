/**
 * broker/peering/: the mesh between nodes. PeerMesh (links, interest
 * adverts, next hops, forwarding), PeerLink (unacked window, replay), the
 * dialer and the accept side (plain WebSocket and mutual TLS), frames and
 * the keyed handshake, and schema registry replication over the links.
 * Imports broker/pipeline/ and below, schemas/, routing/.
 */

export { PeerAdmission } from './peer-admission.js';
export { PeerDialer } from './peer-dialer.js';
export { mountPeerEndpoint, PEER_PATH } from './peer-endpoint.js';
export { PEER_LINK_DEFAULTS, type PeerLink, type PeerLinkOptions } from './peer-link.js';
export { PeerMesh } from './peer-mesh.js';
export { type PeerTlsEndpoint, readPeerTls, startPeerTlsEndpoint } from './peer-tls-endpoint.js';
export { RegistrySync } from './registry-sync.js';
export {
  type HolderLookup,
  REMOTE_READ_WINDOW,
  type RemoteEntry,
  RemoteRead,
  type RemoteReadEnd,
  type RemoteReadSink,
  RemoteStreams,
} from './remote-streams.js';
export { StreamMirror } from './stream-mirror.js';
