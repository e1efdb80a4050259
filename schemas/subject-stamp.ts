/**
 * When and where a subject last changed: a Lamport counter and the id of
 * the node that made the change. Stamps order the changes of a mesh
 * without a leader or synchronised clocks: a node stamps each local change
 * with a counter above every stamp it has seen, so a change made after
 * seeing another always sorts after it; changes made without seeing each
 * other (concurrently) are ordered by counter, then node id, the same way
 * on every node.
 *
 * Carried as `[counter, node]` in a registry state (JSON and CBOR alike).
 */
export type SubjectStamp = readonly [counter: number, node: string];

/** Negative: `a` is older; positive: `a` is newer; 0: the same stamp. */
export function compareStamps(a: SubjectStamp, b: SubjectStamp): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}

/** Whether `value` is a well-formed stamp (a safe whole counter >= 0 and a node id string). */
export function isSubjectStamp(value: unknown): value is SubjectStamp {
  return Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && (value[0] as number) >= 0 && typeof value[1] === 'string';
}
