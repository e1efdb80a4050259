/**
 * The size of a QoS 1 PUBLISH packet as it goes on the wire (MQTT 5
 * §3.3, 3.1.1 §3.3), without encoding it. A broker that sets Maximum
 * Packet Size in its CONNACK must not be sent a larger packet
 * [MQTT-3.2.2-15]; one that is gets the client disconnected (mosquitto
 * `max_packet_size`), and MQTT.js does not check. The bridge checks, and
 * refuses such an event instead of losing the connection over it on
 * every resend.
 *
 * ```
 *   fixed header   1 byte + Remaining Length (variable byte integer, 1-4 bytes)
 *   topic          2-byte length + UTF-8 bytes
 *   packet id      2 bytes (QoS > 0)
 *   properties     MQTT 5: Property Length (variable byte integer) + each property:
 *                    0x03 Content Type   1 + 2 + UTF-8 bytes
 *                    0x26 User Property  1 + 2 + name bytes + 2 + value bytes, once per value
 *   payload        the rest
 * ```
 */

/** The PUBLISH properties the CloudEvents binding sets (bridges/mqtt/binding.ts); nothing else is counted. */
export interface PublishSizeProperties {
  readonly contentType?: string;
  readonly userProperties?: Readonly<Record<string, string | readonly string[]>>;
}

/** Bytes of a variable byte integer (§1.5.5). */
function varIntBytes(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x20_0000 ? 3 : 4;
}

function utf8Bytes(s: string): number {
  return 2 + Buffer.byteLength(s, 'utf8');
}

/**
 * Bytes of a QoS 1 PUBLISH packet, fixed header included.
 * @example
 * publishPacketBytes('a/b', Buffer.from('hi'), { contentType: 'text/plain' }, 5); // 25
 */
export function publishPacketBytes(topic: string, payload: Uint8Array, properties: PublishSizeProperties | undefined, protocolVersion: 4 | 5): number {
  let remaining = utf8Bytes(topic) + 2 + payload.byteLength;
  if (protocolVersion === 5) {
    let props = 0;
    if (properties?.contentType !== undefined) props += 1 + utf8Bytes(properties.contentType);
    const user = properties?.userProperties;
    if (user !== undefined) {
      for (const name in user) {
        const value = user[name];
        const nameBytes = 1 + utf8Bytes(name);
        if (typeof value === 'string') props += nameBytes + utf8Bytes(value);
        else for (const v of value) props += nameBytes + utf8Bytes(v);
      }
    }
    remaining += varIntBytes(props) + props;
  }
  return 1 + varIntBytes(remaining) + remaining;
}
