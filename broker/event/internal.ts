/**
 * For test/ and bench/ only: broker/event/'s public surface plus the internals its tests exercise.
 */

export { isCeString, isRfc3339Timestamp, newAttributeParts, readAttributes, WHOLE_EVENT } from './event-check.js';
export * from './mod.js';
