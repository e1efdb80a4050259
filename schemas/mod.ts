/**
 * schemas/: the JSON Schema registry (subjects, versions, content-derived
 * global ids, bindings to topics and CloudEvents types, a mergeable state
 * for mesh-wide replication), its sound compatibility
 * checker, and the schemas the system ships. Imports only routing/.
 */
export { SchemaRegistry, type CompatibilityResult, type RegisterOptions, type RegisterResult, type RegisteredSchema, type RegistryChange, type SchemaRegistryOptions, type SubjectInfo } from './registry.js';
export type { RegistryState, SubjectState } from './registry-state.js';
export type { MergeResult } from './registry-merge.js';
export { schemaIdOf, isSchemaId, MAX_SCHEMA_ID } from './schema-id.js';
export { compareStamps, isSubjectStamp, type SubjectStamp } from './subject-stamp.js';
export { COMPATIBILITY_MODES, DEFAULT_COMPATIBILITY, checkCompatibility, isCompatibilityMode, type CompatibilityMode, type VersionedSchema } from './compatibility.js';
export { proveSubset, type SubsetProblem } from './subset-prover.js';
export { SchemaError, type SchemaErrorCode } from './schema-error.js';
export { parseDataschemaRef, dataschemaUrn, SUBJECT_NAME, type DataschemaRef } from './dataschema-ref.js';
export { compareSpecificity } from './topic-specificity.js';
export { draftOf, type Draft } from './json-schema-draft.js';
export { SHIPPED_SCHEMAS, shippedSchema, type ShippedSchemaName } from './shipped.js';
