import { TopicTrie } from './topic-trie.js';

/**
 * Who in the mesh wants what: each origin node's interest (the filters its
 * local subscribers and bridges hold), versioned so that a newer state
 * always replaces an older one wherever it arrives.
 *
 * Why per-origin versions instead of per-link adverts: in a graph with a
 * cycle, interest re-advertised from neighbour to neighbour can come back
 * around to where it started and outlive the subscription that created it
 * (count to infinity). A versioned state per origin cannot: the origin's
 * next version replaces every copy, whichever path it took.
 *
 *   origin  version  filters
 *   A       7        db.>            <- A's cover after aggregation
 *   C       3        db.orders.*, metrics.cpu
 */
export class InterestTable {
  readonly #origins = new Map<string, { version: number; filters: Set<string> }>();
  readonly #trie = new TopicTrie<string>();

  /**
   * Replaces `origin`'s interest if `version` is newer than what is held.
   * Returns true when the table changed (so the caller re-floods it).
   */
  replace(origin: string, version: number, filters: Iterable<string>): boolean {
    const held = this.#origins.get(origin);
    if (held !== undefined && held.version >= version) return false;
    const next = new Set(filters);
    const prev = held?.filters ?? new Set<string>();
    for (const f of prev) if (!next.has(f)) this.#trie.remove(f, origin);
    for (const f of next) if (!prev.has(f)) this.#trie.add(f, origin);
    this.#origins.set(origin, { version, filters: next });
    return true;
  }

  /**
   * Applies a delta on top of `baseVersion`. Returns 'stale' when the delta
   * is not newer, 'gap' when the table does not hold `baseVersion` (the
   * caller then asks for the full state), 'applied' otherwise.
   */
  applyDelta(origin: string, baseVersion: number, version: number, add: Iterable<string>, remove: Iterable<string>): 'applied' | 'stale' | 'gap' {
    const held = this.#origins.get(origin);
    const heldVersion = held?.version ?? 0;
    if (version <= heldVersion) return 'stale';
    if (heldVersion !== baseVersion) return 'gap';
    const filters = held?.filters ?? new Set<string>();
    for (const f of remove) if (filters.delete(f)) this.#trie.remove(f, origin);
    for (const f of add)
      if (!filters.has(f)) {
        filters.add(f);
        this.#trie.add(f, origin);
      }
    this.#origins.set(origin, { version, filters });
    return 'applied';
  }

  /** Forgets an origin entirely (it left the mesh). */
  drop(origin: string): boolean {
    const held = this.#origins.get(origin);
    if (held === undefined) return false;
    for (const f of held.filters) this.#trie.remove(f, origin);
    this.#origins.delete(origin);
    return true;
  }

  /** Origins with a filter matching `topic`; cached, must not be mutated. */
  match(topic: string): readonly string[] {
    return this.#trie.match(topic);
  }

  version(origin: string): number {
    return this.#origins.get(origin)?.version ?? 0;
  }

  filtersOf(origin: string): readonly string[] {
    return [...(this.#origins.get(origin)?.filters ?? [])];
  }

  origins(): string[] {
    return [...this.#origins.keys()];
  }
}
