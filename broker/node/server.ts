import uWS from 'uWebSockets.js';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { TracerProvider } from '@opentelemetry/api';
import { SchemaRegistry } from '../../schemas/mod.js';
import { type Authenticator, credentialOf, statusOf, UpgradeGate } from '../auth/mod.js';
import { codedReason, MeshError } from '../base/mod.js';
import type { NodeConfig } from '../config/mod.js';
import type { SchemaApiOptions } from '../http/mod.js';
import { mountEventsApi, mountHttpApi, startMeshViewPublisher } from '../http/mod.js';
import {
  mountPeerEndpoint,
  PEER_PATH,
  PeerAdmission,
  PeerDialer,
  PeerMesh,
  type PeerTlsEndpoint,
  RegistrySync,
  RemoteStreams,
  readPeerTls,
  StreamMirror,
  startPeerTlsEndpoint,
} from '../peering/mod.js';
import { IngressValidator, MeshNode } from '../pipeline/mod.js';
import { consumersOf, JetStreamStreamStore, LmdbStreamStore, MemoryStreamStore, StreamManager, type StreamStore } from '../streams/mod.js';
import { EventTracing, startTelemetry, type Telemetry } from '../telemetry/mod.js';
import { startWebhooks, type WebhookSet } from '../webhooks/mod.js';
import { CE_PATH_PREFIX, CLIENT_PATH, mountWsEndpoints } from '../ws/mod.js';

const require = createRequire(import.meta.url);
/** The package version, sent in the hello frame and /v1/stats. */
export const VERSION: string = (require('../../../package.json') as { version: string }).version;

/**
 * Most stored entries a start-up reads back into the dedup window: well
 * over a peer link's unacked window (20,000), the events a peer may replay
 * to a restarted node, while keeping start-up well under a second.
 */
const DEDUP_SEED_MAX = 100_000;

