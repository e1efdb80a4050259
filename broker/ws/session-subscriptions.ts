/**
 * One connection's subscriptions, held twice: the filters the client
 * subscribed (what sub, unsub, acks and the per-connection limit speak
 * of) and the filters registered with the router for them. The two differ
 * when auth narrows a partial subscription to its readable part
 * (broker/auth/narrow-filter.ts): one client filter may need several
 * router filters or none, and two client filters may need the same one.
 *
 *   client filters      router filters (references)
 *   '>'   ─────────┐
 *                  ├──> 'a.>'  (2)
 *   'a.>' ─────────┘
 *   'x.*' ──────────>   'x.*'  (1)
 *
 * Each router filter is counted per client filter needing it, so
 * unsubscribing `>` above keeps `a.>` registered and closing the
 * connection removes exactly what was registered. Pure bookkeeping: the
 * caller registers and removes what `add`, `remove` and `clear` return.
 */
export class SessionSubscriptions {
  /** Client filter -> the router filters it needs. */
  readonly #routerOf = new Map<string, readonly string[]>();
  /** Router filter -> number of client filters needing it (never 0: removed instead). */
  readonly #refs = new Map<string, number>();

  /** Client filters held: what the per-connection subscription limit counts. */
  get size(): number {
    return this.#routerOf.size;
  }

  has(clientFilter: string): boolean {
    return this.#routerOf.has(clientFilter);
  }

  /** Router filters held, each once. */
  routerFilters(): string[] {
    return [...this.#refs.keys()];
  }

  /**
   * Records a client filter and the router filters it needs. Returns those
   * not already held for another client filter: the ones to register now.
   * Adding a client filter already held changes nothing and returns [].
   */
  add(clientFilter: string, routerFilters: readonly string[]): string[] {
    if (this.#routerOf.has(clientFilter)) return [];
    const distinct = [...new Set(routerFilters)];
    this.#routerOf.set(clientFilter, distinct);
    const fresh: string[] = [];
    for (const f of distinct) {
      const n = this.#refs.get(f) ?? 0;
      this.#refs.set(f, n + 1);
      if (n === 0) fresh.push(f);
    }
    return fresh;
  }

  /**
   * Forgets a client filter. Returns the router filters no other client
   * filter still needs (the ones to remove now), or null when the client
   * filter was not held.
   */
  remove(clientFilter: string): string[] | null {
    const routerFilters = this.#routerOf.get(clientFilter);
    if (routerFilters === undefined) return null;
    this.#routerOf.delete(clientFilter);
    const released: string[] = [];
    for (const f of routerFilters) {
      const n = this.#refs.get(f)! - 1;
      if (n > 0) this.#refs.set(f, n);
      else {
        this.#refs.delete(f);
        released.push(f);
      }
    }
    return released;
  }

  /** Forgets everything (connection closed). Returns every router filter that was held. */
  clear(): string[] {
    const all = this.routerFilters();
    this.#routerOf.clear();
    this.#refs.clear();
    return all;
  }
}
