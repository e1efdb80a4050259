import { closeReason, codedReason } from '../base/mod.js';
import type { PeerAdmission, PeerTicket } from './peer-admission.js';
import { decodePeerFrame, encodeControl, PEER_PROTOCOL_VERSION } from './peer-frames.js';
import { keyProof, newNonce, PEER_CLOSE, proofMatches } from './peer-handshake.js';
import type { PeerConnection, PeerLink } from './peer-link.js';
import type { PeerMesh } from './peer-mesh.js';

/** The accepting side's view of one peer socket, whatever serves it (uWS, or ws over Node https for mutual TLS). */
export interface AcceptedSocket {
  send(bytes: Uint8Array): void;
  end(code: number, reason: string): void;
  bufferedAmount(): number;
}

export interface PeerAcceptOptions {
  readonly nodeId: string;
  readonly region: string;
  /** Shared mesh key; with none, every peer is refused. */
  readonly meshKey: string | undefined;
  /** Pending-handshake cap, address limits and the hello deadline, shared by every peer listener. */
  readonly admission: PeerAdmission;
}

/**
 * The acceptor's handshake for one socket, shared by every transport.
 * Nothing but a valid hello (right version, right key proof) is accepted
 * before the link exists; a refusal closes with a code and an
 * MG_ERR_PEER_* reason that the dialer logs, and is counted on both sides.
 */
export class PeerAcceptance {
  readonly #mesh: PeerMesh;
  readonly #options: PeerAcceptOptions;
  readonly #socket: AcceptedSocket;
  readonly #nonce = newNonce();
  #link: PeerLink | null = null;
  #conn: PeerConnection | null = null;
  readonly #ticket: PeerTicket;
  #deadline: NodeJS.Timeout | null = null;
  /** Set once the socket is being closed by this side or the peer: no deadline fires after it. */
  #ending = false;

  /** `ticket`: what PeerAdmission.admit gave this socket's upgrade. */
  constructor(mesh: PeerMesh, options: PeerAcceptOptions, socket: AcceptedSocket, ticket: PeerTicket) {
    this.#mesh = mesh;
    this.#options = options;
    this.#socket = socket;
    this.#ticket = ticket;
  }

  /** The socket opened: send the challenge and start the hello deadline. */
  open(): void {
    this.#socket.send(encodeControl({ t: 'challenge', nonce: this.#nonce }));
    // One timer per pending socket, cleared at the hello: a socket that
    // never says hello holds a descriptor and a pending slot no longer than this.
    const admission = this.#options.admission;
    this.#deadline = setTimeout(() => {
      this.#deadline = null;
      if (this.#link !== null || this.#ending) return;
      admission.timedOut();
      this.#end(
        PEER_CLOSE.TIMEOUT,
        codedReason('MG_ERR_PEER_HANDSHAKE_TIMEOUT', `no valid hello within mesh.handshakeTimeoutMs (${admission.options.handshakeTimeoutMs} ms)`),
      );
    }, admission.options.handshakeTimeoutMs);
    this.#deadline.unref();
  }

  #end(code: number, reason: string): void {
    this.#ending = true;
    this.#clearDeadline();
    this.#socket.end(code, reason);
  }

  #clearDeadline(): void {
    if (this.#deadline === null) return;
    clearTimeout(this.#deadline);
    this.#deadline = null;
  }

  /** One message; `message` is only valid during the call. */
  message(message: Uint8Array, isBinary: boolean): void {
    if (this.#link !== null) {
      this.#mesh.receive(this.#link, this.#conn!, message);
      return;
    }
    if (this.#ending) return;
    const options = this.#options;
    const socket = this.#socket;
    const refuse = (code: number, reason: 'auth' | 'version' | 'malformed' | 'duplicate', text: string) => {
      this.#mesh.refused(reason);
      this.#end(code, closeReason(text));
    };
    const decoded = isBinary ? decodePeerFrame(message) : null;
    if (decoded === null || decoded.kind !== 'control' || decoded.frame.t !== 'hello') {
      return refuse(PEER_CLOSE.MALFORMED, 'malformed', codedReason('MG_ERR_PEER_MALFORMED', 'expected a hello frame'));
    }
    const hello = decoded.frame;
    if (hello.version !== PEER_PROTOCOL_VERSION) {
      return refuse(
        PEER_CLOSE.VERSION,
        'version',
        codedReason('MG_ERR_PEER_VERSION', `this node speaks peer protocol ${PEER_PROTOCOL_VERSION}, peer sent ${String(hello.version)}`),
      );
    }
    if (options.meshKey === undefined) return refuse(PEER_CLOSE.AUTH, 'auth', codedReason('MG_ERR_PEER_AUTH', 'this node has no mesh key; peering is off'));
    if (typeof hello.node !== 'string' || !proofMatches(keyProof(options.meshKey, 'dial', this.#nonce, hello.node), hello.proof)) {
      return refuse(PEER_CLOSE.AUTH, 'auth', codedReason('MG_ERR_PEER_AUTH', 'mesh key proof does not match'));
    }
    if (hello.node === options.nodeId) return refuse(PEER_CLOSE.MALFORMED, 'malformed', codedReason('MG_ERR_PEER_SELF', 'a node cannot peer with itself'));
    const conn: PeerConnection = {
      send: (bytes) => void socket.send(bytes),
      bufferedAmount: () => socket.bufferedAmount(),
      close: (code, reason) => socket.end(code, reason),
    };
    // Welcome goes out before the link's first frames (its interest state).
    const nonce = hello.nonce instanceof Uint8Array ? hello.nonce : new Uint8Array();
    socket.send(
      encodeControl({
        t: 'welcome',
        node: options.nodeId,
        region: options.region,
        version: PEER_PROTOCOL_VERSION,
        proof: keyProof(options.meshKey, 'accept', nonce, options.nodeId),
      }),
    );
    const link = this.#mesh.attach(hello.node, typeof hello.region === 'string' ? hello.region : '', conn, 'accept');
    if (link === null) return this.#end(PEER_CLOSE.DUPLICATE, codedReason('MG_ERR_PEER_DUPLICATE', 'already connected to this node'));
    this.#clearDeadline();
    this.#ticket.authenticated();
    this.#link = link;
    this.#conn = conn;
  }

  drain(): void {
    if (this.#link !== null) this.#mesh.drained(this.#link);
  }

  /** The socket closed (either side, any reason). */
  close(): void {
    this.#ending = true;
    this.#clearDeadline();
    this.#ticket.closed();
    if (this.#link !== null && this.#conn !== null) this.#mesh.detach(this.#link, this.#conn);
  }
}
