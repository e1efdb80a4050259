import { amqpFilterToMesh, amqpTopicToMesh, meshFilterToAmqp, meshTopicToAmqp } from '../../routing/mod.js';
import type { TopicDialect } from '../core/mod.js';

/** AMQP 0-9-1 topic exchange routing and binding keys as routing/amqp-topic.ts translates them. */
export const AMQP_DIALECT: TopicDialect = Object.freeze({
  topicToMesh: amqpTopicToMesh,
  topicFromMesh: meshTopicToAmqp,
  filterToMesh: amqpFilterToMesh,
  filterFromMesh: meshFilterToAmqp,
  everything: '#',
  separator: '.',
});
