/**
 * For test/ and bench/ only: broker/node/'s public surface plus the internals its tests exercise.
 */
export * from './mod.js';
export type { RunningNode } from './server.js';
