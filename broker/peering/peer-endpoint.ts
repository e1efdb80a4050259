import type { HttpRequest, HttpResponse, TemplatedApp, us_socket_context_t, WebSocket } from 'uWebSockets.js';
import { PeerAcceptance, type PeerAcceptOptions } from './peer-accept.js';
import type { PeerTicket } from './peer-admission.js';
import type { PeerMesh } from './peer-mesh.js';

/** Path peers dial. */
export const PEER_PATH = '/v1/peer';

interface PeerSocketData {
  readonly ticket: PeerTicket;
  acceptance: PeerAcceptance | null;
}

export interface PeerEndpointOptions extends PeerAcceptOptions {
  readonly maxFrameBytes: number;
}

/**
 * The accepting side of peer links, on the node's uWS app (plain ws, or
 * wss without client certificates). The handshake itself is
 * PeerAcceptance, shared with the mutual-TLS endpoint
 * (peer-tls-endpoint.ts). The upgrade is admitted first (PeerAdmission:
 * address limits, pending-handshake cap), refused in HTTP before any
 * WebSocket exists.
 */
export function mountPeerEndpoint(app: TemplatedApp, mesh: PeerMesh, options: PeerEndpointOptions): void {
  app.ws<PeerSocketData>(PEER_PATH, {
    maxPayloadLength: Math.max(options.maxFrameBytes * 4, 16 * 1024 * 1024),
    maxBackpressure: 64 * 1024 * 1024,
    closeOnBackpressureLimit: 0,
    idleTimeout: 0, // the mesh's own keepalive decides
    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      const verdict = options.admission.admit(Buffer.from(res.getRemoteAddressAsText()).toString());
      if (!verdict.ok) {
        res.cork(() => {
          res.writeStatus(verdict.status);
          if (verdict.code === 'MG_ERR_PEER_BUSY') res.writeHeader('Retry-After', '1');
          res.end(`${verdict.code}: ${verdict.message}\n`, true);
        });
        return;
      }
      // uWS runs open() inside res.upgrade(), and close() for every opened socket: the ticket is always settled.
      res.upgrade<PeerSocketData>(
        { ticket: verdict.ticket, acceptance: null },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open(ws: WebSocket<PeerSocketData>) {
      const data = ws.getUserData();
      const acceptance = new PeerAcceptance(
        mesh,
        options,
        {
          send: (bytes) => void ws.send(bytes, true),
          end: (code, reason) => ws.end(code, reason),
          bufferedAmount: () => ws.getBufferedAmount(),
        },
        data.ticket,
      );
      data.acceptance = acceptance;
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
