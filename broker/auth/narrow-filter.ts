import { filterCovers, intersectFilters, minimalCover } from '../../routing/mod.js';
import { isExplicitReserved, RESERVED_PREFIX, type RuleSpec } from './permissions.js';

/**
 * The part of a partly authorized subscription its principal may read, as
 * filters for the router: the intersections of `filter` with each allow
 * filter of the read rules, reduced to a minimal cover. Registering these
 * instead of `filter` keeps the node (and, through interest adverts, every
 * peer) from pulling in events nobody here may receive: `>` with only
 * `orders.>` readable attracts `orders.>`, not the whole mesh.
 *
 * It errs only on the wide side: every readable topic `filter` matches
 * is matched by some result, and no result matches a topic outside
 * `filter`. Not every topic a result matches is readable, because two
 * things have no filter spelling:
 *
 * - deny rules: `orders.>` minus `orders.*.pii` stays `orders.>`. Only a
 *   piece some deny filter covers whole is dropped (nothing in it is
 *   readable);
 * - reserved topics: `>` allowed still matches `_mg.x`, which it does not
 *   grant. Only a piece lying wholly under `_mg.` from an allow filter
 *   that does not name `_mg` is dropped.
 *
 * So the per-delivery check (SessionGuard.admits) stays the exact one;
 * this only removes traffic nobody here may read.
 *
 * @example
 * narrowFilter('>', { allow: ['a.>'] });            // ['a.>']
 * narrowFilter('*.x', { allow: ['a.*', 'b.>'] });   // ['a.x', 'b.x']
 * narrowFilter('_mg.*', { allow: ['>', '_mg.dlq'] }); // ['_mg.dlq']
 */
export function narrowFilter(filter: string, read: RuleSpec): string[] {
  const deny = read.deny ?? [];
  const pieces: string[] = [];
  for (const allow of read.allow ?? []) {
    const piece = intersectFilters(filter, allow);
    if (piece === null) continue;
    if (piece.startsWith(RESERVED_PREFIX) && !isExplicitReserved(allow)) continue;
    if (deny.some((d) => filterCovers(d, piece))) continue;
    pieces.push(piece);
  }
  return minimalCover(pieces);
}
