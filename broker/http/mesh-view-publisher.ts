import { randomUUID } from 'node:crypto';
import { filterMatches } from '../../routing/mod.js';
import type { MeshNode } from '../pipeline/mod.js';
import { SYSTEM_TOPIC_PREFIX } from '../pipeline/mod.js';
import { type MeshViewSources, meshView } from './mesh-view.js';

/** The reserved topic a node publishes its view of the mesh on. */
export function meshViewTopic(nodeId: string): string {
  return `${SYSTEM_TOPIC_PREFIX}mesh.${nodeId}`;
}

/**
 * Publishes this node's view of the mesh (the /v1/mesh document) once per
 * `intervalMs` on `_mg.sys.mesh.<node id>`, so a console follows the mesh
 * over its WebSocket like any other subscriber. Only while someone holds a
 * filter that names `_mg` explicitly: a plain `>` subscriber does not make
 * every node crawl its peers each second.
 */
export function startMeshViewPublisher(node: MeshNode, sources: MeshViewSources, intervalMs = 1000): () => void {
  const topic = meshViewTopic(node.nodeId);
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    const wanted = node.wantedFilters().some((f) => f.startsWith('_mg.') && filterMatches(f, topic));
    if (!wanted) return;
    busy = true;
    void meshView(sources)
      .then((view) => {
        node.ingest(
          {
            id: randomUUID(),
            source: `meshgate://${node.nodeId}`,
            type: 'meshgate.mesh',
            topic,
            attrs: { datacontenttype: 'application/json' },
            data: Buffer.from(JSON.stringify(view)),
            hops: [],
          },
          'system',
        );
      })
      .catch(() => undefined) // a view that cannot be built this second is simply skipped
      .finally(() => (busy = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
