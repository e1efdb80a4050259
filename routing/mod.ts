/**
 * routing/: topic syntax, subscription trie, filter coverage and
 * intersection, and protocol topic translation. Pure logic: no I/O, no
 * timers, no imports outside this folder.
 */

export { amqpFilterToMesh, amqpTopicToMesh, meshFilterToAmqp, meshTopicToAmqp } from './amqp-topic.js';
export { filterCovers, minimalCover } from './filter-cover.js';
export { intersectFilters } from './filter-intersect.js';
export { InterestTable } from './interest-table.js';
export { meshFilterToMqtt, meshTopicToMqtt, mqttFilterToMesh, mqttTopicToMesh } from './mqtt-topic.js';
export { checkFilter, checkTopic, DEFAULT_TOPIC_LIMITS, filterMatches, type TopicLimits } from './topic.js';
export { TopicError, type TopicProblem, type TopicProblemCode } from './topic-problem.js';
export { TopicTrie, type TopicTrieCacheStats, type TopicTrieOptions } from './topic-trie.js';
