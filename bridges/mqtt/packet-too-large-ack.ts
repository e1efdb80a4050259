/**
 * mosquitto's PUBACK 0x95 Packet too large, made readable to MQTT.js.
 *
 * mosquitto drops a PUBLISH whose payload is over its `message_size_limit`
 * and answers a QoS 1 one with a PUBACK: reason 0x95 for MQTT 5, a plain
 * PUBACK (success) for 3.1.1. The limit is not announced: CONNACK carries
 * Maximum Packet Size only for `max_packet_size` (checked before sending,
 * packet-size.ts), so only the PUBACK tells.
 *
 * 0x95 is not among the PUBACK reasons of MQTT 5 (§3.4.2.1), and the
 * parser MQTT.js uses (mqtt-packet) checks every PUBACK/PUBREC reason
 * against its table of them. On 0x95 it emits 'error' ("Invalid puback
 * reason code", no code, no packet id) and the publish callback is never
 * called: the export would sit in flight until the connection dropped.
 * Worse, the parser then throws away the rest of what it had read, so
 * PUBACKs the broker sent right after it (the next export's) are lost
 * too, and the next read is parsed from wherever it starts, possibly the
 * middle of a packet.
 *
 * Adding 0x95 to that table puts the PUBACK on MQTT.js's ordinary ack
 * path: the packet id is freed, and the callback of the very publish it
 * answers gets an `ErrorWithReasonCode` 0x95 (MQTT.js already names it
 * "Packet too large"), which reason-codes.ts refuses as
 * MG_ERR_EVENT_TOO_LARGE. Nothing else changes: the table only gates
 * which codes parse, and 0x95 is what mosquitto really sends.
 *
 * The table is module state of mqtt-packet, shared by every MQTT.js client
 * in the process (the test clients too); it is looked up from MQTT.js's
 * own location so it is the copy MQTT.js's parser reads. Should a later
 * MQTT.js carry its parser elsewhere, this reports false and mqtt-client.ts
 * falls back to ending a connection whose parser failed (its in-flight
 * exports are failed back and sent again after the reconnect).
 */
import { createRequire } from 'node:module';

/** MQTT 5 reason code 0x95 Packet too large (§2.4). */
export const PACKET_TOO_LARGE = 0x95;

let accepted: boolean | undefined;

/**
 * Makes MQTT.js's parser take a PUBACK (and PUBREC) with reason 0x95;
 * idempotent. False when the parser's table was not found where expected.
 * @example
 * if (!acceptPacketTooLargeAcks()) log('PUBACK 0x95 will cost a reconnect');
 */
export function acceptPacketTooLargeAcks(): boolean {
  if (accepted !== undefined) return accepted;
  try {
    const fromMqtt = createRequire(createRequire(import.meta.url).resolve('mqtt'));
    const constants = fromMqtt('mqtt-packet/constants.js') as { MQTT5_PUBACK_PUBREC_CODES?: Record<number, string> };
    const codes = constants.MQTT5_PUBACK_PUBREC_CODES;
    if (codes === undefined || typeof codes !== 'object') return (accepted = false);
    codes[PACKET_TOO_LARGE] ??= 'Packet too large';
    return (accepted = true);
  } catch {
    return (accepted = false);
  }
}
