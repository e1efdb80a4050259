/**
 * The dedup window: drops an event whose (topic, source, id) was already
 * seen recently (DESIGN.md, fixed decision 3; CloudEvents 1.0 `id`:
 * "Consumers MAY assume that Events with identical source and id are
 * duplicates").
 *
 * Scoped by the exact topic because (source, id) is chosen by the client:
 * keyed on the pair alone, a producer allowed only `a.>` could publish
 * (billing-svc, invoice-42) on `a.decoy` and have the real event on
 * `b.billing` dropped as a duplicate. Whoever can publish on a topic can
 * publish the event itself, so within one topic a key suppresses nothing
 * its sender could not have sent. Any coarser scope (a topic prefix, the
 * first token) fails under an ACL that allows `a.x` but not `a.y`; and a
 * retry, a peer replay, a mesh cycle or two bridges mapping one broker to
 * the same mesh topic all keep the topic, so they are still caught.
 *
 * Bounded by time (ttlMs) and by entries (maxEntries), constant time per
 * check, exact (a distinct key is never taken for a duplicate).
 *
 * ```
 *   ring of entries, in insertion order = time order     table (open addressing, linear probing)
 *   head                        head+count               [hash, entry+1][hash, entry+1] ...
 *    v                              v                      one slot per entry, load <= 1/2
 *   [t0 h0 @k0][t1 h1 @k1] ... [tN hN @kN][ free ]
 *                |
 *                v  the key bytes, in a byte ring (the arena) that frees in the same order:
 *                   [topic chars][0x80][source chars][0x80][id chars]   char: ASCII byte | 0xff hi lo
 * ```
 *
 * Why not a Map<string, ...>: at a busy node's 1M entries, a Map costs a
 * handful of cache misses per check (bucket, entry chain, key string; and
 * again to delete the oldest), and it keeps a million id strings alive,
 * which every young-generation collection then copies into the old one.
 * Profiles put that at a sixth of a node's CPU. Here a check is one probe
 * into a typed array (hash and entry share a cache line), the key's bytes
 * are written once to a sequential arena, and the event's strings die
 * young. Keys are compared byte for byte on a hash match, so the window
 * stays exact.
 */
import { MeshError } from '../base/mod.js';

export interface DedupOptions {
  /** How long a (topic, source, id) is remembered, in milliseconds. @default 120_000 */
  readonly ttlMs?: number;
  /** Most keys held; past it the oldest is forgotten early. @default 1_000_000 */
  readonly maxEntries?: number;
  /** Clock in milliseconds; injected by tests. @default performance.now (monotonic) */
  readonly now?: () => number;
}

export interface DedupStats {
  /** Keys held now (expired ones leave lazily, on the next check). */
  readonly entries: number;
  /** Checks answered "duplicate" since construction. */
  readonly duplicates: number;
  /** Keys forgotten because they outlived ttlMs. */
  readonly evictedByAge: number;
  /** Keys forgotten before ttlMs because the window was full: a duplicate of one of them would pass. */
  readonly evictedBySize: number;
}

const DEFAULTS = Object.freeze({ ttlMs: 120_000, maxEntries: 1_000_000 });
const INITIAL_ARENA_BYTES = 64 * 1024;
/** Marks a key char at or above 0x80, written as this byte and the char's two bytes (ASCII is one byte). */
const WIDE = 0xff;
/**
 * Ends the topic and the source in a key's bytes. No char's first byte is
 * ever this (ASCII is below 0x80, a wide char starts with WIDE), so the
 * bytes read back as exactly one (topic, source, id): ("a.b", "c", "")
 * and ("a", "b.c", "") differ.
 */
const PART_END = 0x80;
/** Mixed into the hash between the parts; no UTF-16 code unit equals it. */
const PART_HASH = 0x10000;
const monotonicNow = performance.now.bind(performance);

