import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { MeshEvent } from '../../broker/mod.js';
import type { BridgeType } from './config.js';

/**
 * A message that is not a CloudEvent (a device's plain payload) becomes
 * one, so that it routes, and deduplicates, like any other:
 *
 *   source          `${brokerId}/${topic}`, each topic level (or word) percent-encoded as a URI segment
 *                   e.g. `mqtt://10.0.0.5:1883/sensors/42/temp`
 *   id              hex SHA-256 of `source`, LF, the stable message key (or nothing), LF, the payload bytes
 *   type            `meshgate.${protocol}.message`
 *   datacontenttype the message's content type when it has one; else `application/json` for a
 *                   payload that is UTF-8 JSON, `application/octet-stream` for anything else
 *
 * The stable message key is what the broker hands every subscriber alike:
 * AMQP `message-id`, the NATS `Nats-Msg-Id` header; MQTT has none (packet
 * ids differ per subscriber). So two nodes bridging the same broker (same
 * `brokerId`) give one message the same (source, id) and the mesh delivers
 * it once. The flip side, documented in the README: identical payloads on
 * one MQTT topic within the dedup window collapse into one event.
 */
export function plainEvent(
  protocol: BridgeType,
  brokerId: string,
  brokerTopic: string,
  separator: string,
  meshTopic: string,
  payload: Uint8Array,
  contentType: string | undefined,
  stableKey: string | undefined,
): MeshEvent {
  const source = `${brokerId}/${brokerTopic.split(separator).map(encodeURIComponent).join('/')}`;
  const id = createHash('sha256')
    .update(source)
    .update('\n')
    .update(stableKey ?? '')
    .update('\n')
    .update(payload)
    .digest('hex');
  const datacontenttype = contentType ?? (isJsonBytes(payload) ? 'application/json' : 'application/octet-stream');
  return {
    id,
    source,
    type: `meshgate.${protocol}.message`,
    topic: meshTopic,
    data: payload,
    attrs: { datacontenttype },
    traceparent: undefined,
    tracestate: undefined,
    origin: undefined,
    hlc: undefined,
    hops: [],
  };
}

function isJsonBytes(payload: Uint8Array): boolean {
  if (payload.byteLength === 0 || !isUtf8(payload)) return false;
  try {
    JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/** True when bytes look like a structured-mode JSON CloudEvent: a JSON object naming `specversion`. */
export function looksStructured(payload: Uint8Array): boolean {
  let i = 0;
  while (i < payload.length && (payload[i] === 0x20 || payload[i] === 0x0a || payload[i] === 0x0d || payload[i] === 0x09)) i++;
  if (payload[i] !== 0x7b) return false;
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).includes('"specversion"');
}
