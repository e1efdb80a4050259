import type { TemplatedApp } from 'uWebSockets.js';
import type { SchemaRegistry } from '../../schemas/mod.js';
import type { PeerDialer, PeerMesh } from '../peering/mod.js';
import type { MeshNode } from '../pipeline/mod.js';
import type { StreamManager } from '../streams/mod.js';
import { mountBrowserFiles } from './browser-files.js';
import { meshView } from './mesh-view.js';
import { mountSchemaApi, type SchemaApiOptions } from './schema-api.js';
import { sendError, sendJson } from './send-json.js';
import { mountStreamApi, type StreamApiOptions } from './stream-api.js';

export interface HttpApiSources {
  readonly node: MeshNode;
  readonly mesh: PeerMesh;
  readonly dialers: readonly PeerDialer[];
  /** /v1/bridges rows. */
  readonly bridges: () => Array<Record<string, unknown>>;
  readonly version: string;
  readonly startedAt: number;
  readonly connections: () => number;
  /** False once shutdown has begun, so load balancers stop sending. */
  readonly accepting: () => boolean;
  /** The node's schema registry, served under /v1/schemas/ (see schema-api.ts); none: no registry routes. */
  readonly schemas?: SchemaRegistry;
  /** With auth on, who may change the registry (see schema-api.ts). */
  readonly authorizeSchemaWrite?: SchemaApiOptions['authorizeWrite'];
  /** The node's streams, served under /v1/streams (see stream-api.ts); none: no stream routes. */
  readonly streams?: StreamManager;
  /** /v1/webhooks rows (broker/webhooks/); none: no such route. */
  readonly webhooks?: () => Array<Record<string, unknown>>;
  /** With auth on, who may create and remove streams (see stream-api.ts). */
  readonly authorizeStreamWrite?: StreamApiOptions['authorizeWrite'];
  readonly authorizeStreamRead?: StreamApiOptions['authorizeRead'];
}

/** Operations endpoints: /healthz, /metrics (Prometheus text), /v1/stats (JSON), /v1/webhooks. */
export function mountHttpApi(app: TemplatedApp, sources: HttpApiSources): void {
  const { node } = sources;
  app.get('/healthz', (res) => {
    const up = sources.accepting();
    sendJson(res, up ? '200 OK' : '503 Service Unavailable', { status: up ? 'ok' : 'shutting-down', node: node.nodeId, region: node.region });
  });
  app.get('/metrics', (res) => {
    res.cork(() => {
      res.writeStatus('200 OK').writeHeader('Content-Type', 'text/plain; version=0.0.4; charset=utf-8').end(node.metrics.render());
    });
  });
  app.get('/v1/stats', (res) => {
    sendJson(res, '200 OK', {
      node: node.nodeId,
      region: node.region,
      version: sources.version,
      uptimeSeconds: Math.round((Date.now() - sources.startedAt) / 1000),
      connections: sources.connections(),
      subscriptions: node.localFilters().length,
      dedup: node.dedupStats(),
      metrics: node.metrics.snapshot(),
    });
  });
  app.get('/v1/peers', (res) => {
    const rows = sources.mesh.peers();
    // Configured peers never reached yet still get a row, with why.
    const known = new Set(rows.map((r) => r.url));
    for (const d of sources.dialers) {
      if (!known.has(d.url)) rows.push({ node: null, region: null, state: 'connecting', direction: 'dial', url: d.url, lastError: d.lastError });
    }
    sendJson(res, '200 OK', { node: node.nodeId, region: node.region, parked: sources.mesh.parked, peers: rows });
  });
  app.get('/v1/bridges', (res) => {
    sendJson(res, '200 OK', { node: node.nodeId, bridges: sources.bridges() });
  });
  app.get('/v1/routes', (res) => {
    sendJson(res, '200 OK', { local: node.localFilters().sort(), ...sources.mesh.routes() });
  });
  const webhooks = sources.webhooks;
  if (webhooks !== undefined) {
    app.get('/v1/webhooks', (res) => {
      sendJson(res, '200 OK', { node: node.nodeId, webhooks: webhooks() });
    });
  }
  mountBrowserFiles(app);
  if (sources.schemas !== undefined) mountSchemaApi(app, sources.schemas, { authorizeWrite: sources.authorizeSchemaWrite });
  if (sources.streams !== undefined)
    mountStreamApi(app, sources.streams, { authorizeWrite: sources.authorizeStreamWrite, authorizeRead: sources.authorizeStreamRead });
  app.get('/v1/mesh', (res) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    void meshView(sources).then((view) => {
      if (!aborted) sendJson(res, '200 OK', view);
    });
  });
  app.any('/*', (res, req) => {
    sendError(res, '404 Not Found', 'MG_ERR_NOT_FOUND', `no route ${req.getMethod().toUpperCase()} ${req.getUrl()}`);
  });
}
