import { createHash } from 'node:crypto';

/** The largest schema id: ids fit the signed 32-bit ids schema-registry clients expect. */
export const MAX_SCHEMA_ID = 0x7fff_ffff;

/**
 * A schema's global id, derived from its content: the first 32 bits of
 * SHA-256 over its canonical JSON text (canonical-json.ts), folded into
 * 1..2^31-1.
 *
 * Why content-derived: every node of the mesh registers schemas on its own
 * (there is no leader to hand out sequence numbers), yet
 * `GET /v1/schemas/ids/N` and `dataschema` references by id must mean the
 * same schema on every node. A hash gives every node the same answer
 * without asking anyone. Two different schemas can still meet on one id
 * (about one chance in two once a registry holds ~50,000 distinct
 * schemas); the registry detects that and refuses the second one.
 *
 * @example
 * schemaIdOf(canonicalJson({ type: 'string' })); // the same number on every node
 */
export function schemaIdOf(canonical: string): number {
  const digest = createHash('sha256').update(canonical, 'utf8').digest();
  return (digest.readUInt32BE(0) % MAX_SCHEMA_ID) + 1;
}

/** Whether `value` could be a schema id (a whole number in 1..2^31-1). */
export function isSchemaId(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_SCHEMA_ID;
}
