/**
 * A bounded cache of match results, LRU-ish at O(1) cost and with no
 * write on the common hit.
 *
 * Two generations: lookups try `young`, then `old`; a hit in `old` is
 * copied into `young`. When `young` is full it becomes `old` and the
 * previous `old` is dropped whole. So an entry used at least once per
 * generation stays; one that is not used for two generations goes. A
 * true LRU would reorder a list on every hit, which costs more than the
 * trie walk it saves for short topics.
 *
 * ```
 *   get(k):  young ──miss──> old ──hit──> copy into young
 *   set(k):  young full?  old = young; young = new Map
 * ```
 */
export class MatchCache<V> {
  readonly #generation: number;
  #young = new Map<string, V>();
  #old = new Map<string, V>();

  /** @param capacity most entries held; 0 turns the cache off. Odd sizes round up to even. */
  constructor(capacity: number) {
    this.#generation = Math.ceil(capacity / 2);
  }

  get(key: string): V | undefined {
    const young = this.#young.get(key);
    if (young !== undefined) return young;
    const old = this.#old.get(key);
    if (old !== undefined) this.#put(key, old);
    return old;
  }

  set(key: string, value: V): void {
    if (this.#generation > 0) this.#put(key, value);
  }

  /** Drops everything: called on every subscription change, see TopicTrie. */
  clear(): void {
    if (this.#young.size > 0) this.#young = new Map();
    if (this.#old.size > 0) this.#old = new Map();
  }

  /** Entries held; a key promoted from the old generation counts twice until that generation goes. */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  #put(key: string, value: V): void {
    if (this.#young.size >= this.#generation) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }
}
