import { Ajv, type Options } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { SchemaError } from './schema-error.js';

/**
 * The JSON Schema dialects the registry compiles. Draft 2020-12 is the
 * default (a schema without `$schema`); draft-07 is taken when `$schema`
 * names it, since many existing schemas (CloudEvents' own) are written in it.
 */
export type Draft = '2020-12' | '07';

const DRAFT_URIS: ReadonlyArray<readonly [RegExp, Draft]> = [
  [/^https?:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/, '2020-12'],
  [/^https?:\/\/json-schema\.org\/draft-07\/schema#?$/, '07'],
];

/** The draft a schema is written in; throws MG_ERR_SCHEMA_INVALID for a `$schema` the registry does not compile. */
export function draftOf(schema: unknown): Draft {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return '2020-12';
  const uri = (schema as Record<string, unknown>).$schema;
  if (uri === undefined) return '2020-12';
  for (const [re, draft] of DRAFT_URIS) if (typeof uri === 'string' && re.test(uri)) return draft;
  throw new SchemaError(
    'MG_ERR_SCHEMA_INVALID',
    `$schema ${JSON.stringify(uri)} is not supported; fix: omit $schema (draft 2020-12) or use https://json-schema.org/draft/2020-12/schema or http://json-schema.org/draft-07/schema#`,
  );
}

/**
 * ajv options shared by the registry and the compatibility checker:
 * strict about keywords (an unknown keyword or format is an error, not a
 * silently ignored typo), lenient about type/keyword pairing (a schema may
 * say `properties` without `type: "object"`), every error reported (ingress
 * returns all error paths), and schemas with an `$id` are not added to the
 * instance, so two versions with the same `$id` both compile.
 */
/** Either ajv class; both compile and validate alike. */
export type AnyAjv = Ajv | Ajv2020;

export const AJV_OPTIONS: Options = Object.freeze({
  strict: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  allowUnionTypes: true,
  allErrors: true,
  addUsedSchema: false,
});

/** A fresh ajv instance for `draft`, with ajv-formats' formats. */
export function newAjv(draft: Draft, options: Options = {}): AnyAjv {
  const ajv = draft === '2020-12' ? new Ajv2020({ ...AJV_OPTIONS, ...options }) : new Ajv({ ...AJV_OPTIONS, ...options });
  addFormats.default(ajv);
  return ajv;
}
