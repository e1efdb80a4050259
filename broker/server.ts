import { createRequire } from 'node:module';
import uWS from 'uWebSockets.js';
import type { NodeConfig } from './config.js';
import { MeshError } from './errors.js';
import { mountHttpApi } from './http-api.js';
import { MeshNode } from './mesh-node.js';
import { mountPeerEndpoint } from './peer-endpoint.js';
import { PeerDialer } from './peer-dialer.js';
import { PeerMesh } from './peer-mesh.js';
import { CE_PATH_PREFIX, CLIENT_PATH, mountWsEndpoints } from './ws-endpoint.js';

const require = createRequire(import.meta.url);
/** The package version, sent in the hello frame and /v1/stats. */
export const VERSION: string = (require('../../package.json') as { version: string }).version;

/** A set of running bridges, as /v1/bridges shows them. */
export interface BridgeSet {
  /** One row per bridge: type, url, state, counters. */
  status(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Builds bridges from the config's `bridges` entries, against the node's public surface. */
export type BridgeFactory = (node: MeshNode, entries: NodeConfig['bridges'], log: (line: string) => void) => Promise<BridgeSet>;

/** Parts that live above broker/ in the dependency order, plugged in by the entry point. */
export interface NodeExtensions {
  readonly bridges?: BridgeFactory;
  readonly log?: (line: string) => void;
}

export interface RunningNode {
  readonly node: MeshNode;
  readonly mesh: PeerMesh;
  readonly bridges: BridgeSet | null;
  readonly config: NodeConfig;
  readonly host: string;
  /** The bound port (the real one when the config asked for 0). */
  readonly port: number;
  /** ws://host:port/v1/ws */
  readonly wsUrl: string;
  /** http://host:port */
  readonly httpUrl: string;
  connections(): number;
  /** Stops accepting, flushes queued frames, closes clients with 1001. Idempotent. */
  close(): Promise<void>;
}

/**
 * The composition root: builds a node and its endpoints from a resolved
 * config. Everything else receives what it needs as arguments.
 */
export async function startNode(config: NodeConfig, extensions: NodeExtensions = {}): Promise<RunningNode> {
  const log = extensions.log ?? ((l: string) => void process.stderr.write(`${l}\n`));
  const node = new MeshNode({
    nodeId: config.node.id,
    region: config.node.region,
    topicLimits: config.limits.topic,
    maxEventBytes: config.limits.maxEventBytes,
    dedup: config.dedup,
  });
  const mesh = new PeerMesh(node, { maxHops: config.mesh.maxHops, keepaliveMs: config.mesh.keepaliveMs, parkMs: config.mesh.parkMs, maxParked: config.mesh.maxParked, link: config.mesh.link });
  node.setForwarder(mesh);
  const app = uWS.App();
  mountPeerEndpoint(app, mesh, { nodeId: config.node.id, region: config.node.region, meshKey: config.mesh.key, maxFrameBytes: config.limits.maxFrameBytes });
  const ws = mountWsEndpoints(app, node, {
    maxFrameBytes: config.limits.maxFrameBytes,
    maxEventBytes: config.limits.maxEventBytes,
    maxSubscriptionsPerConnection: config.limits.maxSubscriptionsPerConnection,
    maxBufferedBytes: config.limits.maxBufferedBytes,
    version: VERSION,
  });
  let accepting = true;
  const dialers = config.mesh.peers.map(
    (url) =>
      new PeerDialer(url, mesh, {
        nodeId: config.node.id,
        region: config.node.region,
        meshKey: config.mesh.key!,
        backoffMinMs: config.mesh.backoffMinMs,
        backoffMaxMs: config.mesh.backoffMaxMs,
        log,
      }),
  );
  let bridges: BridgeSet | null = null;
  mountHttpApi(app, { node, mesh, dialers, bridges: () => bridges?.status() ?? [], version: VERSION, startedAt: Date.now(), connections: ws.connections, accepting: () => accepting });

  const { host } = config.listen;
  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(host, config.listen.port, (socket) => {
      if (socket === false) {
        reject(new MeshError('MG_ERR_CONFIG_INVALID', `listen: cannot bind ${host}:${config.listen.port} (in use or not an address of this machine); fix: choose another listen.port or --port`));
      } else resolve(socket);
    });
  });
  const port = uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket);
  for (const d of dialers) d.start();
  if (config.bridges.length > 0) {
    if (extensions.bridges === undefined) throw new MeshError('MG_ERR_CONFIG_INVALID', 'bridges: this build has no bridge support; fix: start the node with the meshgate command');
    bridges = await extensions.bridges(node, config.bridges, log);
  }
  const hostForUrl = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    node,
    mesh,
    get bridges() {
      return bridges;
    },
    config,
    host,
    port,
    wsUrl: `ws://${hostForUrl}:${port}${CLIENT_PATH}`,
    httpUrl: `http://${hostForUrl}:${port}`,
    connections: ws.connections,
    close() {
      closing ??= (async () => {
        accepting = false;
        uWS.us_listen_socket_close(listenSocket);
        for (const d of dialers) d.stop();
        await bridges?.close();
        mesh.close();
        ws.closeAll();
        // Let uWS write the close frames before the sockets are torn down.
        await new Promise((r) => setTimeout(r, 50));
        app.close();
      })();
      return closing;
    },
  };
}

export { CE_PATH_PREFIX, CLIENT_PATH };
