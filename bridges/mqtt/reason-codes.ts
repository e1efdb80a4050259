/**
 * MQTT 5 reason codes (§2.4, PUBACK §3.4.2.1) against the mesh's error
 * codes, both ways: the PUBACK the bridge sends for an imported message,
 * and what a PUBACK the broker sends for an export means. MQTT 3.1.1
 * PUBACK carries no reason, so neither applies there.
 */
import { ErrorWithReasonCode, type Packet } from 'mqtt';
import { type ErrorCode, MeshError } from '../../broker/mod.js';
import type { ImportOutcome } from '../core/mod.js';
import { PACKET_TOO_LARGE } from './packet-too-large-ack.js';

/** The PUBACK reason code for an imported message the mesh took (0) or refused (`durable` is the client's to wait for first). */
export function pubackReasonCode(outcome: ImportOutcome): number {
  return outcome.ok ? 0 : refusalReasonCode(outcome.code);
}

/** The PUBACK reason code for an import the mesh refused under `code`: 0x97 Quota exceeded for a full stream store. */
export function refusalReasonCode(code: string): number {
  if (code === 'MG_ERR_STREAM_FULL') return 0x97; // Quota exceeded
  if (code === 'MG_ERR_EVENT_INVALID' || code === 'MG_ERR_EVENT_SCHEMA' || code === 'MG_ERR_EVENT_TOO_LARGE') return 0x99; // Payload format invalid
  if (code.startsWith('MG_ERR_TOPIC')) return 0x90; // Topic Name invalid
  return 0x83; // Implementation specific error
}

/**
 * PUBACK reasons that refuse this one message for good: the same PUBLISH
 * would be refused again.
 *
 * 0x95 Packet too large is no PUBACK reason in MQTT 5, but mosquitto
 * sends it for a payload over its `message_size_limit`, which it does not
 * announce; MQTT.js parses it only once packet-too-large-ack.ts has taught
 * it to. The limit a broker announces, Maximum Packet Size, is checked
 * before sending (packet-size.ts).
 *
 * Not here, so the core holds the export and sends it again after a
 * pause: 0x80 Unspecified error and 0x83 Implementation specific error
 * (nothing says they last), 0x91 Packet Identifier in use (session state;
 * the resend gets another id) and 0x97 Quota exceeded (quotas recover).
 */
const PERMANENT: ReadonlyMap<number, readonly [ErrorCode, string]> = new Map([
  [0x87, ['MG_ERR_AUTH_FORBIDDEN', 'Not authorized']],
  [0x90, ['MG_ERR_TOPIC_INVALID', 'Topic Name invalid']],
  [PACKET_TOO_LARGE, ['MG_ERR_EVENT_TOO_LARGE', 'Packet too large']],
  [0x99, ['MG_ERR_EVENT_INVALID', 'Payload format invalid']],
]);

/**
 * What a failed QoS 1 publish means for the core: a MeshError (refused,
 * counted under its code, never sent again) when the broker's PUBACK
 * reason refuses this message for good, else `err` as MQTT.js gave it.
 * MQTT.js reports a PUBACK reason >= 0x80 as an `ErrorWithReasonCode`
 * whose `code` is the reason; the PUBACK's Reason String, if the broker
 * sent one, is added to the message.
 * @example
 * client.publish(topic, payload, { qos: 1 }, (err, packet) => done(err ? exportRefusal(err, packet) : undefined));
 */
export function exportRefusal(err: Error, puback: Packet | undefined): Error {
  if (!(err instanceof ErrorWithReasonCode)) return err;
  const refusal = PERMANENT.get(err.code);
  if (refusal === undefined) return err;
  const reasonString = (puback as { properties?: { reasonString?: string } } | undefined)?.properties?.reasonString;
  const why = reasonString === undefined ? '' : `: ${reasonString}`;
  return new MeshError(refusal[0], `the broker refused the PUBLISH: PUBACK reason 0x${err.code.toString(16)} ${refusal[1]}${why}`, { cause: err });
}
