import { MatchCache } from './match-cache.js';
import { checkFilter, NO_TOPIC_LIMITS } from './topic.js';
import { TopicError } from './topic-problem.js';
import { stepOrGrow } from './trie-step.js';

/**
 * One node per filter prefix. A filter's values live on the node its last
 * literal or `*` token leads to: in `exact` when the filter ends there, in
 * `rest` when a `>` follows.
 *
 * ```
 * filters: db.orders.insert  db.*.insert  db.>  >
 *
 * root ─rest{>}
 *  └─ db ─rest{db.>}
 *      ├─ orders ── insert ─exact{db.orders.insert}
 *      └─ *      ── insert ─exact{db.*.insert}
 * ```
 */
interface TrieNode<T> {
  lit: Map<string, TrieNode<T>> | undefined;
  star: TrieNode<T> | undefined;
  exact: Bucket<T> | undefined;
  rest: Bucket<T> | undefined;
}

/**
 * The values of one filter. `values` and `ids` are parallel arrays, so a
 * match reads plain arrays; `index` gives a value's slot for O(1) has and
 * swap-remove. `ids[i]` is the trie-wide small integer of `values[i]`,
 * used to drop duplicates without hashing (see TopicTrie.match).
 */
interface Bucket<T> {
  /** Trie-wide bucket number: names a combination of matching filters. */
  readonly key: number;
  readonly index: Map<T, number>;
  readonly values: T[];
  readonly ids: number[];
  /** Frozen copy of `values` handed out as a match result; dropped on change. */
  snapshot: readonly T[] | undefined;
}

/** Options of {@link TopicTrie}. */
export interface TopicTrieOptions {
  /**
   * Topics whose match result is kept, and as many combinations of
   * matching filters (see {@link TopicTrie}). 0 turns both caches off.
   * Every `add`/`remove` empties them.
   * @default 4096
   */
  readonly cacheSize?: number;
}

/** Cache counters, for metrics and the bench. */
export interface TopicTrieCacheStats {
  /** Matches answered by the topic cache. */
  readonly hits: number;
  /** Matches that walked the trie. */
  readonly misses: number;
  /** Of the misses, those whose result came from the filter-combination cache. */
  readonly combinationHits: number;
  /** Topics cached now. */
  readonly entries: number;
}

const DEFAULTS = Object.freeze({ cacheSize: 4096 });

const EMPTY: readonly never[] = Object.freeze([]);

let bucketKeys = 0;

function newBucket<T>(): Bucket<T> {
  return { key: bucketKeys++, index: new Map(), values: [], ids: [], snapshot: undefined };
}

function newNode<T>(): TrieNode<T> {
  return { lit: undefined, star: undefined, exact: undefined, rest: undefined };
}

function isEmpty<T>(n: TrieNode<T>): boolean {
  return n.lit === undefined && n.star === undefined && n.exact === undefined && n.rest === undefined;
}

/**
 * Subscription trie: (filter, value) pairs in, "which values want this
 * topic" out, each value once however many of its filters match.
 *
 * `match` splits the topic once and walks at most the literal and the `*`
 * branch per token. Two bounded caches sit in front of the result:
 *
 * - by topic: a repeated topic costs one Map lookup;
 * - by the combination of matching filters: topics that differ only in a
 *   token no filter names (`db.orders.insert.<row id>`) share one result
 *   array, so unique topics neither rebuild nor allocate a large result.
 *
 * Building a result for several filters keeps a value that sits on more
 * than one once, by stamping its integer id with a per-match epoch: no
 * Set, no hashing per value. Results are shared and frozen: callers must
 * not mutate them. Any `add`/`remove` empties both caches: subscription
 * changes are rare next to events, and finding only the affected entries
 * would cost a scan of the whole cache per change.
 *
 * @example
 * const trie = new TopicTrie<string>();
 * trie.add('db.*.insert', 'audit');
 * trie.add('db.>', 'replica');
 * trie.match('db.orders.insert'); // ['replica', 'audit'] (order unspecified)
 */
export class TopicTrie<T> {
  readonly #root: TrieNode<T> = newNode();
  readonly #cache: MatchCache<readonly T[]>;
  /** Results by the keys of the matching buckets, e.g. '3,17,42'. */
  readonly #combinations: MatchCache<readonly T[]>;
  #size = 0;
  #cacheHits = 0;
  #cacheMisses = 0;
  #combinationHits = 0;
  /** Value -> small integer id, shared by all the filters the value is on. */
  readonly #ids = new Map<T, number>();
  /** Per id: how many filters hold the value; the id is recycled at 0. */
  readonly #refs: number[] = [];
  readonly #freeIds: number[] = [];
  /** Per id: the epoch of the last match that took the value. */
  #stamps = new Uint32Array(64);
  #epoch = 0;
  /** Scratch list of matching buckets, reused by every match. */
  readonly #found: Bucket<T>[] = [];

