import { checkFilter } from '../routing/mod.js';
import { SUBJECT_NAME } from './dataschema-ref.js';
import { SchemaError } from './schema-error.js';

/**
 * Checks of what a subject carries: its name, its topic filters and its
 * CloudEvents types. Shared by the registry's API (register, bind) and by
 * the reading of a state from another node, so both refuse alike.
 * Each throws SchemaError MG_ERR_SCHEMA_INVALID.
 */

export function checkSubjectName(subject: unknown): asserts subject is string {
  if (typeof subject !== 'string' || !SUBJECT_NAME.test(subject)) {
    throw new SchemaError('MG_ERR_SCHEMA_INVALID', `subject ${JSON.stringify(subject)}: expected 1-128 letters, digits, '.', '_' or '-'`);
  }
}

/** Topic filters, deduplicated and sorted (so equal bindings compare equal on every node). */
export function checkTopics(topics: unknown): string[] {
  if (!Array.isArray(topics)) throw new SchemaError('MG_ERR_SCHEMA_INVALID', 'topics: expected an array of topic filters');
  const out = [...new Set(topics as unknown[])].map((f, i) => {
    if (typeof f !== 'string') throw new SchemaError('MG_ERR_SCHEMA_INVALID', `topics[${i}]: expected a topic filter string`);
    const problem = checkFilter(f);
    if (problem !== null) throw new SchemaError('MG_ERR_SCHEMA_INVALID', `topics[${i}]: ${problem.message}`);
    return f;
  });
  return out.sort();
}

/** CloudEvents types, deduplicated and sorted. */
export function checkTypes(types: unknown): string[] {
  if (!Array.isArray(types)) throw new SchemaError('MG_ERR_SCHEMA_INVALID', 'types: expected an array of CloudEvents type strings');
  return [...new Set(types as unknown[])]
    .map((t, i) => {
      if (typeof t !== 'string' || t === '') throw new SchemaError('MG_ERR_SCHEMA_INVALID', `types[${i}]: expected a non-empty string`);
      return t;
    })
    .sort();
}