/** A set of running bridges, as /v1/bridges shows them. */
export interface BridgeSet {
  /** One row per bridge: type, url, state, counters. */
  status(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** What a bridge may use of the node beyond its pipeline. */
export interface BridgeHost {
  /** The node's storage directory (`storage.dir`): where a bridge keeps its position (bridges/postgres checkpoints). */
  readonly storageDir: string;
  /** The node's streams: a postgres sink reads its changes from one (bridges/postgres/sink-feed.ts). */
  readonly streams?: StreamManager;
  /** The node's schema registry: a postgres source versions each table's row schema there (bridges/postgres/row-schema.ts). */
  readonly schemas?: SchemaRegistry;
}

/** Builds bridges from the config's `bridges` entries, against the node's public surface. */
export type BridgeFactory = (node: MeshNode, entries: NodeConfig['bridges'], log: (line: string) => void, host: BridgeHost) => Promise<BridgeSet>;

/** Parts that live above broker/ in the dependency order, plugged in by the entry point. */
export interface NodeExtensions {
  readonly bridges?: BridgeFactory;
  readonly log?: (line: string) => void;
  /**
   * Where spans go, instead of the SDK the OTEL_* environment would start:
   * tests pass a provider with an in-memory exporter; null turns tracing off.
   */
  readonly tracerProvider?: TracerProvider | null;
}

export interface RunningNode {
  readonly node: MeshNode;
  readonly mesh: PeerMesh;
  readonly bridges: BridgeSet | null;
  /** The node's schema registry (served under /v1/schemas/). */
  readonly schemas: SchemaRegistry;
  /** The node's streams (served under /v1/streams). */
  readonly streams: StreamManager;
  readonly config: NodeConfig;
  /** How spans are exported, for the start-up banner ('off' when they are not). */
  readonly tracing: string;
  readonly host: string;
  /** The bound port (the real one when the config asked for 0). */
  readonly port: number;
  /** ws://host:port/v1/ws */
  readonly wsUrl: string;
  /** http://host:port (https:// with `tls`) */
  readonly httpUrl: string;
  /** What peers dial: ws://host:port, or wss://host:peerPort with mesh.tls. */
  readonly peerUrl: string;
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
  const telemetry: Telemetry =
    extensions.tracerProvider === undefined
      ? await startTelemetry({ nodeId: config.node.id, region: config.node.region })
      : {
          provider: extensions.tracerProvider,
          sampling: null,
          summary: extensions.tracerProvider === null ? 'off' : 'on (provider given by the embedding code)',
          shutdown: async () => {},
        };
  const node = new MeshNode({
    tracing:
      telemetry.provider === null
        ? null
        : new EventTracing(telemetry.provider, { nodeId: config.node.id, region: config.node.region, version: VERSION }, telemetry.sampling),
    nodeId: config.node.id,
    region: config.node.region,
    topicLimits: config.limits.topic,
    maxEventBytes: config.limits.maxEventBytes,
    dedup: config.dedup,
    hlcMaxAheadMs: config.mesh.hlcMaxAheadMs,
  });
  const mesh = new PeerMesh(node, {
    maxHops: config.mesh.maxHops,
    keepaliveMs: config.mesh.keepaliveMs,
    parkMs: config.mesh.parkMs,
    maxParked: config.mesh.maxParked,
    link: config.mesh.link,
  });
  node.setForwarder(mesh);
  // The store is opened (and locked) before anything listens, so a locked
  // or corrupt data directory stops start-up with its code and the fix.
  const streams = await startStreams(config, node);
  // Streams read across the mesh: this node's served to peers, peers' read for subscribers here (remote-streams.ts).
  // Without a mesh key there is no peering: no stream is remote, and nothing is waited for.
  const peering = config.mesh.key !== undefined;
  const remoteStreams = new RemoteStreams(mesh, {
    nodeId: config.node.id,
    streams,
    metrics: node.metrics,
    lookupGraceMs: peering ? config.mesh.streamLookupMs : 0,
  });
  const mirrorResets = node.metrics.counter(
    'meshgate_stream_mirror_resets_total',
    "Mirrors that started over: the source's epoch changed, or it trimmed past the mirror's end",
  );
  const mirrors = config.streams.flatMap((c) =>
    c.mirror === undefined ? [] : [new StreamMirror({ remote: remoteStreams, streams, config: c, source: c.mirror, resets: mirrorResets, log })],
  );
  // Credentials and key files are checked before anything listens.
  const gate = new UpgradeGate({
    auth: config.auth,
    allowedOrigins: config.auth.allowedOrigins,
    ipLimits: {
      maxConnectionsPerIp: config.limits.maxConnectionsPerIp,
      connectionRatePerIp: config.limits.connectionRatePerIp,
      connectionBurstPerIp: config.limits.connectionBurstPerIp,
    },
  });
  // One pending-handshake count for both peer listeners; the address limits are the clients' (gate).
  const admission = new PeerAdmission(
    { maxPendingHandshakes: config.mesh.maxPendingHandshakes, handshakeTimeoutMs: config.mesh.handshakeTimeoutMs },
    gate,
    (reason) => mesh.refused(reason),
  );
  node.metrics.gaugeFn(
    'meshgate_peer_pending_handshakes',
    'Peer sockets open without a completed hello (cap: mesh.maxPendingHandshakes)',
    () => admission.pending,
  );
  let app: uWS.TemplatedApp;
  try {
    app = createApp(config);
  } catch (err) {
    await streams.close();
    throw err;
  }
  const meshTls = config.mesh.tls;
  const peerTls = meshTls === undefined ? undefined : readPeerTls(meshTls);
  if (meshTls === undefined) {
    mountPeerEndpoint(app, mesh, {
      nodeId: config.node.id,
      region: config.node.region,
      meshKey: config.mesh.key,
      maxFrameBytes: config.limits.maxFrameBytes,
      admission,
    });
  } else {
    // With mutual TLS, peers are served only by the TLS listener: the client port refuses them.
    app.get(PEER_PATH, (res) => {
      res.writeStatus('403 Forbidden').end(`${codedReason('MG_ERR_PEER_TLS', 'this node takes peers over mutual TLS on its mesh.tls port')}\n`);
    });
  }
  const ws = mountWsEndpoints(app, node, {
    maxFrameBytes: config.limits.maxFrameBytes,
    maxEventBytes: config.limits.maxEventBytes,
    maxSubscriptionsPerConnection: config.limits.maxSubscriptionsPerConnection,
    maxBufferedBytes: config.limits.maxBufferedBytes,
    maxNodeBufferedBytes: config.limits.maxNodeBufferedBytes,
    version: VERSION,
    gate,
    publishLimit: { rate: config.limits.publishRate, burst: config.limits.publishBurst },
    streams,
    remoteStreams: peering ? remoteStreams : null,
  });
  const events = mountEventsApi(app, node, {
    maxBodyBytes: config.limits.maxFrameBytes,
    maxBufferedBytes: config.limits.maxBufferedBytes,
    budget: ws.budget,
    sseHeartbeatMs: config.http.sseHeartbeatMs,
    gate,
    publishLimit: { rate: config.limits.publishRate, burst: config.limits.publishBurst },
    streams,
    webhookOrigins: config.http.webhookOrigins,
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
        tls: peerTls,
      }),
  );
  let bridges: BridgeSet | null = null;
  let webhooks: WebhookSet | null = null;
  const schemas = new SchemaRegistry({ nodeId: config.node.id });
  // Mesh-wide registry: states travel over the peer links (registry-sync.ts).
  const registrySync = new RegistrySync(schemas, mesh, node.metrics, { log });
  node.setValidator(new IngressValidator(schemas));
  const stopMeshViews = startMeshViewPublisher(node, { node, mesh, bridges: () => bridges?.status() ?? [], streams });
  mountHttpApi(app, {
    schemas,
    authorizeSchemaWrite: gate.authenticator.enabled ? schemaWriteAuthorizer(gate.authenticator) : undefined,
    node,
    mesh,
    dialers,
    bridges: () => bridges?.status() ?? [],
    version: VERSION,
    startedAt: Date.now(),
    connections: ws.connections,
    accepting: () => accepting,
    streams,
    webhooks: () => webhooks?.status() ?? [],
    authorizeStreamWrite: gate.authenticator.enabled ? streamWriteAuthorizer(gate.authenticator) : undefined,
    authorizeStreamRead: gate.authenticator.enabled ? streamReadAuthorizer(gate.authenticator) : undefined,
  });

  const { host } = config.listen;
  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    // uWS binds with SO_REUSEPORT unless told otherwise: a second node on a
    // taken port would then start, print "ready" and let the kernel split
    // clients between the two. A node owns its port exclusively.
    // (uWS.js v20 takes (host, port, options, cb); its typings list only (port, options, cb).)
    (app.listen as unknown as ListenWithOptions)(host, config.listen.port, LISTEN_EXCLUSIVE_PORT, (socket) => {
      if (socket === false) {
        reject(
          new MeshError(
            'MG_ERR_CONFIG_INVALID',
            `listen: cannot bind ${host}:${config.listen.port} (in use or not an address of this machine); fix: choose another listen.port or --port`,
          ),
        );
      } else resolve(socket);
    });
  });
  const port = uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket);
  let peerEndpoint: PeerTlsEndpoint | null = null;
  if (meshTls !== undefined) {
    try {
      peerEndpoint = await startPeerTlsEndpoint(mesh, {
        nodeId: config.node.id,
        region: config.node.region,
        meshKey: config.mesh.key,
        admission,
        host: meshTls.host ?? host,
        port: meshTls.port ?? (config.listen.port === 0 ? 0 : config.listen.port + 1),
        tls: meshTls,
        maxFrameBytes: config.limits.maxFrameBytes,
        metrics: node.metrics,
        log,
      });
    } catch (err) {
      uWS.us_listen_socket_close(listenSocket);
      mesh.close();
      await streams.close();
      throw err;
    }
  }
  if (config.bridges.length > 0) {
    try {
      if (extensions.bridges === undefined)
        throw new MeshError('MG_ERR_CONFIG_INVALID', 'bridges: this build has no bridge support; fix: start the node with the meshgate command');
      bridges = await extensions.bridges(node, config.bridges, log, { storageDir: config.storage.dir, streams, schemas });
    } catch (err) {
      // A wrong bridge entry stops start-up; what is already listening must
      // not keep the process alive behind the error message.
      uWS.us_listen_socket_close(listenSocket);
      await peerEndpoint?.close();
      mesh.close();
      app.close();
      await streams.close();
      throw err;
    }
  }
  for (const d of dialers) d.start();
  webhooks = await startWebhooks(config.webhooks, { node, streams, storageDir: config.storage.engine === 'memory' ? null : config.storage.dir, log });
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  const secure = config.tls !== undefined;
  const peerHost = meshTls?.host ?? host;
  const peerUrl =
    peerEndpoint === null
      ? `${secure ? 'wss' : 'ws'}://${hostForUrl}:${port}`
      : `wss://${peerHost.includes(':') ? `[${peerHost}]` : peerHost}:${peerEndpoint.port}`;

  let closing: Promise<void> | undefined;
  return {
    node,
    mesh,
    get bridges() {
      return bridges;
    },
    schemas,
    streams,
    config,
    tracing: telemetry.summary,
    host,
    port,
    wsUrl: `${secure ? 'wss' : 'ws'}://${hostForUrl}:${port}${CLIENT_PATH}`,
    httpUrl: `${secure ? 'https' : 'http'}://${hostForUrl}:${port}`,
    peerUrl,
    connections: ws.connections,
    close() {
      closing ??= (async () => {
        accepting = false;
        stopMeshViews();
        uWS.us_listen_socket_close(listenSocket);
        for (const d of dialers) d.stop();
        registrySync.close();
        for (const m of mirrors) m.close();
        remoteStreams.close();
        await peerEndpoint?.close();
        await bridges?.close();
        // Before the store closes: their positions are written on close.
        await webhooks?.close();
        mesh.close();
        ws.closeAll();
        events.closeAll();
        // Let uWS write the close frames before the sockets are torn down.
        await new Promise((r) => setTimeout(r, 50));
        app.close();
        // Last: what was queued while shutting down is committed before the lock goes.
        await streams.close();
        await telemetry.shutdown();
      })();
      return closing;
    },
  };
}

