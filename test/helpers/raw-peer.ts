import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { type ControlFrame, decodePeerFrame, encodeControl, keyProof, newNonce, PEER_PROTOCOL_VERSION } from '../../broker/peering/internal.js';
import { type NodeProcess, TEST_MESH_KEY } from './mesh.js';

/** A peer speaking the wire protocol by hand: records every control frame so the test can await one. */
export class RawPeer {
  readonly socket: WebSocket;
  readonly frames: ControlFrame[] = [];
  readonly closed: Promise<number>;
  #waiters: Array<() => void> = [];

  constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', (code: number) => resolve(code)));
    socket.on('message', (raw: Buffer) => {
      const decoded = decodePeerFrame(new Uint8Array(raw));
      if (decoded.kind !== 'control') return;
      this.frames.push(decoded.frame);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  async waitFor(match: (f: ControlFrame) => boolean): Promise<ControlFrame> {
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  send(frame: ControlFrame | Record<string, unknown>): void {
    this.socket.send(encodeControl(frame as ControlFrame));
  }

  /** Dials `node` as peer `id` with the mesh key and completes the handshake. */
  static async connect(t: TestContext, node: NodeProcess, id: string): Promise<RawPeer> {
    const socket = new WebSocket(`${node.peerUrl}/v1/peer`);
    t.after(() => socket.terminate());
    const peer = new RawPeer(socket);
    const challenge = (await peer.waitFor((f) => f.t === 'challenge')) as { nonce: Uint8Array };
    peer.send({
      t: 'hello',
      node: id,
      region: 'test',
      version: PEER_PROTOCOL_VERSION,
      nonce: newNonce(),
      proof: keyProof(TEST_MESH_KEY, 'dial', challenge.nonce, id),
    });
    await peer.waitFor((f) => f.t === 'welcome');
    return peer;
  }
}
