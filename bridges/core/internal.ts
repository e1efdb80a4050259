/**
 * For test/ and bench/ only: bridges/core/'s public surface plus the internals its tests exercise.
 */

export { matches, TopicMapping } from './mapping.js';
export * from './mod.js';
export { plainEvent } from './plain-event.js';
