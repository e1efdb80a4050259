/**
 * For test/ and bench/ only: broker/pipeline/'s public surface plus the internals its tests exercise.
 */
export * from './mod.js';
export { deadLetter, deadLetterId, deadLetterTopic, DEAD_LETTER_TYPE } from './dead-letter.js';
export { DedupWindow } from './dedup.js';
export { LocalRouter } from './local-router.js';
export { isNodeWritten } from './reserved-topics.js';
