/**
 * A /v1/ws connection as a durable consumer's sink: each delivery becomes
 * a consumer item of the connection's codec, queued with the session's
 * other events. The consumer reads only while the session's unsent bytes
 * are under a quarter of limits.maxBufferedBytes, and uWS's drain wakes
 * it (ws-endpoint.ts), so a slow client holds back its consumer, never
 * the node's memory.
 */
import { type ConsumerDelivery, type ConsumerSink, sinkOn } from '../streams/mod.js';
import type { ClientCodec } from './client-protocol.js';
import type { WsSession } from './ws-session.js';

export function sessionConsumerSink(session: WsSession, codec: ClientCodec): ConsumerSink {
  const parts = {
    deliver(d: ConsumerDelivery): number {
      const item = codec.consumerItem(d.event, d.stream, d.consumer, d.offset, d.deliveryCount);
      session.deliver(item, d.event);
      return item.byteLength;
    },
  };
  return sinkOn(session, parts);
}
