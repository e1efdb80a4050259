/**
 * schemas/: the JSON Schema registry (subjects, versions, content-derived
 * global ids, bindings to topics and CloudEvents types, a mergeable state
 * for mesh-wide replication), its sound compatibility
 * checker, and the schemas the system ships. Imports only routing/.
 */

export {
  COMPATIBILITY_MODES,
  type CompatibilityMode,
  checkCompatibility,
  DEFAULT_COMPATIBILITY,
  isCompatibilityMode,
  type VersionedSchema,
} from './compatibility.js';
export { type DataschemaRef, dataschemaUrn, parseDataschemaRef, SUBJECT_NAME } from './dataschema-ref.js';
export { type Draft, draftOf } from './json-schema-draft.js';
export {
  type CompatibilityResult,
  type RegisteredSchema,
  type RegisterOptions,
  type RegisterResult,
  type RegistryChange,
  SchemaRegistry,
  type SchemaRegistryOptions,
  type SubjectInfo,
} from './registry.js';
export type { MergeResult } from './registry-merge.js';
export type { RegistryState, SubjectState } from './registry-state.js';
export { SchemaError, type SchemaErrorCode } from './schema-error.js';
export { isSchemaId, MAX_SCHEMA_ID, schemaIdOf } from './schema-id.js';
export { SHIPPED_SCHEMAS, type ShippedSchemaName, shippedSchema } from './shipped.js';
export { compareStamps, isSubjectStamp, type SubjectStamp } from './subject-stamp.js';
export { proveSubset, type SubsetProblem } from './subset-prover.js';
export { compareSpecificity } from './topic-specificity.js';
