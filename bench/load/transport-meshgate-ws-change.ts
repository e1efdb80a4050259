/**
 * The meshgate WebSocket transport with a schema-valid body: each payload
 * travels as a database change event (schemas/db-change-event.schema.json,
 * op "c") whose `after.h` holds the harness header as 32 hex digits and
 * `after.pad` fills up to the payload size. Same frames, batching and
 * flow control as `meshgate-ws` (it wraps that transport), so a scenario
 * can measure the node's validation cost with and without a schema bound
 * to the topic on identical traffic.
 *
 * ```
 * {"before":null,"after":{"h":"<32 hex: header>","pad":"...."},"op":"c","source":{...},"ts_ms":...}
 * ```
 */
import { HEADER_BYTES } from './protocol.js';
import type { Transport, TransportFactory } from './transport.js';
import { createMeshgateWsTransport } from './transport-meshgate-ws.js';

const HEAD = '{"before":null,"after":{"h":"';
const PAD = '","pad":"';
const TAIL =
  '"},"op":"c","source":{"connector":"postgresql","db":"bench","table":"load","lsn":24023128,"txId":565,"ts_ms":1763800000000},"ts_ms":1763800000123}';
/** Where the header's hex digits start in every body. */
const HEX_AT = Buffer.byteLength(HEAD);

function hexNibble(c: number): number {
  return c <= 0x39 ? c - 0x30 : c - 0x57; // 0-9, a-f (Buffer's hex is lower case)
}

export const createMeshgateWsChangeTransport: TransportFactory = (options) => {
  const inner: Transport = createMeshgateWsTransport(options);
  /** The body's fixed part is the same for every payload of one size: built once. */
  let pad = '';
  let padFor = -1;
  /** The header handed to the harness; valid during its callback only, as the seam allows. */
  const header = new Uint8Array(HEADER_BYTES);
  return {
    connect: (url) => inner.connect(url),
    publish(topic, payload, seq) {
      if (padFor !== payload.byteLength) {
        padFor = payload.byteLength;
        pad = '.'.repeat(Math.max(0, payload.byteLength - HEAD.length - 2 * HEADER_BYTES - PAD.length - TAIL.length));
      }
      const hex = Buffer.from(payload.buffer, payload.byteOffset, HEADER_BYTES).toString('hex');
      return inner.publish(topic, Buffer.from(HEAD + hex + PAD + pad + TAIL), seq);
    },
    subscribe(filter, onMessage) {
      return inner.subscribe(filter, (body) => {
        for (let i = 0; i < HEADER_BYTES; i++) header[i] = (hexNibble(body[HEX_AT + 2 * i]!) << 4) | hexNibble(body[HEX_AT + 2 * i + 1]!);
        onMessage(header);
      });
    },
    flush: () => inner.flush(),
    close: () => inner.close(),
  };
};
