import { proveSubset, type SubsetProblem } from './subset-prover.js';

/**
 * Compatibility modes, with Confluent Schema Registry's meaning:
 *
 *   BACKWARD   consumers using the new schema read data written with the
 *              previous one: every instance valid under the previous
 *              version is valid under the new one (old ⊆ new).
 *   FORWARD    the reverse: data written with the new schema is read by
 *              consumers of the previous one (new ⊆ old).
 *   FULL       both (the two accept exactly the same instances).
 *   *_TRANSITIVE  the same against every earlier version, not only the latest.
 *   NONE       no check.
 */
export const COMPATIBILITY_MODES = ['NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'] as const;
export type CompatibilityMode = (typeof COMPATIBILITY_MODES)[number];

/** The mode a subject has until one is set. */
export const DEFAULT_COMPATIBILITY: CompatibilityMode = 'BACKWARD';

export function isCompatibilityMode(value: unknown): value is CompatibilityMode {
  return typeof value === 'string' && (COMPATIBILITY_MODES as readonly string[]).includes(value);
}

/** A registered version as the checker needs it. */
export interface VersionedSchema {
  readonly version: number;
  readonly schema: unknown;
}

/**
 * Why `candidate` may not follow `previous` (oldest first) under `mode`:
 * one line per problem, "BACKWARD against version 2: property 'x' became
 * required at /properties/x". Empty: compatible (proved).
 *
 * @example
 * checkCompatibility('FULL', [{ version: 1, schema: v1 }], v2); // [] or reasons
 */
export function checkCompatibility(mode: CompatibilityMode, previous: readonly VersionedSchema[], candidate: unknown): string[] {
  if (mode === 'NONE' || previous.length === 0) return [];
  const against = mode.endsWith('_TRANSITIVE') ? [...previous].reverse() : [previous[previous.length - 1]];
  const base = mode.replace('_TRANSITIVE', '');
  const messages: string[] = [];
  for (const old of against) {
    const problems: SubsetProblem[] = [];
    if (base === 'BACKWARD' || base === 'FULL') problems.push(...proveSubset(old.schema, candidate, true));
    if (base === 'FORWARD' || base === 'FULL') problems.push(...proveSubset(candidate, old.schema, false));
    const seen = new Set<string>();
    for (const p of problems) {
      if (seen.has(p.message)) continue;
      seen.add(p.message);
      messages.push(`${mode} against version ${old.version}: ${p.message}`);
    }
  }
  return messages;
}