/**
 * uSockets' LIBUS_LISTEN_EXCLUSIVE_PORT: bind without SO_REUSEPORT. The
 * typings declare it as a (non-const) enum the runtime module does not
 * export under that name; the module exports the number itself.
 */
const LISTEN_EXCLUSIVE_PORT = ((uWS as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT?: number }).LIBUS_LISTEN_EXCLUSIVE_PORT ?? 1) as number;

type ListenWithOptions = (host: string, port: number, options: number, cb: (socket: uWS.us_listen_socket | false) => void) => uWS.TemplatedApp;

/** A plain uWS app, or an SSLApp when `tls` is configured (files checked first: uWS only says it failed). */
function createApp(config: NodeConfig): uWS.TemplatedApp {
  const tls = config.tls;
  if (tls === undefined) return uWS.App();
  for (const key of ['certFile', 'keyFile', 'caFile'] as const) {
    const file = tls[key];
    if (file === undefined) continue;
    try {
      readFileSync(file);
    } catch (err) {
      throw new MeshError(
        'MG_ERR_CONFIG_INVALID',
        `invalid configuration:\n  tls.${key}: cannot read ${file} (${(err as Error).message}); fix: a readable PEM file`,
        { cause: err },
      );
    }
  }
  try {
    const options: uWS.AppOptions = { cert_file_name: tls.certFile, key_file_name: tls.keyFile };
    if (tls.caFile !== undefined) options.ca_file_name = tls.caFile;
    if (tls.passphrase !== undefined) options.passphrase = tls.passphrase;
    return uWS.SSLApp(options);
  } catch (err) {
    throw new MeshError(
      'MG_ERR_CONFIG_INVALID',
      `invalid configuration:\n  tls: the certificate and key do not load (${(err as Error).message}); fix: PEM files of a matching certificate and private key`,
      { cause: err },
    );
  }
}

