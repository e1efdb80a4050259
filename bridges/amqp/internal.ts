/**
 * For test/ and bench/ only: bridges/amqp/'s public surface plus the internals its tests exercise.
 */

export { decodeAmqp } from './binding.js';
export { confirmPublisher } from './confirm-publisher.js';
export * from './mod.js';
export { PublishChannel } from './publish-channel.js';
export { PublishFrameEncoder, type PublishProperties } from './publish-frames.js';
export { publishRefusal } from './publish-refusal.js';
