/**
 * For test/ and bench/ only: broker/auth/'s public surface plus the internals its tests exercise.
 */
export * from './mod.js';
export { narrowFilter } from './narrow-filter.js';
