/**
 * The JSON Schema of a captured table's rows, as pgoutput's Relation
 * message describes them (the `before`/`after` of its change events).
 * The source registers it as subject `db.<schema>.<table>` on the node's
 * registry whenever the relation changes (a column added, dropped or
 * retyped), so consumers find the row shape versioned beside the events.
 *
 * JSON types follow how change events carry the values (change-event.ts):
 * int2/int4 numbers, int8 and numeric strings (exact), floats numbers,
 * json/jsonb as they are, arrays as arrays, everything else a string.
 * A column outside the key may be null; unchanged TOAST columns are left
 * out of `after`, so no column is required but the key.
 */
import type { Pgoutput } from 'pg-logical-replication';

const BOOL = 16;
const INTEGERS = new Set([21, 23]); // int2, int4
const FLOATS = new Set([700, 701]); // float4, float8
const JSONS = new Set([114, 3802]); // json, jsonb

/**
 * Names of the built-in types (pgoutput names only types outside
 * pg_catalog; a built-in one comes as its OID alone), arrays included.
 */
const BUILTIN: Readonly<Record<number, string>> = {
  16: 'bool',
  17: 'bytea',
  20: 'int8',
  21: 'int2',
  23: 'int4',
  25: 'text',
  114: 'json',
  700: 'float4',
  701: 'float8',
  1042: 'bpchar',
  1043: 'varchar',
  1082: 'date',
  1083: 'time',
  1114: 'timestamp',
  1184: 'timestamptz',
  1700: 'numeric',
  2950: 'uuid',
  3802: 'jsonb',
  1000: '_bool',
  1005: '_int2',
  1007: '_int4',
  1009: '_text',
  1015: '_varchar',
  1016: '_int8',
  1021: '_float4',
  1022: '_float8',
  1231: '_numeric',
  2951: '_uuid',
  3807: '_jsonb',
};

function columnSchema(c: Pgoutput.RelationColumn, key: boolean): Record<string, unknown> {
  const name = c.typeName ?? BUILTIN[c.typeOid];
  const description = `PostgreSQL ${name ?? `type ${c.typeOid}`}`;
  if (JSONS.has(c.typeOid)) return { description };
  const type =
    c.typeOid === BOOL ? 'boolean' : INTEGERS.has(c.typeOid) ? 'integer' : FLOATS.has(c.typeOid) ? 'number' : name?.startsWith('_') ? 'array' : 'string';
  return { type: key ? type : [type, 'null'], description };
}

/** The subject a table's row schema is registered under. */
export function rowSubject(schema: string, table: string): string {
  return `db.${schema}.${table}`;
}

export function rowSchema(rel: Pgoutput.MessageRelation): Record<string, unknown> {
  const key = new Set(rel.keyColumns);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: `${rel.schema}.${rel.name} row`,
    type: 'object',
    properties: Object.fromEntries(rel.columns.map((c) => [c.name, columnSchema(c, key.has(c.name))])),
    required: rel.keyColumns,
  };
}
