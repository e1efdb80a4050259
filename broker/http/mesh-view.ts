import type { PeerMesh } from '../peering/mod.js';
import type { MeshNode } from '../pipeline/mod.js';
import type { StreamManager } from '../streams/mod.js';
import { streamJsonOf } from './stream-api.js';

/** What the mesh view reads of the local node. */
export interface MeshViewSources {
  readonly node: MeshNode;
  readonly mesh: PeerMesh;
  /** /v1/bridges rows. */
  readonly bridges: () => Array<Record<string, unknown>>;
  /** The node's streams (their /v1/streams rows go in the view); none: no streams. */
  readonly streams?: StreamManager;
}

/**
 * The mesh as this node can see it, for the console's picture: its own
 * links, plus the /v1/peers, /v1/bridges and /v1/routes of every node it
 * can reach over HTTP: peers it dials (their URL is known), then the peers
 * those dial, breadth first. A node known only from the routing table
 * (it dials us, nobody dials it) appears without its own links; a link it
 * has is inferred from a 2-hop route through a neighbour.
 *
 * {node, region, at, nodes: [{id, region, url, reachable, self, local, bridges, streams}],
 *  links: [{a, b, state, rttMs, events, reportedBy, inferred?}]}
 */
interface NodeReport {
  readonly id: string;
  readonly region: string | null;
  readonly url: string | null;
  readonly peers: Array<Record<string, unknown>>;
  readonly bridges: Array<Record<string, unknown>>;
  readonly local: string[];
  /** /v1/streams rows. */
  readonly streams: Array<Record<string, unknown>>;
}

const MESH_MAX_NODES = 32;
const MESH_FETCH_MS = 1000;
const MESH_CACHE_MS = 400;
let lastView: { at: number; node: string; view: Promise<Record<string, unknown>> } | null = null;

export function meshView(sources: MeshViewSources): Promise<Record<string, unknown>> {
  const now = Date.now();
  // Several open consoles share one crawl.
  if (lastView !== null && lastView.node === sources.node.nodeId && now - lastView.at < MESH_CACHE_MS) return lastView.view;
  const view = crawlMesh(sources);
  lastView = { at: now, node: sources.node.nodeId, view };
  return view;
}

async function fetchJson(url: string): Promise<Record<string, unknown> | null> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(MESH_FETCH_MS) });
    return r.ok ? ((await r.json()) as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function httpOf(peerUrl: unknown): string | null {
  if (typeof peerUrl !== 'string') return null;
  try {
    const u = new URL(peerUrl);
    return `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}`;
  } catch {
    return null;
  }
}

async function crawlMesh(sources: MeshViewSources): Promise<Record<string, unknown>> {
  const { node, mesh } = sources;
  const routes = mesh.routes() as { origins: Array<{ origin: string; via: string | null; hops: number }> };
  const reports = new Map<string, NodeReport>();
  reports.set(node.nodeId, {
    id: node.nodeId,
    region: node.region,
    url: null,
    peers: mesh.peers(),
    bridges: sources.bridges(),
    local: node.localFilters().sort(),
    streams: sources.streams === undefined ? [] : sources.streams.list().map(streamJsonOf(sources.streams)),
  });
  const tried = new Set<string>();
  let frontier = [...reports.values()];
  while (frontier.length > 0 && reports.size < MESH_MAX_NODES) {
    const urls = new Set<string>();
    for (const r of frontier) {
      for (const p of r.peers) {
        const http = httpOf(p.url);
        if (http !== null && !tried.has(http) && !reports.has(String(p.node))) urls.add(http);
      }
    }
    for (const u of urls) tried.add(u);
    const fetched = await Promise.all(
      [...urls].map(async (url) => {
        const [peers, bridges, nodeRoutes, streams] = await Promise.all(
          ['/v1/peers', '/v1/bridges', '/v1/routes', '/v1/streams'].map((path) => fetchJson(`${url}${path}`)),
        );
        if (peers === null || typeof peers.node !== 'string') return null;
        return {
          id: peers.node,
          region: typeof peers.region === 'string' ? peers.region : null,
          url,
          peers: Array.isArray(peers.peers) ? (peers.peers as Array<Record<string, unknown>>) : [],
          bridges: Array.isArray(bridges?.bridges) ? (bridges!.bridges as Array<Record<string, unknown>>) : [],
          local: Array.isArray(nodeRoutes?.local) ? (nodeRoutes!.local as string[]) : [],
          streams: Array.isArray(streams?.streams) ? (streams!.streams as Array<Record<string, unknown>>) : [],
        } satisfies NodeReport;
      }),
    );
    frontier = [];
    for (const r of fetched) {
      if (r === null || reports.has(r.id)) continue;
      reports.set(r.id, r);
      frontier.push(r);
    }
  }

  const nodes = new Map<string, Record<string, unknown>>();
  for (const r of reports.values())
    nodes.set(r.id, {
      id: r.id,
      region: r.region,
      url: r.url,
      reachable: true,
      self: r.id === node.nodeId,
      local: r.local,
      bridges: r.bridges,
      streams: r.streams,
    });
  const links = new Map<string, Record<string, unknown> & { reportedBy: string[] }>();
  for (const r of reports.values()) {
    for (const p of r.peers) {
      if (typeof p.node !== 'string') continue;
      if (!nodes.has(p.node))
        nodes.set(p.node, { id: p.node, region: p.region ?? null, url: httpOf(p.url), reachable: false, self: false, local: [], bridges: [], streams: [] });
      const [a, b] = r.id < p.node ? [r.id, p.node] : [p.node, r.id];
      const key = `${a}\u0000${b}`;
      const events = Number(p.sentEvents ?? 0) + Number(p.receivedEvents ?? 0);
      const seen = links.get(key);
      if (seen === undefined) {
        links.set(key, { a, b, state: p.state === 'up' ? 'up' : 'down', rttMs: p.rttMs ?? null, events, reportedBy: [r.id] });
      } else {
        seen.reportedBy.push(r.id);
        // Down if either end says so: a dead node cannot report, its peers do.
        if (p.state !== 'up') seen.state = 'down';
        // Counters from one end only (the lower id), so rates stay continuous.
        if (r.id === a) seen.events = events;
      }
    }
  }
  for (const o of routes.origins) {
    if (!nodes.has(o.origin))
      nodes.set(o.origin, { id: o.origin, region: null, url: null, reachable: false, self: false, local: [], bridges: [], streams: [] });
    if (o.hops === 2 && o.via !== null) {
      const [a, b] = o.via < o.origin ? [o.via, o.origin] : [o.origin, o.via];
      const key = `${a}\u0000${b}`;
      if (!links.has(key)) links.set(key, { a, b, state: 'up', rttMs: null, events: null, reportedBy: [], inferred: true });
    }
  }
  return { node: node.nodeId, region: node.region, at: Date.now(), nodes: [...nodes.values()], links: [...links.values()] };
}
