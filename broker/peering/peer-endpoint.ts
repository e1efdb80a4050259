import type { HttpRequest, HttpResponse, TemplatedApp, us_socket_context_t, WebSocket } from 'uWebSockets.js';
import { PeerAcceptance, type PeerAcceptOptions } from './peer-accept.js';
import type { PeerMesh } from './peer-mesh.js';

/** Path peers dial. */
export const PEER_PATH = '/v1/peer';

interface PeerSocketData {
  acceptance: PeerAcceptance | null;
}

export interface PeerEndpointOptions extends PeerAcceptOptions {
  readonly maxFrameBytes: number;
}

/**
 * The accepting side of peer links, on the node's uWS app (plain ws, or
 * wss without client certificates). The handshake itself is
 * PeerAcceptance, shared with the mutual-TLS endpoint
 * (peer-tls-endpoint.ts).
 */
export function mountPeerEndpoint(app: TemplatedApp, mesh: PeerMesh, options: PeerEndpointOptions): void {
  app.ws<PeerSocketData>(PEER_PATH, {
    maxPayloadLength: Math.max(options.maxFrameBytes * 4, 16 * 1024 * 1024),
    maxBackpressure: 64 * 1024 * 1024,
    closeOnBackpressureLimit: 0,
    idleTimeout: 0, // the mesh's own keepalive decides
    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      res.upgrade<PeerSocketData>({ acceptance: null }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open(ws: WebSocket<PeerSocketData>) {
      const acceptance = new PeerAcceptance(mesh, options, {
        send: (bytes) => void ws.send(bytes, true),
        end: (code, reason) => ws.end(code, reason),
        bufferedAmount: () => ws.getBufferedAmount(),
      });
      ws.getUserData().acceptance = acceptance;
      acceptance.open();
    },
    message(ws: WebSocket<PeerSocketData>, message: ArrayBuffer, isBinary: boolean) {
      ws.getUserData().acceptance?.message(new Uint8Array(message), isBinary);
    },
    drain(ws: WebSocket<PeerSocketData>) {
      ws.getUserData().acceptance?.drain();
    },
    close(ws: WebSocket<PeerSocketData>) {
      ws.getUserData().acceptance?.close();
    },
  });
}