export { CE_PATH_PREFIX, CLIENT_PATH };

/**
 * Opens the stream store and subscribes the streams it holds, then
 * creates (or, changed, re-creates) the config file's streams. The lmdb
 * store is opened at start when streams are configured or its directory
 * already holds a store; otherwise on the first stream created over HTTP,
 * so a node without streams writes nothing to disk.
 */
async function startStreams(config: NodeConfig, node: MeshNode): Promise<StreamManager> {
  const { storage } = config;
  const jetstream = storage.engine === 'jetstream' ? await openJetStream(storage) : null;
  const open = (): StreamStore =>
    jetstream ??
    (storage.engine === 'memory'
      ? new MemoryStreamStore({ maxStoreBytes: storage.maxBytes })
      : LmdbStreamStore.open({ dir: storage.dir, durability: storage.durability, maxStoreBytes: storage.maxBytes }));
  const eager = storage.engine !== 'lmdb' || config.streams.length > 0 || existsSync(join(storage.dir, 'data.mdb'));
  let store: StreamStore | null = null;
  try {
    store = eager ? open() : null;
  } catch (err) {
    if (err instanceof MeshError && (err.code === 'MG_ERR_STREAM_LOCKED' || err.code === 'MG_ERR_STREAM_CORRUPT')) {
      throw new MeshError(err.code, `storage.dir: ${err.message} (storage.dir, --data-dir or MESHGATE_DATA_DIR)`, { cause: err });
    }
    throw err;
  }
  const streams = new StreamManager({ node, store, openStore: open, metrics: node.metrics });
  try {
    streams.start();
    for (const c of config.streams) await streams.create(c, { replace: true, mirror: c.mirror !== undefined });
    // Durable consumers' positions, loaded once their streams are known (lag in /metrics from the start).
    await consumersOf(streams).ready();
    // The dedup window does not survive a restart; what the streams hold of it does (mesh-node.ts rememberSeen).
    await streams.seedDedup(Math.min(config.dedup.maxEntries, DEDUP_SEED_MAX), config.dedup.windowMs);
  } catch (err) {
    await streams.close();
    throw err;
  }
  node.setDurability(streams);
  return streams;
}

