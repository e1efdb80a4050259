/**
 * For test/ and bench/ only: broker/config/'s public surface plus the internals its tests exercise.
 */
export * from './mod.js';
export { DEFAULTS } from './config.js';