  constructor(options: TopicTrieOptions = {}) {
    const cacheSize = options.cacheSize ?? DEFAULTS.cacheSize;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new RangeError(`cacheSize: expected an integer >= 0, got ${String(cacheSize)}`);
    }
    this.#cache = new MatchCache(cacheSize);
    this.#combinations = new MatchCache(cacheSize);
  }

  /**
   * Adds `value` under `filter`. Returns false if that pair is already
   * present. The caller applies its limits first (`checkFilter`); a filter
   * that breaks the syntax throws `TopicError` here, since it would corrupt
   * the trie.
   */
  add(filter: string, value: T): boolean {
    const problem = checkFilter(filter, NO_TOPIC_LIMITS);
    if (problem !== null) throw TopicError.from(problem);
    const tokens = filter.split('.');
    const last = tokens.length - 1;
    let node = this.#root;
    let bucket: Bucket<T>;
    for (let i = 0; ; i++) {
      const tok = tokens[i];
      if (tok === '>') {
        bucket = node.rest ??= newBucket();
        break;
      }
      node = stepOrGrow(node, tok, newNode<T>);
      if (i === last) {
        bucket = node.exact ??= newBucket();
        break;
      }
    }
    if (bucket.index.has(value)) return false;
    bucket.index.set(value, bucket.values.length);
    bucket.values.push(value);
    bucket.ids.push(this.#acquireId(value));
    bucket.snapshot = undefined;
    this.#size++;
    this.#cache.clear();
    this.#combinations.clear();
    return true;
  }

  /** Removes the pair; returns false if it was absent. Empty nodes are pruned. */
  remove(filter: string, value: T): boolean {
    const tokens = filter.split('.');
    const path: TrieNode<T>[] = [this.#root];
    const last = tokens.length - 1;
    let node = this.#root;
    let bucket: Bucket<T> | undefined;
    let viaRest = false;
    for (let i = 0; i <= last; i++) {
      const tok = tokens[i];
      if (tok === '>' && i === last) {
        bucket = node.rest;
        viaRest = true;
        break;
      }
      const next = tok === '*' ? node.star : node.lit?.get(tok);
      if (next === undefined) return false;
      node = next;
      path.push(node);
    }
    if (!viaRest) bucket = node.exact;
    const slot = bucket?.index.get(value);
    if (bucket === undefined || slot === undefined) return false;
    // Swap-remove: move the last entry into the freed slot.
    const lastSlot = bucket.values.length - 1;
    if (slot !== lastSlot) {
      const moved = bucket.values[lastSlot];
      bucket.values[slot] = moved;
      bucket.ids[slot] = bucket.ids[lastSlot];
      bucket.index.set(moved, slot);
    }
    bucket.values.pop();
    bucket.ids.pop();
    bucket.index.delete(value);
    this.#releaseId(value);
    bucket.snapshot = undefined;
    if (bucket.values.length === 0) {
      if (viaRest) node.rest = undefined;
      else node.exact = undefined;
    }
    this.#size--;
    this.#cache.clear();
    this.#combinations.clear();
    // Prune bottom-up: path[k] is the child of path[k - 1] through tokens[k - 1].
    for (let k = path.length - 1; k > 0 && isEmpty(path[k]); k--) {
      const parent = path[k - 1];
      const tok = tokens[k - 1];
      if (tok === '*') {
        parent.star = undefined;
      } else if (parent.lit !== undefined) {
        parent.lit.delete(tok);
        if (parent.lit.size === 0) parent.lit = undefined;
      }
    }
    return true;
  }

  /**
   * Values whose filters match `topic`, each once. The array is shared
   * with the cache and frozen: do not mutate it. Never throws; a topic
   * that breaks the syntax simply matches what its tokens spell.
   */
  match(topic: string): readonly T[] {
    const cached = this.#cache.get(topic);
    if (cached !== undefined) {
      this.#cacheHits++;
      return cached;
    }
    this.#cacheMisses++;
    const found = this.#found;
    collect(this.#root, topic.split('.'), 0, found);
    let result: readonly T[];
    if (found.length === 0) {
      result = EMPTY;
    } else if (found.length === 1) {
      const bucket = found[0];
      result = bucket.snapshot ??= Object.freeze(bucket.values.slice());
    } else {
      // The walk visits buckets in trie order, so one set of buckets always
      // gives the same key.
      let key = String(found[0].key);
      for (let b = 1; b < found.length; b++) key += `,${found[b].key}`;
      const shared = this.#combinations.get(key);
      if (shared !== undefined) this.#combinationHits++;
      result = shared ?? this.#merge(found, key);
    }
    found.length = 0;
    this.#cache.set(topic, result);
    return result;
  }

  /** Whether any value is stored under exactly `filter`. */
  has(filter: string): boolean {
    const tokens = filter.split('.');
    const last = tokens.length - 1;
    let node = this.#root;
    for (let i = 0; i <= last; i++) {
      const tok = tokens[i];
      if (tok === '>' && i === last) return node.rest !== undefined;
      const next = tok === '*' ? node.star : node.lit?.get(tok);
      if (next === undefined) return false;
      node = next;
    }
    return node.exact !== undefined;
  }

  /** Number of (filter, value) pairs. */
  get size(): number {
    return this.#size;
  }

  /** The distinct filters present, in no particular order. */
  filters(): string[] {
    const out: string[] = [];
    const walk = (node: TrieNode<T>, prefix: string): void => {
      const sep = prefix === '' ? '' : '.';
      if (node.exact !== undefined) out.push(prefix);
      if (node.rest !== undefined) out.push(`${prefix}${sep}>`);
      if (node.lit !== undefined) for (const [tok, child] of node.lit) walk(child, `${prefix}${sep}${tok}`);
      if (node.star !== undefined) walk(node.star, `${prefix}${sep}*`);
    };
    walk(this.#root, '');
    return out;
  }

  /** Cache counters since construction, and topics cached now. */
  cacheStats(): TopicTrieCacheStats {
    return {
      hits: this.#cacheHits,
      misses: this.#cacheMisses,
      combinationHits: this.#combinationHits,
      entries: this.#cache.size,
    };
  }

  /**
   * One result for several buckets. A value may sit on more than one:
   * keep its first sighting in this epoch.
   */
  #merge(found: readonly Bucket<T>[], key: string): readonly T[] {
    const epoch = this.#nextEpoch();
    const stamps = this.#stamps;
    const out: T[] = [];
    for (let b = 0; b < found.length; b++) {
      const { values, ids } = found[b];
      for (let i = 0; i < values.length; i++) {
        const id = ids[i];
        if (stamps[id] !== epoch) {
          stamps[id] = epoch;
          out.push(values[i]);
        }
      }
    }
    const result = Object.freeze(out);
    this.#combinations.set(key, result);
    return result;
  }

  #acquireId(value: T): number {
    let id = this.#ids.get(value);
    if (id === undefined) {
      id = this.#freeIds.pop() ?? this.#refs.length;
      this.#ids.set(value, id);
      this.#refs[id] = 0;
      if (id >= this.#stamps.length) {
        const grown = new Uint32Array(this.#stamps.length * 2);
        grown.set(this.#stamps);
        this.#stamps = grown;
      }
      this.#stamps[id] = 0;
    }
    this.#refs[id]++;
    return id;
  }

  #releaseId(value: T): void {
    const id = this.#ids.get(value);
    if (id === undefined) return;
    if (--this.#refs[id] === 0) {
      this.#ids.delete(value);
      this.#freeIds.push(id);
    }
  }

  #nextEpoch(): number {
    if (this.#epoch === 0xffff_ffff) {
      // Wrapped: old stamps could collide with new epochs, so forget them.
      this.#stamps.fill(0);
      this.#epoch = 0;
    }
    return ++this.#epoch;
  }
}

/** Pushes the bucket of every filter matching tokens[i..] from `node` onwards. */
function collect<T>(node: TrieNode<T>, tokens: string[], i: number, hits: Bucket<T>[]): void {
  for (;;) {
    // A '>' here needs at least one more token.
    if (node.rest !== undefined && i < tokens.length) hits.push(node.rest);
    if (i === tokens.length) {
      if (node.exact !== undefined) hits.push(node.exact);
      return;
    }
    if (node.star !== undefined) collect(node.star, tokens, i + 1, hits);
    const next = node.lit?.get(tokens[i]);
    if (next === undefined) return;
    // The literal branch continues in this frame: no recursion for the
    // common all-literal path.
    node = next;
    i++;
  }
}
