/**
 * `maxExportBytes`: the operator's word for how large an export the broker
 * takes, for brokers that enforce a size limit without announcing it.
 *
 * Limits a broker announces are checked by each client against what that
 * limit counts (MQTT 5 CONNACK Maximum Packet Size: mqtt/packet-size.ts;
 * NATS INFO max_payload: nats.js). Limits it keeps to itself show only in
 * how it refuses: RabbitMQ `max_message_size` closes the publish channel
 * (amqp/publish-refusal.ts), mosquitto `message_size_limit` answers MQTT 5
 * with PUBACK 0x95 (mqtt/packet-too-large-ack.ts) but MQTT 3.1.1 with a
 * plain PUBACK, after dropping the message: the bridge would count it
 * exported, and nobody would ever hear of it. Set to the broker's limit,
 * this check refuses such an export before it is sent, counted and named
 * like any other refusal.
 *
 * What it measures: the payload the client is about to send, as encoded
 * for the binding and content mode (structured: the JSON event format;
 * binary: the data bytes), and nothing else:
 *
 * ```
 *   MQTT   PUBLISH payload; not topic, properties or header  = mosquitto message_size_limit
 *   AMQP   message body; not properties or headers           = RabbitMQ max_message_size
 *   NATS   message payload; not headers                      < max_payload, which counts headers + payload
 * ```
 *
 * So for MQTT and AMQP the option takes the broker's own number; for NATS
 * it is a payload cap of the operator's own (the server's limit is already
 * checked, headers included).
 *
 * One check for all three clients: each calls it with the payload it has
 * just encoded, before anything goes on the wire, and hands a refusal to
 * `done` like the protocol's own. The core counts it (refused{code},
 * lastRefusal) and never sends the event again.
 */
import { MeshError } from '../../broker/mod.js';
import type { BridgeSpec } from './config.js';

/**
 * The refusal for an export whose encoded payload is over the bridge's
 * `maxExportBytes`, or null when it fits or no limit is set. Equal to the
 * limit fits: brokers refuse only what is larger.
 * @example
 * const tooLarge = exportSizeRefusal(ctx.spec, payload.byteLength);
 * if (tooLarge !== null) return done(tooLarge);
 */
export function exportSizeRefusal(spec: Pick<BridgeSpec, 'maxExportBytes'>, payloadBytes: number): MeshError | null {
  const max = spec.maxExportBytes;
  if (max === undefined || payloadBytes <= max) return null;
  return new MeshError('MG_ERR_EVENT_TOO_LARGE', `the encoded payload is ${payloadBytes} bytes, over the bridge's maxExportBytes (${max} bytes)`);
}
