/**
 * The confirm channel the AMQP client publishes exports on, and how it
 * ended. RabbitMQ refuses some publishes for good by closing the channel
 * (publish-refusal.ts). That is a channel-level error: the connection and
 * the consuming channel are fine, so after such a close the client opens
 * a fresh PublishChannel on the same connection rather than reconnecting,
 * and imports never notice.
 *
 * A server channel.close reaches amqplib (lib/channel.js) as one turn:
 *
 * ```
 *   'error'  the close's code and text: classified here (publishRefusal)
 *   'close'  1. ours, prepended: `open` turns false, so the client keeps
 *               exports for the next channel instead of handing them to this one
 *            2. amqplib's: each unconfirmed callback gets "channel closed";
 *               the client asks failure() which of them the close refused
 *            3. ours: ended(replaceable)
 * ```
 *
 * Replaceable only when the close was a classified refusal and refused at
 * least one of this channel's messages. Each fresh channel is then paid
 * for by a message refused for good (never sent again), so a run of
 * closes ends once the refused messages run out and cannot become a
 * loop. Any other end (404 on a deleted exchange, a close amqplib started,
 * the connection going) is not replaceable: the client fails the
 * connection and the core reconnects with backoff.
 */
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { type ConfirmPublisher, confirmPublisher } from './confirm-publisher.js';
import { type PublishRefusal, publishRefusal } from './publish-refusal.js';

/** Called once per channel, when it closed or stopped sending. */
export type PublishChannelEnded = (channel: PublishChannel, replaceable: boolean) => void;

export class PublishChannel {
  /** This channel's own publisher: the batched fast path binds to one channel number and its frame stream. */
  readonly publisher: ConfirmPublisher;
  #open = true;
  #ended = false;
  /** What the server's close refused, if it closed the channel over a publish. */
  #refusal: PublishRefusal | null = null;
  /** Why the server closed the channel (amqplib's message), for the log. */
  #reason = '';
  /** Unconfirmed messages the close refused. */
  #refused = 0;

  /**
   * Opens a confirm channel on `model`.
   * @example
   * const ch = await PublishChannel.open(model, (ch, replaceable) => (replaceable ? reopen() : reconnect()));
   * ch.publisher.publish('amq.topic', 'a.b', body, {}, (err) => done(err === null ? undefined : ch.failure(err, 'amq.topic', 'a.b', body.byteLength)));
   */
  static async open(model: ChannelModel, ended: PublishChannelEnded): Promise<PublishChannel> {
    return new PublishChannel(await model.createConfirmChannel(), ended);
  }

  private constructor(channel: ConfirmChannel, ended: PublishChannelEnded) {
    const end = (replaceable: boolean) => {
      if (this.#ended) return;
      this.#ended = true;
      ended(this, replaceable);
    };
    // Before amqplib's own 'close' listener fails the unconfirmed callbacks: what they release must not come back here.
    channel.prependListener('close', () => (this.#open = false));
    channel.on('error', (err: Error) => {
      this.#refusal = publishRefusal(err);
      this.#reason = err.message;
    });
    channel.on('close', () => end(this.#refusal !== null && this.#refused > 0));
    // A batch found amqplib no longer sending: before 'close', a close amqplib started or the connection closing (not
    // replaceable); after it, already ended.
    this.publisher = confirmPublisher(channel, () => end(false));
  }

  /** False from the moment the channel starts closing: publish on the next one. */
  get open(): boolean {
    return this.#open;
  }

  /** amqplib's message for the server's close (`Channel closed by server: 403 (ACCESS-REFUSED) ...`), or '' when there was none. */
  get reason(): string {
    return this.#reason;
  }

  /**
   * What to report for a message this channel did not confirm (`err`): the
   * close's MeshError when it refused this message for good, else `err`.
   */
  failure(err: Error, exchange: string, routingKey: string, bodyBytes: number): Error {
    const refused = this.#refusal?.refuses(exchange, routingKey, bodyBytes) ?? null;
    if (refused === null) return err;
    this.#refused++;
    return refused;
  }
}
