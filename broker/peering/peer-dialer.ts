import WebSocket from 'ws';
import { closeReason, codedReason } from '../base/mod.js';
import { PEER_PATH } from './peer-endpoint.js';
import { decodePeerFrame, encodeControl, PEER_PROTOCOL_VERSION } from './peer-frames.js';
import { keyProof, newNonce, PEER_CLOSE, proofMatches } from './peer-handshake.js';
import type { PeerConnection, PeerLink } from './peer-link.js';
import type { PeerMesh } from './peer-mesh.js';

export interface PeerDialerOptions {
  readonly nodeId: string;
  readonly region: string;
  readonly meshKey: string;
  /** First reconnect delay, ms. @default 100 */
  readonly backoffMinMs: number;
  /** Longest reconnect delay, ms. @default 5000 */
  readonly backoffMaxMs: number;
  /** Called with each refusal or failure, for the log. */
  readonly log: (line: string) => void;
  /** Mutual TLS (mesh.tls): our certificate, and the CA the peer's must chain to. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly ca: Buffer; readonly passphrase?: string };
}

/**
 * The dialing side of one configured peer URL: connects, proves the mesh
 * key, hands the connection to the mesh, and reconnects with exponential
 * backoff and full jitter (so a restarted hub is not hit by every spoke at
 * the same instant) until stopped.
 */
export class PeerDialer {
  readonly url: string;
  readonly #mesh: PeerMesh;
  readonly #options: PeerDialerOptions;
  #socket: WebSocket | null = null;
  #attempt = 0;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  /** Whether the mesh holds the current socket as a link (it then closes it: PeerMesh.close). */
  #linked = false;
  /** The last refusal or error, for /v1/peers. */
  lastError: string | null = null;

  constructor(url: string, mesh: PeerMesh, options: PeerDialerOptions) {
    this.url = peerUrl(url);
    this.#mesh = mesh;
    this.#options = options;
  }

  start(): void {
    this.#connect();
  }

  /**
   * Stops reconnecting. A socket still in its handshake is closed here; a
   * linked one is left to PeerMesh.close(), which acks what this node
   * finished before closing it (closing it here would lose those acks,
   * and the peer would replay events this node already delivered).
   */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (!this.#linked) this.#socket?.close(PEER_CLOSE.GOING_AWAY, 'node shutting down');
  }

