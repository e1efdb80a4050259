/**
 * For test/ and bench/ only: schemas/'s public surface plus the internals its tests exercise.
 */

export { canonicalJson } from './canonical-json.js';
export * from './mod.js';
