import type { UpgradeGate } from '../auth/mod.js';
import type { ErrorCode } from '../base/mod.js';

/** Why a peer socket was turned away before (or instead of) its hello; the `reason` label of meshgate_peer_refused_total. */
export type PeerAdmissionRefusal = 'pending_limit' | 'conn_limit' | 'conn_rate' | 'handshake_timeout';

export interface PeerAdmissionOptions {
  /**
   * Peer sockets that may be open without a completed hello at once, node
   * wide (plain and mutual-TLS listeners together); past it new peer
   * upgrades get HTTP 503 MG_ERR_PEER_BUSY. @default 64
   */
  readonly maxPendingHandshakes: number;
  /** A peer socket that has not sent a valid hello this long after opening is closed with 4408, ms. @default 5000 */
  readonly handshakeTimeoutMs: number;
}

export const PEER_ADMISSION_DEFAULTS: PeerAdmissionOptions = Object.freeze({ maxPendingHandshakes: 64, handshakeTimeoutMs: 5000 });

/** One admitted peer socket's claim on the pending count and its address slot. */
export interface PeerTicket {
  /** The hello was accepted: the socket stops counting as pending (keeps its address slot). Idempotent. */
  authenticated(): void;
  /** The socket closed, whatever the reason: every slot it held is freed. Idempotent. */
  closed(): void;
}

export type PeerAdmissionVerdict =
  | { readonly ok: true; readonly ticket: PeerTicket }
  | { readonly ok: false; readonly status: string; readonly code: ErrorCode; readonly message: string };

/**
 * What a peer upgrade must pass before a WebSocket exists, on every peer
 * listener: the per-address limits shared with clients (one budget per
 * address, whichever path it connects to: limits.maxConnectionsPerIp and
 * connectionRatePerIp, HTTP 429), then the node-wide cap on handshakes in
 * progress (HTTP 503). An unauthenticated socket thus costs a pending slot
 * for at most mesh.handshakeTimeoutMs (PeerAcceptance enforces the
 * deadline), so sockets that never say hello cannot pile up and starve
 * the node of file descriptors.
 *
 *   upgrade --admit--> pending --hello ok--> linked --close--> (freed)
 *                         \------ close / refused / deadline ---/
 */
export class PeerAdmission {
  readonly options: PeerAdmissionOptions;
  readonly #gate: UpgradeGate | null;
  readonly #refused: (reason: PeerAdmissionRefusal) => void;
  #pending = 0;

  constructor(options: PeerAdmissionOptions, gate: UpgradeGate | null, refused: (reason: PeerAdmissionRefusal) => void) {
    this.options = options;
    this.#gate = gate;
    this.#refused = refused;
  }

  /** Peer sockets open without a completed hello. */
  get pending(): number {
    return this.#pending;
  }

  /** Admits a peer upgrade from `ip` (counting it) or says why not; a refusal is counted here. */
  admit(ip: string): PeerAdmissionVerdict {
    // The cap first: a flood refused here takes no address slot and no rate token.
    if (this.#pending >= this.options.maxPendingHandshakes) {
      this.#refused('pending_limit');
      return {
        ok: false,
        status: '503 Service Unavailable',
        code: 'MG_ERR_PEER_BUSY',
        message: `this node has mesh.maxPendingHandshakes (${this.options.maxPendingHandshakes}) peer handshakes in progress; retry later`,
      };
    }
    const address = this.#gate?.checkAddress(ip) ?? { ok: true as const, ip: null };
    if (!address.ok) {
      this.#refused(address.code === 'MG_ERR_CONN_LIMIT' ? 'conn_limit' : 'conn_rate');
      return address;
    }
    this.#pending++;
    let pending = true;
    let held = true;
    const settle = () => {
      if (!pending) return;
      pending = false;
      this.#pending--;
    };
    return {
      ok: true,
      ticket: {
        authenticated: settle,
        closed: () => {
          settle();
          if (!held) return;
          held = false;
          this.#gate?.release(address.ip);
        },
      },
    };
  }

  /** A pending socket ran out of time (counted; PeerAcceptance closes it). */
  timedOut(): void {
    this.#refused('handshake_timeout');
  }
}
