/**
 * A connection's subscriptions as the router and the guard see them:
 * shared by both WebSocket endpoints and by the sub/unsub handlers.
 */
import type { SessionGuard } from '../auth/mod.js';
import type { Metric } from '../base/mod.js';
import type { MeshNode } from '../pipeline/mod.js';
import type { AnySession } from './connection-data.js';

/**
 * Installs or removes the per-delivery check after the connection's
 * subscriptions changed: only a connection holding a partly authorized
 * subscription gets one (one closure per change, nothing per event).
 */
export function refreshFiltering(session: AnySession, guard: SessionGuard, filtered: Metric): void {
  session.admits = guard.filtering
    ? (topic) => {
        if (guard.admits(topic)) return true;
        filtered.inc();
        return false;
      }
    : null;
}

/**
 * Registers a client filter the guard accepted: with the router, as the
 * filters the guard narrows it to (only what this connection may read, so
 * the node's interest adverts carry nothing it would withhold), each
 * registered once per connection however many client filters need it.
 * The caller checked the client filter and `fits` checks narrowed ones,
 * so node.subscribe cannot refuse.
 */
export function hold(node: MeshNode, session: AnySession, guard: SessionGuard, filter: string): void {
  const routerFilters = guard.routerFilters(filter, (f) => node.checkFilter(f) === null);
  for (const f of session.subscriptions.add(filter, routerFilters)) node.subscribe(f, session);
}
