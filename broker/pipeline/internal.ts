/**
 * For test/ and bench/ only: broker/pipeline/'s public surface plus the internals its tests exercise.
 */

export { DEAD_LETTER_TYPE, deadLetter, deadLetterId, deadLetterTopic } from './dead-letter.js';
export { DedupWindow } from './dedup.js';
export { LocalRouter } from './local-router.js';
export * from './mod.js';
export { isNodeWritten } from './reserved-topics.js';
