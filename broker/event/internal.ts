/**
 * For test/ and bench/ only: broker/event/'s public surface plus the internals its tests exercise.
 */
export * from './mod.js';
export { WHOLE_EVENT, isCeString, isRfc3339Timestamp, newAttributeParts, readAttributes } from './event-check.js';
