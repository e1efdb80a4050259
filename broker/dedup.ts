/**
 * The dedup window: drops an event whose (source, id) was already seen
 * recently (DESIGN.md, fixed decision 3; CloudEvents 1.0 `id`: "Consumers
 * MAY assume that Events with identical source and id are duplicates").
 *
 * Bounded by time (ttlMs) and by entries (maxEntries), constant time per
 * check, no allocation per check (besides, while the window fills, the
 * occasional doubling of the ring).
 *
 * ```
 *   ring (insertion order = time order)           seen: Map<id, source | source[]>
 *   head                      head+count
 *    v                            v
 *   [id0 t0][id1 t1] ... [idN tN][ free ... ]     every ring id is in `seen`
 *    ^ expired from here, lazily, on each check; the oldest goes first when full
 * ```
 *
 * Keyed by id, holding the source: ids are nearly always unique on their
 * own, so the common case hashes only the id and keeps the event's own
 * strings (no key built per check: concatenating source and id cost a
 * string allocation, a copy and a hash of both per event). An id that
 * several sources use holds their sources in an array, oldest first; the
 * ring is in time order too, so expiring an id's oldest ring slot drops
 * its first source.
 */
import { MeshError } from './errors.js';

export interface DedupOptions {
  /** How long a (source, id) is remembered, in milliseconds. @default 120_000 */
  readonly ttlMs?: number;
  /** Most (source, id) pairs held; past it the oldest is forgotten early. @default 1_000_000 */
  readonly maxEntries?: number;
  /** Clock in milliseconds; injected by tests. @default performance.now (monotonic) */
  readonly now?: () => number;
}

export interface DedupStats {
  /** Pairs held now (expired ones leave lazily, on the next check). */
  readonly entries: number;
  /** Checks answered "duplicate" since construction. */
  readonly duplicates: number;
  /** Pairs forgotten because they outlived ttlMs. */
  readonly evictedByAge: number;
  /** Pairs forgotten before ttlMs because the window was full: a duplicate of one of them would pass. */
  readonly evictedBySize: number;
}

const DEFAULTS = Object.freeze({ ttlMs: 120_000, maxEntries: 1_000_000 });
const INITIAL_CAPACITY = 1024;
const monotonicNow = performance.now.bind(performance);

/**
 * Remembers (source, id) pairs for a bounded time and count.
 *
 * @example
 * const dedup = new DedupWindow({ ttlMs: 60_000 });
 * if (dedup.isDuplicate(event.source, event.id)) return DUPLICATE;
 */
export class DedupWindow {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #seen = new Map<string, string | string[]>();
  /** Ids in time order (a ring); their sources are in `#seen`. */
  #ids: (string | undefined)[];
  #times: Float64Array;
  #head = 0;
  #count = 0;
  /** Latest time used; a clock that steps back is clamped to it so the ring stays in time order. */
  #last = -Infinity;
  #duplicates = 0;
  #evictedByAge = 0;
  #evictedBySize = 0;
  /** The previous check's source: a run of events from one source then shares one retained string. */
  #lastSource = '';

  constructor(options: DedupOptions = {}) {
    const ttlMs = options.ttlMs ?? DEFAULTS.ttlMs;
    const maxEntries = options.maxEntries ?? DEFAULTS.maxEntries;
    if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new MeshError('MG_ERR_CONFIG_INVALID', `dedup.ttlMs: expected a positive number of milliseconds, got ${String(ttlMs)}`);
    }
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new MeshError('MG_ERR_CONFIG_INVALID', `dedup.maxEntries: expected a positive integer, got ${String(maxEntries)}`);
    }
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
    this.#now = options.now ?? monotonicNow;
    const capacity = Math.min(INITIAL_CAPACITY, maxEntries);
    this.#ids = new Array<string | undefined>(capacity).fill(undefined);
    this.#times = new Float64Array(capacity);
  }

  /**
   * True when (source, id) was seen within the last ttlMs; otherwise
   * records it and returns false.
   *
   * A duplicate does not refresh the pair's time: the window measures
   * from the first sighting. Refreshing would let a producer that retries
   * forever (or a replay loop in the mesh) pin its entry for good, and
   * would break the ring's time order that makes expiry O(1).
   */
  isDuplicate(source: string, id: string): boolean {
    let t = this.#now();
    if (t >= this.#last) this.#last = t;
    else t = this.#last; // clock stepped back (or NaN): keep time order
    this.#expire(t - this.#ttlMs);
    // Decoders give every event fresh strings; compared (not hashed) with
    // the last source, a repeat keeps the one string already held.
    if (source === this.#lastSource) source = this.#lastSource;
    else this.#lastSource = source;
    const seen = this.#seen;
    const held = seen.get(id);
    if (held === undefined) seen.set(id, source);
    else if (held === source || (typeof held !== 'string' && held.includes(source))) {
      this.#duplicates++;
      return true;
    } else if (typeof held === 'string') seen.set(id, [held, source]);
    else held.push(source);
    if (this.#count === this.#maxEntries) {
      this.#dropOldest();
      this.#evictedBySize++;
    } else if (this.#count === this.#ids.length) {
      this.#grow();
    }
    let tail = this.#head + this.#count;
    if (tail >= this.#ids.length) tail -= this.#ids.length;
    this.#ids[tail] = id;
    this.#times[tail] = t;
    this.#count++;
    return false;
  }

  /** Pairs held now; expired pairs leave on the next isDuplicate call. */
  get size(): number {
    return this.#count;
  }

  stats(): DedupStats {
    return {
      entries: this.#count,
      duplicates: this.#duplicates,
      evictedByAge: this.#evictedByAge,
      evictedBySize: this.#evictedBySize,
    };
  }

  /** Forgets every pair seen at or before `cutoff`; amortised O(1) per check since each pair leaves once. */
  #expire(cutoff: number): void {
    while (this.#count > 0 && this.#times[this.#head] <= cutoff) {
      this.#dropOldest();
      this.#evictedByAge++;
    }
  }

  #dropOldest(): void {
    const head = this.#head;
    const id = this.#ids[head] as string;
    const held = this.#seen.get(id)!;
    if (typeof held === 'string') this.#seen.delete(id);
    else {
      held.shift(); // this slot is the id's oldest, so its source is the first
      if (held.length === 1) this.#seen.set(id, held[0]);
    }
    this.#ids[head] = undefined; // release the id string
    this.#head = head + 1 === this.#ids.length ? 0 : head + 1;
    this.#count--;
  }

  /** Doubles the ring (up to maxEntries), unrolling it so the oldest pair is at 0. */
  #grow(): void {
    const oldIds = this.#ids;
    const oldTimes = this.#times;
    const capacity = Math.min(oldIds.length * 2, this.#maxEntries);
    const ids = new Array<string | undefined>(capacity).fill(undefined);
    const times = new Float64Array(capacity);
    for (let i = 0, j = this.#head; i < this.#count; i++) {
      ids[i] = oldIds[j];
      times[i] = oldTimes[j];
      if (++j === oldIds.length) j = 0;
    }
    this.#ids = ids;
    this.#times = times;
    this.#head = 0;
  }
}
