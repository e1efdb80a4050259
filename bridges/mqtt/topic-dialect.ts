import { meshFilterToMqtt, meshTopicToMqtt, mqttFilterToMesh, mqttTopicToMesh } from '../../routing/mod.js';
import type { TopicDialect } from '../core/mod.js';

/** MQTT topics as routing/mqtt-topic.ts translates them (`/` levels, `+`, `#`). */
export const MQTT_DIALECT: TopicDialect = Object.freeze({
  topicToMesh: mqttTopicToMesh,
  topicFromMesh: meshTopicToMqtt,
  filterToMesh: mqttFilterToMesh,
  filterFromMesh: meshFilterToMqtt,
  everything: '#',
  separator: '/',
});
