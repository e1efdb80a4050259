import type { TestContext } from 'node:test';
import WebSocket, { type ClientOptions } from 'ws';
import { decodePeerFrame } from '../../broker/peering/internal.js';

/** How the node answered a peer upgrade that will never send a hello. */
export type SilentPeer =
  | {
      readonly kind: 'open';
      readonly socket: WebSocket;
      /** performance.now() when the challenge arrived. */
      readonly challengedAt: number;
      /** Resolves when the node closes the socket, with the time it did. */
      readonly closed: Promise<{ code: number; reason: string; at: number }>;
    }
  | { readonly kind: 'refused'; readonly status: number; readonly retryAfter: string | undefined; readonly body: string };

/**
 * Opens /v1/peer like a peer, then says nothing: the socket an attacker
 * holds to use up the node's descriptors. Terminated after the test.
 */
export function silentPeer(t: TestContext, url: string, options: ClientOptions = {}): Promise<SilentPeer> {
  const socket = new WebSocket(`${url}/v1/peer`, options);
  t.after(() => socket.terminate());
  socket.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) =>
    socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString(), at: performance.now() })),
  );
  return new Promise((resolve, reject) => {
    socket.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        req.destroy();
        resolve({ kind: 'refused', status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body });
      });
    });
    socket.once('message', (raw: Buffer) => {
      const decoded = decodePeerFrame(new Uint8Array(raw));
      if (decoded.kind !== 'control' || decoded.frame.t !== 'challenge') return reject(new Error('expected a challenge frame first'));
      resolve({ kind: 'open', socket, challengedAt: performance.now(), closed });
    });
    socket.once('close', (code: number) => reject(new Error(`closed (${code}) before a challenge or a refusal`)));
  });
}
