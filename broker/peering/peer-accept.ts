import { decodePeerFrame, encodeControl, PEER_PROTOCOL_VERSION } from './peer-frames.js';
import { keyProof, newNonce, PEER_CLOSE, proofMatches } from './peer-handshake.js';
import type { PeerConnection, PeerLink } from './peer-link.js';
import type { PeerMesh } from './peer-mesh.js';
import { closeReason } from '../base/mod.js';

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

  constructor(mesh: PeerMesh, options: PeerAcceptOptions, socket: AcceptedSocket) {
    this.#mesh = mesh;
    this.#options = options;
    this.#socket = socket;
  }

  /** The socket opened: send the challenge. */
  open(): void {
    this.#socket.send(encodeControl({ t: 'challenge', nonce: this.#nonce }));
  }

  /** One message; `message` is only valid during the call. */
  message(message: Uint8Array, isBinary: boolean): void {
    if (this.#link !== null) {
      this.#mesh.receive(this.#link, this.#conn!, message);
      return;
    }
    const options = this.#options;
    const socket = this.#socket;
    const refuse = (code: number, reason: 'auth' | 'version' | 'malformed' | 'duplicate', text: string) => {
      this.#mesh.refused(reason);
      socket.end(code, closeReason(text));
    };
    const decoded = isBinary ? decodePeerFrame(message) : null;
    if (decoded === null || decoded.kind !== 'control' || decoded.frame.t !== 'hello') {
      return refuse(PEER_CLOSE.MALFORMED, 'malformed', 'MG_ERR_PEER_MALFORMED: expected a hello frame');
    }
    const hello = decoded.frame;
    if (hello.version !== PEER_PROTOCOL_VERSION) {
      return refuse(PEER_CLOSE.VERSION, 'version', `MG_ERR_PEER_VERSION: this node speaks peer protocol ${PEER_PROTOCOL_VERSION}, peer sent ${String(hello.version)}`);
    }
    if (options.meshKey === undefined) return refuse(PEER_CLOSE.AUTH, 'auth', 'MG_ERR_PEER_AUTH: this node has no mesh key; peering is off');
    if (typeof hello.node !== 'string' || !proofMatches(keyProof(options.meshKey, 'dial', this.#nonce, hello.node), hello.proof)) {
      return refuse(PEER_CLOSE.AUTH, 'auth', 'MG_ERR_PEER_AUTH: mesh key proof does not match');
    }
    if (hello.node === options.nodeId) return refuse(PEER_CLOSE.MALFORMED, 'malformed', 'MG_ERR_PEER_SELF: a node cannot peer with itself');
    const conn: PeerConnection = {
      send: (bytes) => void socket.send(bytes),
      bufferedAmount: () => socket.bufferedAmount(),
      close: (code, reason) => socket.end(code, reason),
    };
    // Welcome goes out before the link's first frames (its interest state).
    const nonce = hello.nonce instanceof Uint8Array ? hello.nonce : new Uint8Array();
    socket.send(encodeControl({ t: 'welcome', node: options.nodeId, region: options.region, version: PEER_PROTOCOL_VERSION, proof: keyProof(options.meshKey, 'accept', nonce, options.nodeId) }));
    const link = this.#mesh.attach(hello.node, typeof hello.region === 'string' ? hello.region : '', conn, 'accept');
    if (link === null) return void socket.end(PEER_CLOSE.DUPLICATE, 'MG_ERR_PEER_DUPLICATE: already connected to this node');
    this.#link = link;
    this.#conn = conn;
  }

  drain(): void {
    if (this.#link !== null) this.#mesh.drained(this.#link);
  }

  close(): void {
    if (this.#link !== null && this.#conn !== null) this.#mesh.detach(this.#link, this.#conn);
  }
}
