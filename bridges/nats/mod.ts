/**
 * bridges/nats/: nats-server. The client (`nats`), the CloudEvents NATS
 * binding (ce- headers) and the subject dialect. Imports bridges/core/ and
 * below; never another bridge.
 */
export { NatsBrokerClient } from './nats-client.js';
export { NATS_DIALECT } from './topic-dialect.js';
