/**
 * Publishes on an amqplib confirm channel, one callback per message when
 * the broker confirms it (basic.ack) or not (basic.nack, channel closed).
 *
 * amqplib encodes and writes each message on its own: an options object,
 * four buffers, a stream write and a socket write per message, which was
 * most of the bridge's CPU per exported event. So, where it can,
 * {@link confirmPublisher} encodes the frames itself ({@link PublishFrameEncoder})
 * and hands amqplib everything published in one turn of the event loop
 * as one chunk. amqplib has no public way to take encoded frames; this
 * reaches five of its internals, checked once per channel (any missing:
 * plain `channel.publish` per message, same messages on the wire):
 *
 * ```
 *   channel.ch                                  the channel number
 *   channel.connection.frameMax                 negotiated frame size (connection.tune)
 *   channel.connection.channels[ch].buffer      the channel's outgoing frame stream; the
 *                                               connection's mux interleaves channels between
 *                                               chunks, never inside one
 *   channel.pushConfirmCallback(cb)             what channel.publish does after writing: the
 *                                               callback for the next delivery tag
 *   channel.sendMessage, connection.sendMessage replaced by a thrower once amqplib stops
 *                                               sending (closing or closed): checked before each
 *                                               chunk, as channel.publish would throw
 * ```
 *
 * Never write after a close: RabbitMQ answers a frame on a channel it has
 * closed with a connection error (504 CHANNEL_ERROR), which would take
 * the consuming channel down too. A batch that finds the channel closing
 * calls `stopped`, then fails its callbacks: the core holds those events
 * and sends them again. (The client fails the connection, unless a
 * publish refusal closed the channel: it has then already opened a fresh
 * one, with a publisher of its own, publish-channel.ts.) A publisher
 * stays bound to its channel's number and frame stream: when amqplib
 * gives the freed number to the next channel, this one still finds its
 * own stream gone and writes nothing.
 *
 * Order: frames and callbacks go out in publish order, so delivery tags
 * and callbacks line up as they do with `channel.publish`.
 */
import type { ConfirmChannel } from 'amqplib';
import { PublishEncodeError, PublishFrameEncoder, type PublishProperties } from './publish-frames.js';

/** Called once per message: null when the broker confirmed it, else why it was not. */
export type ConfirmCallback = (err: Error | null) => void;

export interface ConfirmPublisher {
  /** True when frames are batched per event-loop turn (amqplib internals found); false for plain `channel.publish`. */
  readonly batched: boolean;
  /** Queues one message. Throws (a PublishEncodeError when it can never be encoded); `confirmed` is then never called. */
  publish(exchange: string, routingKey: string, body: Buffer, props: PublishProperties, confirmed: ConfirmCallback): void;
}

/** The amqplib internals used, as they are in amqplib 2.x (lib/channel.js, lib/connection.js). */
interface ChannelInternals {
  ch: number;
  connection: {
    frameMax: number;
    channels: Array<{ buffer: { write(chunk: Buffer): boolean } } | null | undefined>;
    sendMessage: unknown;
  };
  pushConfirmCallback(cb: ConfirmCallback): void;
  sendMessage: unknown;
}

function internals(channel: ConfirmChannel): ChannelInternals | null {
  const c = channel as unknown as Partial<ChannelInternals>;
  const conn = c.connection;
  if (typeof c.ch !== 'number' || typeof c.pushConfirmCallback !== 'function' || typeof c.sendMessage !== 'function' || conn === undefined) return null;
  if (typeof conn.frameMax !== 'number' || conn.frameMax < 4096 || !Array.isArray(conn.channels) || typeof conn.sendMessage !== 'function') return null;
  if (typeof conn.channels[c.ch]?.buffer?.write !== 'function') return null;
  return c as ChannelInternals;
}

/**
 * The fastest publisher this amqplib allows for `channel`. `stopped` runs
 * when a batch finds amqplib no longer sending on the channel (it may run
 * more than once: make it idempotent).
 * @example
 * const pub = confirmPublisher(await model.createConfirmChannel(), () => reconnect());
 * pub.publish('amq.topic', 'a.b', body, { deliveryMode: 2 }, (err) => console.log(err ?? 'confirmed'));
 */
export function confirmPublisher(channel: ConfirmChannel, stopped: () => void = () => undefined): ConfirmPublisher {
  const inner = internals(channel);
  return inner === null ? new PlainPublisher(channel) : new BatchedPublisher(inner, stopped);
}

class PlainPublisher implements ConfirmPublisher {
  readonly batched = false;
  readonly #channel: ConfirmChannel;

  constructor(channel: ConfirmChannel) {
    this.#channel = channel;
  }

  publish(exchange: string, routingKey: string, body: Buffer, props: PublishProperties, confirmed: ConfirmCallback): void {
    try {
      this.#channel.publish(exchange, routingKey, body, props, (err) => confirmed(err ? (err instanceof Error ? err : new Error(String(err))) : null));
    } catch (err) {
      // amqplib refuses a field it cannot encode with TypeError or RangeError; a closed channel is its IllegalOperationError.
      if (err instanceof TypeError || err instanceof RangeError) throw new PublishEncodeError('MG_ERR_EVENT_TOO_LARGE', err.message, { cause: err });
      throw err;
    }
  }
}

class BatchedPublisher implements ConfirmPublisher {
  readonly batched = true;
  readonly #inner: ChannelInternals;
  readonly #stream: { write(chunk: Buffer): boolean };
  /** amqplib's send functions while it is sending; it swaps in throwers when the channel or connection starts closing. */
  readonly #channelSend: unknown;
  readonly #connectionSend: unknown;
  readonly #encoder: PublishFrameEncoder;
  readonly #stopped: () => void;
  /** Callbacks of the messages in the encoder, in publish order. */
  #callbacks: ConfirmCallback[] = [];
  #flushQueued = false;
  readonly #flush = () => this.#write();

  constructor(inner: ChannelInternals, stopped: () => void) {
    this.#inner = inner;
    this.#stopped = stopped;
    this.#stream = inner.connection.channels[inner.ch]!.buffer;
    this.#channelSend = inner.sendMessage;
    this.#connectionSend = inner.connection.sendMessage;
    this.#encoder = new PublishFrameEncoder(inner.ch, inner.connection.frameMax);
  }

  publish(exchange: string, routingKey: string, body: Buffer, props: PublishProperties, confirmed: ConfirmCallback): void {
    this.#encoder.append(exchange, routingKey, body, props);
    this.#callbacks.push(confirmed);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  /** Hands the turn's frames to amqplib as one chunk, or fails them when the channel went away meanwhile. */
  #write(): void {
    this.#flushQueued = false;
    const chunk = this.#encoder.take();
    const callbacks = this.#callbacks;
    this.#callbacks = [];
    if (chunk === null) return;
    if (!this.#open()) {
      this.#stopped();
      const err = new Error('channel closed');
      for (const cb of callbacks) cb(err);
      return;
    }
    for (const cb of callbacks) this.#inner.pushConfirmCallback(cb);
    this.#stream.write(chunk);
  }

  /** Whether amqplib would still send on this channel: not closing, not closed, slot not released (and maybe reused). */
  #open(): boolean {
    const inner = this.#inner;
    return (
      inner.sendMessage === this.#channelSend &&
      inner.connection.sendMessage === this.#connectionSend &&
      inner.connection.channels[inner.ch]?.buffer === this.#stream
    );
  }
}
