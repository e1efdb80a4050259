import { canonicalJson } from './canonical-json.js';
import { nameOf, readEntry, type SubjectEntry } from './registry-state.js';
import { compareStamps } from './subject-stamp.js';

/**
 * The merge rule of registry states (a state-based CRDT: merge is
 * commutative, associative and idempotent, so nodes agree whatever the
 * order, grouping or repetition of merges): per subject, the higher stamp
 * wins the whole subject (versions, bindings and mode); equal stamps fall
 * back to the larger content. Which subjects of a state win is decided
 * here, on plain data; compiling the winners and swapping them in is the
 * registry's job (registry.ts), which keeps its fields to itself.
 */

/** What `merge()` did. */
export interface MergeResult {
  /** Subjects added or replaced by a newer version from the state, sorted. */
  readonly changed: readonly string[];
  /** Entries of the state left out, and why: malformed, a schema that does not compile here, an id collision. */
  readonly skipped: ReadonlyArray<{ readonly subject: string; readonly reason: string }>;
}

/** What the merge order looks at in a subject: a state entry or a registry's own subject alike. */
export type Comparable = Pick<SubjectEntry, 'stamp' | 'compatibility' | 'topics' | 'types'> & {
  readonly versions: ReadonlyArray<{ readonly version: number; readonly id: number }>;
};

/** The entries of a state that beat the local subjects, before compiling. */
export interface MergePlan {
  /** Per subject, the state's newest entry, where it is newer than the local subject (or there is none); in first-seen order. */
  readonly winners: readonly SubjectEntry[];
  /** Entries that are not well-formed, with the reason, in state order. */
  readonly skipped: Array<{ subject: string; reason: string }>;
  /** The highest stamp counter among the well-formed entries (0 when none): the registry's clock moves past it. */
  readonly maxCounter: number;
}

/**
 * Reads a state's `entries` (from checkStateShape) and picks, per subject,
 * the newest entry, kept only where it beats `local` (the merging
 * registry's subjects by name, read only during the call).
 */
export function planMerge(entries: readonly unknown[], local: ReadonlyMap<string, Comparable>): MergePlan {
  const skipped: Array<{ subject: string; reason: string }> = [];
  const newest = new Map<string, SubjectEntry>();
  let maxCounter = 0;
  for (const raw of entries) {
    let entry: SubjectEntry;
    try {
      entry = readEntry(raw);
    } catch (err) {
      skipped.push({ subject: nameOf(raw), reason: (err as Error).message });
      continue;
    }
    maxCounter = Math.max(maxCounter, entry.stamp[0]);
    const seen = newest.get(entry.name);
    if (seen === undefined || compareEntries(entry, seen) > 0) newest.set(entry.name, entry);
  }
  const winners: SubjectEntry[] = [];
  for (const entry of newest.values()) {
    const mine = local.get(entry.name);
    if (mine === undefined || compareEntries(entry, mine) > 0) winners.push(entry);
  }
  return { winners, skipped, maxCounter };
}

/**
 * The merge order of two versions of one subject: by stamp, then (equal
 * stamps, which only a node that restarted and counted from 0 again can
 * produce with different contents) by content, so the order is total and
 * every node picks the same winner. Ids stand for schemas: they are content ids.
 */
function compareEntries(a: Comparable, b: Comparable): number {
  const byStamp = compareStamps(a.stamp, b.stamp);
  if (byStamp !== 0) return byStamp;
  const ka = contentKey(a);
  const kb = contentKey(b);
  return ka === kb ? 0 : ka < kb ? -1 : 1;
}

function contentKey(s: Comparable): string {
  return canonicalJson([s.compatibility ?? null, s.topics, s.types, s.versions.map((v) => [v.version, v.id])]);
}