  #connect(): void {
    if (this.#stopped) return;
    const socket = new WebSocket(this.url, {
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
      // RFC 6455 masking protects caching intermediaries from script-built
      // frames; a node-to-node link has none, and with an all-zero mask ws
      // skips the XOR over every byte it sends.
      generateMask: (mask: Buffer) => void mask.fill(0),
      // The peer's certificate must chain to mesh.tls.caFile and name the host dialled.
      ...(this.#options.tls === undefined ? {} : { ...this.#options.tls, rejectUnauthorized: true }),
    });
    socket.binaryType = 'nodebuffer';
    this.#socket = socket;
    const nonce = newNonce();
    let link: PeerLink | null = null;
    let conn: PeerConnection | null = null;
    const fail = (code: number, reason: 'auth' | 'version' | 'malformed', text: string) => {
      this.#mesh.refused(reason);
      this.lastError = text;
      this.#options.log(`peer ${this.url}: ${text}`);
      socket.close(code, closeReason(text));
    };
    let challenge: Uint8Array | null = null;
    socket.on('message', (raw: Buffer) => {
      const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
      if (link !== null) return this.#mesh.receive(link, conn!, bytes);
      const decoded = decodePeerFrame(bytes);
      if (decoded.kind !== 'control') return fail(PEER_CLOSE.MALFORMED, 'malformed', codedReason('MG_ERR_PEER_MALFORMED', 'garbage during the handshake'));
      const frame = decoded.frame;
      if (challenge === null) {
        if (frame.t !== 'challenge' || !(frame.nonce instanceof Uint8Array))
          return fail(PEER_CLOSE.MALFORMED, 'malformed', codedReason('MG_ERR_PEER_MALFORMED', 'expected a challenge'));
        challenge = frame.nonce;
        socket.send(
          encodeControl({
            t: 'hello',
            node: this.#options.nodeId,
            region: this.#options.region,
            version: PEER_PROTOCOL_VERSION,
            nonce,
            proof: keyProof(this.#options.meshKey, 'dial', challenge, this.#options.nodeId),
          }),
        );
        return;
      }
      if (frame.t !== 'welcome') return fail(PEER_CLOSE.MALFORMED, 'malformed', codedReason('MG_ERR_PEER_MALFORMED', 'expected a welcome'));
      if (frame.version !== PEER_PROTOCOL_VERSION)
        return fail(
          PEER_CLOSE.VERSION,
          'version',
          codedReason('MG_ERR_PEER_VERSION', `this node speaks peer protocol ${PEER_PROTOCOL_VERSION}, peer answered ${String(frame.version)}`),
        );
      if (typeof frame.node !== 'string' || !proofMatches(keyProof(this.#options.meshKey, 'accept', nonce, frame.node), frame.proof)) {
        return fail(PEER_CLOSE.AUTH, 'auth', codedReason('MG_ERR_PEER_AUTH', 'the peer could not prove the mesh key'));
      }
      conn = {
        send: (b) => socket.send(b),
        bufferedAmount: () => socket.bufferedAmount,
        close: (code, reason) => socket.close(code, reason),
      };
      link = this.#mesh.attach(frame.node, frame.region, conn, 'dial', this.url);
      if (link === null) return void socket.close(PEER_CLOSE.DUPLICATE, codedReason('MG_ERR_PEER_DUPLICATE', 'already connected to this node'));
      this.#linked = true;
      this.#attempt = 0;
      this.lastError = null;
      // ws has no drain event on the WebSocket itself; the socket's does.
      const underlying = (socket as unknown as { _socket?: import('node:net').Socket })._socket;
      underlying?.on('drain', () => link && this.#mesh.drained(link));
    });
    socket.on('close', (code: number, reason: Buffer) => {
      if (this.#socket === socket) this.#linked = false;
      if (link !== null && conn !== null) this.#mesh.detach(link, conn);
      if (code === PEER_CLOSE.AUTH || code === PEER_CLOSE.VERSION || code === PEER_CLOSE.MALFORMED) {
        // Refused by the peer: say why, and count it here too.
        const text = reason.toString() || `closed ${code}`;
        if (link === null && this.lastError !== text) {
          this.lastError = text;
          this.#options.log(`peer ${this.url} refused us: ${text}`);
          this.#mesh.refused(code === PEER_CLOSE.AUTH ? 'auth' : code === PEER_CLOSE.VERSION ? 'version' : 'malformed');
        }
      }
      this.#schedule();
    });
    socket.on('error', (err: Error & { code?: string }) => {
      const text = this.#options.tls === undefined ? null : tlsFailure(err, link !== null);
      if (text === null) this.lastError = err.message;
      else {
        this.#mesh.refused('tls');
        if (this.lastError !== text) this.#options.log(`peer ${this.url}: ${text}`);
        this.lastError = text;
      }
    });
  }

  #schedule(): void {
    if (this.#stopped) return;
    const cap = Math.min(this.#options.backoffMaxMs, this.#options.backoffMinMs * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    const delay = Math.random() * cap;
    this.#timer = setTimeout(() => this.#connect(), delay);
  }
}

/**
 * Names a mutual-TLS failure: our check of the peer's certificate (an
 * OpenSSL or X509 code), or the peer refusing ours, which with TLS 1.3 the
 * dialer only sees as a reset before the upgrade answer.
 */
function tlsFailure(err: Error & { code?: string }, linked: boolean): string | null {
  const code = err.code ?? '';
  if (/SSL|TLS|CERT|UNABLE_TO|SIGNATURE|ALTNAME/.test(code)) return codedReason('MG_ERR_PEER_TLS', `${err.message}`);
  if (!linked && code === 'ECONNRESET')
    return codedReason(
      'MG_ERR_PEER_TLS',
      `${err.message} before the upgrade answer (does the peer's mesh.tls.caFile sign our certificate, and is it unexpired?)`,
    );
  return null;
}

/** ws://h:p -> ws://h:p/v1/peer; an explicit path is kept. */
export function peerUrl(url: string): string {
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = PEER_PATH;
  return u.toString();
}
