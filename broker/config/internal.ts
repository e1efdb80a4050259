/**
 * For test/ and bench/ only: broker/config/'s public surface plus the internals its tests exercise.
 */

export { DEFAULTS } from './config.js';
export * from './mod.js';
