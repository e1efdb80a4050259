import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 that can cut every connection through it at
 * once, to flap a peer link without touching either node.
 */
export interface TcpProxy {
  readonly port: number;
  /** Destroys every open connection pair; returns how many were cut. */
  cut(): number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Stops moving bytes either way (connections stay open): a peer that stalls. */
  pause(): void;
  resume(): void;
  /**
   * Holds new connections: they are accepted but not connected to the
   * target until release(), so a client's reconnect waits for the test
   * (what it sends meanwhile is kept and forwarded then). Open
   * connections are untouched.
   */
  hold(): void;
  /** Connects the held connections and every later one to the target again. */
  release(): void;
  /** Connections accepted and held now. */
  readonly held: number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let accepted = 0;
  let paused = false;
  let holding = false;
  const heldClients = new Set<Socket>();
  const forward = (client: Socket) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    if (paused) {
      client.pause();
      upstream.pause();
    }
  };
  const server: Server = createServer((client) => {
    accepted++;
    if (!holding) return forward(client);
    // Not read until release(): what the client sends waits in the socket.
    client.pause();
    heldClients.add(client);
    const forget = () => {
      heldClients.delete(client);
      client.destroy();
    };
    client.on('error', forget).on('close', forget);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const proxy: TcpProxy = {
    port,
    get accepted() {
      return accepted;
    },
    pause() {
      paused = true;
      for (const [a, b] of pairs) {
        a.pause();
        b.pause();
      }
    },
    resume() {
      paused = false;
      for (const [a, b] of pairs) {
        a.resume();
        b.resume();
      }
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const client of [...heldClients]) {
        heldClients.delete(client);
        client.removeAllListeners('error').removeAllListeners('close');
        forward(client);
      }
    },
    get held() {
      return heldClients.size;
    },
    cut(): number {
      const n = pairs.size;
      for (const [a, b] of [...pairs]) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
      return n;
    },
    async close() {
      proxy.cut();
      for (const client of heldClients) client.destroy();
      heldClients.clear();
      server.close();
      await once(server, 'close');
    },
  };
  return proxy;
}