/** FNV-1a over UTF-16 code units, continuing from `h`. */
function hashChars(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

/** Murmur3's finaliser: spreads FNV's weak low bits over the table index. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/**
 * Remembers (topic, source, id) keys for a bounded time and count.
 *
 * @example
 * const dedup = new DedupWindow({ ttlMs: 60_000 });
 * if (dedup.isDuplicate(event.topic, event.source, event.id)) return DUPLICATE;
 */
export class DedupWindow {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  // The ring of entries, one slot per remembered key.
  #times: Float64Array;
  #hashes: Int32Array;
  /** Where the entry's key starts in the arena, and how many bytes it takes. */
  #keyAt: Int32Array;
  #keyBytes: Int32Array;
  /** 1 where forget() already took the entry out of the table: it leaves the ring in order, with nothing to unlink. */
  #forgotten: Uint8Array;
  #head = 0;
  #count = 0;

  /** Pairs [hash, entry index + 1], 0 marking an empty slot; a power of two of slots. */
  #table: Int32Array;
  #mask: number;

  /** Key bytes, a ring freed oldest first like the entries; #arenaEnd is where the next key goes. */
  #arena: Uint8Array;
  #arenaEnd = 0;

  /** Latest time used; a clock that steps back is clamped to it so the ring stays in time order. */
  #last = -Infinity;
  #duplicates = 0;
  #evictedByAge = 0;
  #evictedBySize = 0;
  /** The previous check's topic and source and their hash: a run of events from one source on one topic hashes them once. */
  #lastTopic = '';
  #lastSource = '';
  #lastPrefixHash = prefixHash('', '');

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
    // Sized for the bound up front: growing meant rehashing every entry at
    // each doubling, a cache miss apiece, and a node spends its first
    // million events filling the window. The pages are zero and untouched
    // until used, so an idle window costs address space, not memory.
    const capacity = maxEntries;
    this.#times = new Float64Array(capacity);
    this.#hashes = new Int32Array(capacity);
    this.#forgotten = new Uint8Array(capacity);
    this.#keyAt = new Int32Array(capacity);
    this.#keyBytes = new Int32Array(capacity);
    this.#table = new Int32Array(2 * tableSlotsFor(capacity));
    this.#mask = tableSlotsFor(capacity) - 1;
    this.#arena = new Uint8Array(INITIAL_ARENA_BYTES);
  }

  /**
   * True when (topic, source, id) was seen within the last ttlMs;
   * otherwise records it and returns false. `topic` is the event's mesh
   * topic: the same (source, id) on another topic is another event.
   *
   * A duplicate does not refresh the key's time: the window measures
   * from the first sighting. Refreshing would let a producer that retries
   * forever (or a replay loop in the mesh) pin its entry for good, and
   * would break the ring's time order that makes expiry O(1).
   */
  isDuplicate(topic: string, source: string, id: string): boolean {
    let t = this.#now();
    if (t >= this.#last) this.#last = t;
    else t = this.#last; // clock stepped back (or NaN): keep time order
    this.#expire(t - this.#ttlMs);

    // Fresh strings per event, but usually the same topic and source as
    // the last one: comparing costs less than hashing them again.
    let h: number;
    if (source === this.#lastSource && topic === this.#lastTopic) h = this.#lastPrefixHash;
    else {
      h = prefixHash(topic, source);
      this.#lastTopic = topic;
      this.#lastSource = source;
      this.#lastPrefixHash = h;
    }
    const hash = mix(hashChars(h, id));

    const table = this.#table;
    const mask = this.#mask;
    let slot = hash & mask;
    for (let entry = table[2 * slot + 1]; entry !== 0; entry = table[2 * slot + 1]) {
      if (table[2 * slot] === hash && this.#keyEquals(entry - 1, topic, source, id)) {
        this.#duplicates++;
        return true;
      }
      slot = (slot + 1) & mask;
    }

    if (this.#count === this.#maxEntries) {
      this.#dropOldest();
      this.#evictedBySize++;
      // Dropping shifted slots back: the free slot found above may have moved.
      this.#insert(hash, topic, source, id, t, -1);
    } else {
      this.#insert(hash, topic, source, id, t, slot);
    }
    return false;
  }

  /**
   * Forgets the key the last isDuplicate call recorded (it returned false):
   * the event was refused after all (a full stream store), so a retry must
   * count as new. Only the newest entry can go: the ring stays in order.
   */
  forgetNewest(): void {
    if (this.#count === 0) return;
    let entry = this.#head + this.#count - 1;
    if (entry >= this.#times.length) entry -= this.#times.length;
    if (this.#forgotten[entry] === 1) this.#forgotten[entry] = 0;
    else this.#unlink(this.#hashes[entry], entry + 1);
    this.#count--;
    // Its key was the last written: the arena's end goes back to its start.
    this.#arenaEnd = this.#count === 0 ? 0 : this.#keyAt[entry];
  }

  /**
   * Forgets one key, wherever it stands in the window: an event whose
   * store commit failed after isDuplicate recorded it must count as new
   * when it is sent again. Its ring entry stays (the ring is in time
   * order) but no longer matches; it leaves when it becomes the oldest.
   * Returns whether the key was held.
   */
  forget(topic: string, source: string, id: string): boolean {
    const hash = mix(hashChars(prefixHash(topic, source), id));
    const table = this.#table;
    const mask = this.#mask;
    for (let slot = hash & mask, entry = table[2 * slot + 1]; entry !== 0; slot = (slot + 1) & mask, entry = table[2 * slot + 1]) {
      if (table[2 * slot] === hash && this.#keyEquals(entry - 1, topic, source, id)) {
        this.#unlink(hash, entry);
        this.#forgotten[entry - 1] = 1;
        return true;
      }
    }
    return false;
  }

  /** Keys held now; expired keys leave on the next isDuplicate call. */
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

  /** Adds an entry at the ring's tail; `slot` is its free table slot, or -1 to probe for one. */
  #insert(hash: number, topic: string, source: string, id: string, t: number, slot: number): void {
    let entry = this.#head + this.#count;
    if (entry >= this.#times.length) entry -= this.#times.length;
    this.#times[entry] = t;
    this.#hashes[entry] = hash;
    this.#writeKey(entry, topic, source, id);
    this.#count++;
    if (slot < 0) slot = this.#freeSlot(hash);
    this.#table[2 * slot] = hash;
    this.#table[2 * slot + 1] = entry + 1;
  }

  #freeSlot(hash: number): number {
    let slot = hash & this.#mask;
    while (this.#table[2 * slot + 1] !== 0) slot = (slot + 1) & this.#mask;
    return slot;
  }

  /** Forgets every key seen at or before `cutoff`; amortised O(1) per check since each key leaves once. */
  #expire(cutoff: number): void {
    while (this.#count > 0 && this.#times[this.#head] <= cutoff) {
      this.#dropOldest();
      this.#evictedByAge++;
    }
  }

  #dropOldest(): void {
    const entry = this.#head;
    if (this.#forgotten[entry] === 1) this.#forgotten[entry] = 0;
    else this.#unlink(this.#hashes[entry], entry + 1);
    this.#head = entry + 1 === this.#times.length ? 0 : entry + 1;
    this.#count--;
    if (this.#count === 0) this.#arenaEnd = 0; // nothing held: start the arena over
  }

  /**
   * Removes `entry` from the table by backward-shift deletion: later slots
   * of the same probe run move up, so lookups need no tombstones and a
   * window that churns forever keeps its probe runs short.
   */
  #unlink(hash: number, entry: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let hole = hash & mask;
    while (table[2 * hole + 1] !== entry) hole = (hole + 1) & mask;
    for (let next = (hole + 1) & mask; table[2 * next + 1] !== 0; next = (next + 1) & mask) {
      const home = table[2 * next] & mask;
      // The slot at `next` may fill the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      table[2 * hole] = table[2 * next];
      table[2 * hole + 1] = table[2 * next + 1];
      hole = next;
    }
    table[2 * hole] = 0;
    table[2 * hole + 1] = 0;
  }

  /**
   * Writes the key to the arena as topic, PART_END, source, PART_END, id;
   * each char ASCII as one byte, anything else as WIDE and its two bytes.
   * The arena is a ring like the entries; a key never wraps (the rest of
   * the arena's end is skipped instead), and a key that does not fit
   * grows the arena.
   */
  #writeKey(entry: number, topic: string, source: string, id: string): void {
    const most = 3 * (topic.length + source.length + id.length) + 2;
    const start = this.#placeKey(most);
    const arena = this.#arena;
    let at = writeChars(arena, start, topic);
    arena[at++] = PART_END;
    at = writeChars(arena, at, source);
    arena[at++] = PART_END;
    at = writeChars(arena, at, id);
    this.#keyAt[entry] = start;
    this.#keyBytes[entry] = at - start;
    this.#arenaEnd = at;
  }

  /**
   * Where a key of up to `bytes` bytes can go. The live keys run from the
   * oldest entry's key to #arenaEnd, possibly wrapped; the next key goes
   * after the newest, or at 0 when the end is too short. Strict `<` keeps
   * "end meets start" meaning empty, never full.
   */
  #placeKey(bytes: number): number {
    const end = this.#arenaEnd;
    if (this.#count === 0) return this.#fits(0, bytes) ? 0 : this.#growArena(bytes);
    const start = this.#keyAt[this.#head];
    // After a wrap the newest key always ends before the oldest starts, so
    // start === end only when every live key is empty: not wrapped.
    if (start <= end) {
      if (this.#fits(end, bytes)) return end; // room after the newest key
      if (bytes < start) return 0; // wrap: the arena's tail stays unused until the oldest keys leave
      return this.#growArena(bytes);
    }
    if (end + bytes < start) return end; // wrapped: room between the newest and the oldest key
    return this.#growArena(bytes);
  }

  #fits(at: number, bytes: number): boolean {
    return at + bytes <= this.#arena.length;
  }

  /** Doubles the arena (or more, for a long key), copying the live keys to its start in age order. */
  #growArena(bytes: number): number {
    let live = 0;
    for (let i = 0, e = this.#head; i < this.#count; i++) {
      live += this.#keyBytes[e];
      if (++e === this.#times.length) e = 0;
    }
    const old = this.#arena;
    const arena = new Uint8Array(Math.max(2 * old.length, 2 * (live + bytes)));
    // Keys lie back to back but for one wrap: copy runs, not keys.
    let at = 0;
    let runFrom = 0;
    let runTo = 0;
    let runAt = 0;
    for (let i = 0, e = this.#head; i < this.#count; i++) {
      const from = this.#keyAt[e];
      if (from !== runTo) {
        arena.set(old.subarray(runFrom, runTo), runAt);
        runFrom = from;
        runAt = at;
      }
      runTo = from + this.#keyBytes[e];
      this.#keyAt[e] = at;
      at += this.#keyBytes[e];
      if (++e === this.#times.length) e = 0;
    }
    arena.set(old.subarray(runFrom, runTo), runAt);
    this.#arena = arena;
    this.#arenaEnd = at;
    return at;
  }

  /** Whether the entry's key bytes are exactly (topic, source, id) as #writeKey writes them. */
  #keyEquals(entry: number, topic: string, source: string, id: string): boolean {
    const arena = this.#arena;
    const start = this.#keyAt[entry];
    const end = start + this.#keyBytes[entry];
    let at = matchChars(arena, start, end, topic);
    if (at < 0 || at >= end || arena[at++] !== PART_END) return false;
    at = matchChars(arena, at, end, source);
    if (at < 0 || at >= end || arena[at++] !== PART_END) return false;
    return matchChars(arena, at, end, id) === end;
  }
}

/** FNV-1a of topic and source, each ended by PART_HASH: the hash of every key with this prefix continues from it. */
function prefixHash(topic: string, source: string): number {
  const h = Math.imul(hashChars(0x811c9dc5, topic) ^ PART_HASH, 0x01000193);
  return Math.imul(hashChars(h, source) ^ PART_HASH, 0x01000193);
}

/**
 * Compares the arena's bytes from `at` (before `end`) with `s` as
 * writeChars writes it; returns where they ended, or -1 on a difference.
 */
function matchChars(arena: Uint8Array, at: number, end: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (at >= end) return -1;
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (arena[at++] !== c) return -1;
    } else {
      if (arena[at] !== WIDE || arena[at + 1] !== c >>> 8 || arena[at + 2] !== (c & 0xff)) return -1;
      at += 3;
    }
  }
  return at;
}

/** Writes `s` to `arena` at `at` as #writeKey describes; returns where it ended. */
function writeChars(arena: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) arena[at++] = c;
    else {
      arena[at++] = WIDE;
      arena[at++] = c >>> 8;
      arena[at++] = c & 0xff;
    }
  }
  return at;
}

/** Table slots for a ring of `capacity` entries: a power of two, at least twice as many, so probe runs stay short. */
function tableSlotsFor(capacity: number): number {
  let slots = 2;
  while (slots < 2 * capacity) slots *= 2;
  return slots;
}
