import { type CompatibilityMode, isCompatibilityMode } from './compatibility.js';
import { SchemaError } from './schema-error.js';
import { isSchemaId, MAX_SCHEMA_ID } from './schema-id.js';
import { checkSubjectName, checkTopics, checkTypes } from './subject-fields.js';
import { isSubjectStamp, type SubjectStamp } from './subject-stamp.js';

/**
 * A registry's state as plain JSON (what `export()` writes and `merge()`
 * and `import()` read), and the reading of one that came from elsewhere:
 * another node, a file. Reading checks shape only; compiling the schemas
 * and checking their ids is the registry's job.
 */

/** One subject as a registry state carries it. */
export interface SubjectState {
  readonly subject: string;
  /** Its last change (see subject-stamp.ts). */
  readonly stamp: SubjectStamp;
  /** Absent: the registry default. */
  readonly compatibility?: CompatibilityMode;
  readonly topics: readonly string[];
  readonly types: readonly string[];
  readonly versions: ReadonlyArray<{ readonly version: number; readonly id: number; readonly schema: unknown }>;
}

/**
 * The registry, or some of its subjects, as plain JSON: for `merge()` on
 * another node (mesh replication, a late joiner catching up), `import()`,
 * or persistence.
 */
export interface RegistryState {
  readonly format: 2;
  /** The exporting registry's default (informational: each registry keeps its own). */
  readonly defaultCompatibility: CompatibilityMode;
  readonly subjects: readonly SubjectState[];
}

/** A subject entry of a state, checked for shape but not yet compiled. */
export interface SubjectEntry {
  readonly name: string;
  readonly stamp: SubjectStamp;
  readonly compatibility: CompatibilityMode | undefined;
  readonly topics: string[];
  readonly types: string[];
  readonly versions: ReadonlyArray<{ readonly version: number; readonly id: number; readonly schema: unknown }>;
}

/** The subjects array of something that should be a registry state; throws SchemaError when it is not one. */
export function checkStateShape(state: unknown, op: string): unknown[] {
  const s = state as RegistryState | null;
  if (s === null || typeof s !== 'object' || s.format !== 2 || !Array.isArray(s.subjects)) {
    throw new SchemaError('MG_ERR_SCHEMA_INVALID', `${op}: expected a registry state with format 2 and a subjects array (from export())`);
  }
  return s.subjects as unknown[];
}

/** An entry's subject name for an error or skip reason, even when the entry is malformed. */
export function nameOf(raw: unknown): string {
  const name = (raw as { subject?: unknown } | null)?.subject;
  return typeof name === 'string' ? name.slice(0, 128) : '?';
}

/** Checks a state entry's shape and normalises its lists; throws SchemaError. */
export function readEntry(raw: unknown): SubjectEntry {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new SchemaError('MG_ERR_SCHEMA_INVALID', 'expected a subject object');
  const e = raw as Record<string, unknown>;
  checkSubjectName(e.subject);
  if (!isSubjectStamp(e.stamp)) throw new SchemaError('MG_ERR_SCHEMA_INVALID', `stamp ${JSON.stringify(e.stamp)}: expected [counter >= 0, node id]`);
  if (e.compatibility !== undefined && e.compatibility !== null && !isCompatibilityMode(e.compatibility))
    throw new SchemaError('MG_ERR_SCHEMA_INVALID', `compatibility ${JSON.stringify(e.compatibility)} is not a mode`);
  if (!Array.isArray(e.versions)) throw new SchemaError('MG_ERR_SCHEMA_INVALID', 'versions: expected an array');
  let last = 0;
  const versions = (e.versions as unknown[]).map((v) => {
    const { version, id, schema } = (v ?? {}) as Record<string, unknown>;
    if (!Number.isInteger(version) || (version as number) <= last || !isSchemaId(id)) {
      throw new SchemaError(
        'MG_ERR_SCHEMA_INVALID',
        `version ${JSON.stringify(version)} / id ${JSON.stringify(id)}: versions must increase and ids be whole numbers in 1..${MAX_SCHEMA_ID}`,
      );
    }
    last = version as number;
    return { version: version as number, id, schema };
  });
  return {
    name: e.subject,
    stamp: [e.stamp[0], e.stamp[1]],
    compatibility: (e.compatibility ?? undefined) as CompatibilityMode | undefined,
    topics: checkTopics(e.topics ?? []),
    types: checkTypes(e.types ?? []),
    versions,
  };
}

/** A subject (a registry's own or a read entry) as a state carries it; the lists are copied, the schemas shared. */
export function stateOf(s: SubjectEntry): SubjectState {
  return {
    subject: s.name,
    stamp: s.stamp,
    ...(s.compatibility === undefined ? {} : { compatibility: s.compatibility }),
    topics: [...s.topics],
    types: [...s.types],
    versions: s.versions.map((v) => ({ version: v.version, id: v.id, schema: v.schema })),
  };
}
