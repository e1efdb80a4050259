/**
 * For test/ and bench/ only: schemas/'s public surface plus the internals its tests exercise.
 */
export * from './mod.js';
export { canonicalJson } from './canonical-json.js';