/** The JetStream engine, connected at start: a node whose streams live on nats-servers it cannot reach does not start. */
async function openJetStream(storage: NodeConfig['storage']): Promise<StreamStore> {
  const js = storage.jetstream!;
  try {
    return await JetStreamStreamStore.open({
      servers: [...js.servers],
      storeId: js.storeId,
      ...(js.replicas === undefined ? {} : { replicas: js.replicas }),
      ...(js.cacheEntries === undefined ? {} : { cacheEntries: js.cacheEntries }),
    });
  } catch (err) {
    if (err instanceof MeshError) throw err;
    throw new MeshError(
      'MG_ERR_STREAM_IO',
      `storage.jetstream.servers: cannot open the JetStream engine on ${js.servers.join(', ')} (${(err as Error).message}); fix: start nats-server with -js there, or correct the URLs`,
      { cause: err },
    );
  }
}

/** As schemaWriteAuthorizer: creating or removing stream N needs publish rights on `_mg.streams.N`. */
function streamWriteAuthorizer(authenticator: Authenticator): (req: uWS.HttpRequest, name: string) => WriteRefusalOf | null {
  return (req, name) => {
    const result = authenticator.authenticate(credentialOf(req.getHeader('authorization'), req.getQuery('token')));
    if (!result.ok) return { status: statusOf(result.code), code: result.code, message: result.message };
    const topic = `_mg.streams.${name}`;
    if (result.principal.permissions.canPublish(topic)) return null;
    return { status: '403 Forbidden', code: 'MG_ERR_AUTH_FORBIDDEN', message: `changing stream '${name}' needs publish rights on ${topic}` };
  };
}

/** With auth on, a stream's entries are listed only to a valid credential, and only those on topics it may read. */
function streamReadAuthorizer(authenticator: Authenticator): (req: uWS.HttpRequest) => WriteRefusalOf | ((topic: string) => boolean) {
  return (req) => {
    const result = authenticator.authenticate(credentialOf(req.getHeader('authorization'), req.getQuery('token')));
    if (!result.ok) return { status: statusOf(result.code), code: result.code, message: result.message };
    const permissions = result.principal.permissions;
    return (topic) => permissions.canRead(topic);
  };
}

type WriteRefusalOf = NonNullable<ReturnType<NonNullable<SchemaApiOptions['authorizeWrite']>>>;

/**
 * With auth on, changing subject S needs publish rights on the reserved
 * topic `_mg.schemas.S`: registry writes use the same permission model as
 * everything else, and `_mg.` topics need rights that name them.
 */
function schemaWriteAuthorizer(authenticator: Authenticator): SchemaApiOptions['authorizeWrite'] {
  return (req, subject) => {
    const result = authenticator.authenticate(credentialOf(req.getHeader('authorization'), req.getQuery('token')));
    if (!result.ok) return { status: statusOf(result.code), code: result.code, message: result.message };
    const topic = `_mg.schemas.${subject}`;
    if (result.principal.permissions.canPublish(topic)) return null;
    return { status: '403 Forbidden', code: 'MG_ERR_AUTH_FORBIDDEN', message: `changing subject '${subject}' needs publish rights on ${topic}` };
  };
}
