import type { HttpRequest, HttpResponse, TemplatedApp, us_socket_context_t, WebSocket } from 'uWebSockets.js';
import { decodePeerFrame, encodeControl, PEER_PROTOCOL_VERSION } from './peer-frames.js';
import { keyProof, newNonce, PEER_CLOSE, proofMatches } from './peer-handshake.js';
import type { PeerConnection, PeerLink } from './peer-link.js';
import type { PeerMesh } from './peer-mesh.js';

/** Path peers dial. */
export const PEER_PATH = '/v1/peer';

interface PeerSocketData {
  nonce: Uint8Array;
  link: PeerLink | null;
  conn: PeerConnection | null;
}

export interface PeerEndpointOptions {
  readonly nodeId: string;
  readonly region: string;
  /** Shared mesh key; with none, every peer is refused. */
  readonly meshKey: string | undefined;
  readonly maxFrameBytes: number;
}

/**
 * The accepting side of peer links, on the node's uWS app. Nothing but a
 * valid hello (right version, right key proof) is accepted before the
 * link exists; a refusal closes with a code and an MG_ERR_PEER_* reason
 * that the dialer logs, and is counted on both sides.
 */
export function mountPeerEndpoint(app: TemplatedApp, mesh: PeerMesh, options: PeerEndpointOptions): void {
  app.ws<PeerSocketData>(PEER_PATH, {
    maxPayloadLength: Math.max(options.maxFrameBytes * 4, 16 * 1024 * 1024),
    maxBackpressure: 64 * 1024 * 1024,
    closeOnBackpressureLimit: 0,
    idleTimeout: 0, // the mesh's own keepalive decides
    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      res.upgrade<PeerSocketData>({ nonce: newNonce(), link: null, conn: null }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open(ws: WebSocket<PeerSocketData>) {
      ws.send(encodeControl({ t: 'challenge', nonce: ws.getUserData().nonce }), true);
    },
    message(ws: WebSocket<PeerSocketData>, message: ArrayBuffer, isBinary: boolean) {
      const data = ws.getUserData();
      if (data.link !== null) {
        mesh.receive(data.link, new Uint8Array(message));
        return;
      }
      const refuse = (code: number, reason: 'auth' | 'version' | 'malformed' | 'duplicate', text: string) => {
        mesh.refused(reason);
        ws.end(code, text.slice(0, 120));
      };
      const decoded = isBinary ? decodePeerFrame(new Uint8Array(message)) : null;
      if (decoded === null || decoded.kind !== 'control' || decoded.frame.t !== 'hello') {
        return refuse(PEER_CLOSE.MALFORMED, 'malformed', 'MG_ERR_PEER_MALFORMED: expected a hello frame');
      }
      const hello = decoded.frame;
      if (hello.version !== PEER_PROTOCOL_VERSION) {
        return refuse(PEER_CLOSE.VERSION, 'version', `MG_ERR_PEER_VERSION: this node speaks peer protocol ${PEER_PROTOCOL_VERSION}, peer sent ${String(hello.version)}`);
      }
      if (options.meshKey === undefined) return refuse(PEER_CLOSE.AUTH, 'auth', 'MG_ERR_PEER_AUTH: this node has no mesh key; peering is off');
      if (typeof hello.node !== 'string' || !proofMatches(keyProof(options.meshKey, 'dial', data.nonce, hello.node), hello.proof)) {
        return refuse(PEER_CLOSE.AUTH, 'auth', 'MG_ERR_PEER_AUTH: mesh key proof does not match');
      }
      if (hello.node === options.nodeId) return refuse(PEER_CLOSE.MALFORMED, 'malformed', 'MG_ERR_PEER_SELF: a node cannot peer with itself');
      const conn: PeerConnection = {
        send: (bytes) => void ws.send(bytes, true),
        bufferedAmount: () => ws.getBufferedAmount(),
        close: (code, reason) => ws.end(code, reason),
      };
      // Welcome goes out before the link's first frames (its interest state).
      const nonce = hello.nonce instanceof Uint8Array ? hello.nonce : new Uint8Array();
      ws.send(encodeControl({ t: 'welcome', node: options.nodeId, region: options.region, version: PEER_PROTOCOL_VERSION, proof: keyProof(options.meshKey, 'accept', nonce, options.nodeId) }), true);
      const link = mesh.attach(hello.node, typeof hello.region === 'string' ? hello.region : '', conn, 'accept');
      if (link === null) return void ws.end(PEER_CLOSE.DUPLICATE, 'MG_ERR_PEER_DUPLICATE: already connected to this node');
      data.link = link;
      data.conn = conn;
    },
    drain(ws: WebSocket<PeerSocketData>) {
      const { link } = ws.getUserData();
      if (link !== null) mesh.drained(link);
    },
    close(ws: WebSocket<PeerSocketData>) {
      const { link, conn } = ws.getUserData();
      if (link !== null && conn !== null) mesh.detach(link, conn);
    },
  });
}
