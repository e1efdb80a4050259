/**
 * routing/: topic syntax, subscription trie, filter coverage and
 * intersection, and protocol topic translation. Pure logic: no I/O, no
 * timers, no imports outside this folder.
 */
export { TopicError, type TopicProblem, type TopicProblemCode } from './topic-problem.js';
export { DEFAULT_TOPIC_LIMITS, checkFilter, checkTopic, filterMatches, type TopicLimits } from './topic.js';
export { TopicTrie, type TopicTrieCacheStats, type TopicTrieOptions } from './topic-trie.js';
export { filterCovers, minimalCover } from './filter-cover.js';
export { intersectFilters } from './filter-intersect.js';
export { meshFilterToMqtt, meshTopicToMqtt, mqttFilterToMesh, mqttTopicToMesh } from './mqtt-topic.js';
export { amqpFilterToMesh, amqpTopicToMesh, meshFilterToAmqp, meshTopicToAmqp } from './amqp-topic.js';
export { InterestTable } from './interest-table.js';
