/**
 * bridges/mqtt/: mosquitto and other MQTT 3.1.1/5 brokers. The client
 * (MQTT.js), the CloudEvents MQTT binding (user properties) and the
 * `/` `+` `#` dialect. Imports bridges/core/ and below; never another bridge.
 */
export { MqttBrokerClient } from './mqtt-client.js';
export { MQTT_DIALECT } from './topic-dialect.js';
