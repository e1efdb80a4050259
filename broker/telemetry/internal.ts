/**
 * For test/ and bench/ only: broker/telemetry/'s public surface plus the internals its tests exercise.
 */
export * from './mod.js';
export { tracingRequested } from './telemetry.js';
