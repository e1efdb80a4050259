/**
 * bridges/amqp/: RabbitMQ and other AMQP 0-9-1 brokers. The client
 * (amqplib for imports, publish frames encoded by hand for exports), the
 * CloudEvents AMQP binding (cloudEvents_* headers) and the topic-exchange
 * dialect. Imports bridges/core/ and below; never another bridge.
 */
export { AmqpBrokerClient } from './amqp-client.js';
export { AMQP_DIALECT } from './topic-dialect.js';
