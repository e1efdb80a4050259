/**
 * For test/ and bench/ only: routing/'s public surface plus the internals its tests exercise.
 */

export { AMQP_WORDS } from './amqp-topic.js';
export * from './mod.js';
export { MQTT_LEVELS } from './mqtt-topic.js';
export { decodeToken, encodeToken, MESH_TOKENS, utf8Length } from './token-escape.js';
export { NO_TOPIC_LIMITS } from './topic.js';
