import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { MetricsRegistry } from '../base/mod.js';
import { MeshError } from '../base/mod.js';
import { PeerAcceptance, type PeerAcceptOptions } from './peer-accept.js';
import { PEER_PATH } from './peer-endpoint.js';
import type { PeerMesh } from './peer-mesh.js';

export interface PeerTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  readonly passphrase?: string;
}

export interface PeerTlsEndpointOptions extends PeerAcceptOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly tls: PeerTlsFiles;
  readonly maxFrameBytes: number;
  readonly metrics: MetricsRegistry;
  readonly log: (line: string) => void;
}

export interface PeerTlsEndpoint {
  /** The bound port. */
  readonly port: number;
  close(): Promise<void>;
}

/** Answers an upgrade in plain HTTP and closes the socket (no WebSocket was made). */
function refuseUpgrade(socket: Duplex, status: string, body: string, retry = false): void {
  const text = `${body}\n`;
  socket.end(
    `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain\r\n${retry ? 'Retry-After: 1\r\n' : ''}Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

/** Key material of a TLS peer, read once at start-up; a missing file stops the node naming the key. */
export function readPeerTls(files: PeerTlsFiles, key = 'mesh.tls'): { cert: Buffer; key: Buffer; ca: Buffer; passphrase?: string } {
  const read = (name: 'certFile' | 'keyFile' | 'caFile') => {
    try {
      return readFileSync(files[name]);
    } catch (err) {
      throw new MeshError(
        'MG_ERR_CONFIG_INVALID',
        `invalid configuration:\n  ${key}.${name}: cannot read ${files[name]} (${(err as Error).message}); fix: a readable PEM file`,
        { cause: err },
      );
    }
  };
  return { cert: read('certFile'), key: read('keyFile'), ca: read('caFile'), passphrase: files.passphrase };
}

/**
 * The accepting side of peer links under mutual TLS.
 *
 * Why not uWS: uWS's SSLApp verifies a client certificate when one is
 * presented (ca_file_name) but does not require one, and its JS API cannot
 * tell whether one was presented, so a peer without a certificate would
 * get through on the mesh key alone. Peers are few and long-lived, so
 * they are served here by Node's TLS (`requestCert` + `rejectUnauthorized`:
 * no certificate, a certificate from another CA, or an expired one fail the
 * TLS handshake) and the `ws` library; client WebSockets stay on uWS.
 *
 * A peer failing TLS never reaches HTTP, let alone the mesh handshake:
 * it is counted as meshgate_peer_refused_total{reason="tls"} and logged.
 * After TLS, the upgrade is admitted (PeerAdmission: address limits and
 * the pending-handshake cap, shared with the plain listener) and the mesh
 * key handshake (PeerAcceptance) runs as on plain ws.
 */
export async function startPeerTlsEndpoint(mesh: PeerMesh, options: PeerTlsEndpointOptions): Promise<PeerTlsEndpoint> {
  const material = readPeerTls(options.tls);
  const refusedTls = options.metrics.counter('meshgate_peer_refused_total', 'Peer connections refused, by reason', { reason: 'tls' });
  // The same deadline at every stage before a hello: the TLS handshake,
  // the HTTP upgrade request, then (PeerAcceptance) the hello itself.
  const deadline = options.admission.options.handshakeTimeoutMs;
  const server: Server = createServer({
    ...material,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    handshakeTimeout: deadline,
    headersTimeout: deadline,
    requestTimeout: deadline,
    connectionsCheckingInterval: Math.min(1000, deadline),
  });
  server.on('tlsClientError', (err: Error & { code?: string }, socket) => {
    refusedTls.inc();
    options.log(`peer ${socket.remoteAddress ?? '?'}: MG_ERR_PEER_TLS: ${err.code ?? ''} ${err.message}`.trim());
  });
  server.on('request', (_req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain' }).end(`peers connect with a WebSocket upgrade to ${PEER_PATH}\n`);
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: Math.max(options.maxFrameBytes * 4, 16 * 1024 * 1024) });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    if ((req.url ?? '').split('?')[0] !== PEER_PATH) return refuseUpgrade(socket, '404 Not Found', `peers connect with a WebSocket upgrade to ${PEER_PATH}`);
    const verdict = options.admission.admit((socket as Socket).remoteAddress ?? '');
    if (!verdict.ok) return refuseUpgrade(socket, verdict.status, `${verdict.code}: ${verdict.message}`, verdict.code === 'MG_ERR_PEER_BUSY');
    const ticket = verdict.ticket;
    // The TCP socket's close is the one event sure to come, even when ws
    // rejects the upgrade request itself: it settles the ticket.
    socket.once('close', () => ticket.closed());
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const acceptance = new PeerAcceptance(
        mesh,
        options,
        {
          send: (bytes) => ws.send(bytes),
          end: (code, reason) => ws.close(code, reason),
          bufferedAmount: () => ws.bufferedAmount,
        },
        ticket,
      );
      ws.on('message', (data: Buffer, isBinary: boolean) => acceptance.message(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), isBinary));
      ws.on('close', () => acceptance.close());
      ws.on('error', () => undefined);
      // ws has no drain event on the WebSocket itself; the socket's does.
      socket.on('drain', () => acceptance.drain());
      acceptance.open();
    });
  });
  server.listen(options.port, options.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([err]) => {
      throw new MeshError(
        'MG_ERR_CONFIG_INVALID',
        `mesh.tls: cannot bind ${options.host}:${options.port} (${(err as Error).message}); fix: choose another mesh.tls.port`,
        { cause: err },
      );
    }),
  ]);
  const port = (server.address() as { port: number }).port;
  return {
    port,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
