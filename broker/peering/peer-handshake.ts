import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Mutual proof of the shared mesh key without sending it: each side
 * answers the other's fresh nonce with HMAC-SHA256(key, role | nonce | node).
 * The role tag stops a proof being reflected back; the nonce stops replay.
 *
 *   acceptor                          dialer
 *     challenge{nonceA}  ---------->
 *                        <---------- hello{node, version, nonceD, proof(dial, nonceA)}
 *     welcome{node, version, proof(accept, nonceD)} ---------->
 */
export function newNonce(): Uint8Array {
  return randomBytes(16);
}

export function keyProof(meshKey: string, role: 'dial' | 'accept', nonce: Uint8Array, node: string): Uint8Array {
  return createHmac('sha256', meshKey).update(role).update(nonce).update(node).digest();
}

export function proofMatches(expected: Uint8Array, got: unknown): boolean {
  if (!(got instanceof Uint8Array) || got.byteLength !== expected.byteLength) return false;
  return timingSafeEqual(expected, got);
}

/** Close codes of the peer endpoint (4000-4999 are for applications, RFC 6455 §7.4.2). */
export const PEER_CLOSE = Object.freeze({
  /** Frame not decodable, or out of order in the handshake. */
  MALFORMED: 4400,
  /** Mesh key proof wrong, or this node has no mesh key. */
  AUTH: 4401,
  /** The same peer is already connected over another link. */
  DUPLICATE: 4409,
  /** Peer protocol version mismatch. */
  VERSION: 4426,
  /** Keepalive timed out, or no valid hello within mesh.handshakeTimeoutMs (MG_ERR_PEER_HANDSHAKE_TIMEOUT). */
  TIMEOUT: 4408,
  /** Node shutting down. */
  GOING_AWAY: 1001,
});
