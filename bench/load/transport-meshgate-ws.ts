/**
 * meshgate WebSocket transport for the load generator: the binary
 * meshgate.v1.cbor flavour, one CloudEvent per payload (data = payload,
 * id = the publisher's sequence number as 10 digits). Publishes go out as
 * `pubs` frames assembled from pre-encoded bytes (meshgate-pubs-frame.ts),
 * as a NATS client writes PUB lines: no object built or encoded per event.
 */

import { randomUUID } from 'node:crypto';
import { Encoder } from 'cbor-x';
import WebSocket from 'ws';
import { CBOR_OPTIONS } from '../../broker/event/mod.js';
import { PubsFrameBuilder } from './meshgate-pubs-frame.js';
import type { Transport, TransportFactory } from './transport.js';

const cbor = new Encoder({ ...CBOR_OPTIONS });
/** Client-side send buffer above which publish() waits (the bench must not measure our own queue). */
const HIGH_WATER = 4 * 1024 * 1024;
/** Most events in one `pubs` frame. */
const BATCH = 128;

export const createMeshgateWsTransport: TransportFactory = ({ clientId }) => {
  let socket: WebSocket | undefined;
  let nextRef = 1;
  const pending = new Map<number, (frame: Record<string, unknown>) => void>();
  let onEvent: ((payload: Uint8Array) => void) | undefined;
  // Sequence numbers restart with every run: a fresh source per connection
  // keeps (source, id) unique so the node's dedup never drops bench events.
  const source = `${clientId}-${randomUUID().slice(0, 8)}`;

  const frames = new PubsFrameBuilder(source);
  const sendBatch = () => {
    const frame = frames.take();
    if (frame !== null) socket!.send(frame);
  };

  const request = (frame: Record<string, unknown>): Promise<Record<string, unknown>> => {
    sendBatch(); // keep order: a request must not overtake queued publishes
    const ref = nextRef++;
    return new Promise((resolve) => {
      pending.set(ref, resolve);
      socket!.send(cbor.encode({ ...frame, ref }));
    });
  };

  const t: Transport = {
    async connect(url) {
      const s = new WebSocket(url, 'meshgate.v1.cbor', { perMessageDeflate: false, headers: { 'x-client-id': clientId } });
      s.binaryType = 'nodebuffer';
      socket = s;
      const hello = new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.on('message', (raw: Buffer) => {
          const frame = cbor.decode(raw) as Record<string, unknown>;
          switch (frame.op) {
            case 'events':
              for (const item of frame.events as Array<{ event: { data: Uint8Array } }>) onEvent?.(item.event.data);
              return;
            case 'hello':
              resolve();
              return;
            default: {
              if (frame.op === 'err') process.stderr.write(`meshgate transport ${clientId}: ${String(frame.code)} ${String(frame.message)}\n`);
              const done = typeof frame.ref === 'number' ? pending.get(frame.ref) : undefined;
              if (done) {
                pending.delete(frame.ref as number);
                done(frame);
              }
            }
          }
        });
      });
      await hello;
    },
    publish(topic, payload, seq) {
      const s = socket!;
      // Batched like a NATS client's writes: one `pubs` frame per microtask
      // or per BATCH events. The payload is copied: the caller reuses it.
      if (!frames.fits(frames.itemBytes(topic, payload.byteLength))) sendBatch();
      frames.add(topic, payload, seq);
      if (frames.count >= BATCH) sendBatch();
      else if (frames.count === 1) queueMicrotask(sendBatch);
      if (s.bufferedAmount > HIGH_WATER) {
        return new Promise<void>((resolve) => {
          const wait = () => (s.bufferedAmount > HIGH_WATER / 2 ? setImmediate(wait) : resolve());
          wait();
        });
      }
    },
    async subscribe(filter, onMessage) {
      onEvent = onMessage;
      const reply = await request({ op: 'sub', filter });
      if (reply.op !== 'ok') throw new Error(`subscribe ${filter}: ${String(reply.code)} ${String(reply.message)}`);
    },
    async flush() {
      // A ping is answered after every earlier frame has been handled.
      await request({ op: 'ping' });
    },
    async close() {
      if (socket && socket.readyState === WebSocket.OPEN) {
        const closed = new Promise((r) => socket!.once('close', r));
        socket.close(1000);
        await closed;
      }
    },
  };
  return t;
};
