import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import type { MeshEvent } from '../../broker/mod.js';
import type { BridgeContext, BrokerClient } from '../core/mod.js';
import { exportSizeRefusal, retryableRefusal } from '../core/mod.js';
import { decodeAmqp, encodeAmqp } from './binding.js';
import { PublishChannel } from './publish-channel.js';

/** How long a connect attempt may take, ms. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Most exports awaiting a publisher confirm; more wait in the client. */
const CONFIRM_WINDOW = 1000;
/** The bridge's queue disappears this long after its last consumer, ms (RabbitMQ x-expires). */
const QUEUE_EXPIRES_MS = 3_600_000;

/**
 * AMQP 0-9-1 through amqplib. The bridge consumes one durable queue
 * (`queue`), bound to the topic exchange with one binding per upstream
 * filter: interest-driven import binds and unbinds. Messages wait in the
 * queue while the bridge is away.
 *
 * No loss: manual acks, each sent after node.ingest returned, and for an
 * event that went into a local stream only once its commit is durable
 * (acks go by delivery tag, multiple=false, so a later tag may be acked
 * first). At most `prefetch` deliveries are unacked, so at most that
 * many imports wait for durability. A refusal that may pass
 * (retryableRefusal: a full stream store, a failed write) is nacked with
 * requeue after a pause of backoffMinMs (RabbitMQ redelivers at once; the
 * pause keeps a lasting refusal from spinning); other refused messages
 * are nacked without requeue, so a dead-letter exchange on the queue
 * catches them. Exports go through a confirm channel and count as
 * exported on the broker's confirm; unconfirmed ones are retried after a
 * reconnect (a retry may duplicate: same CloudEvent id, the mesh dedups).
 *
 * Refusals on export: a body over the bridge's maxExportBytes is refused
 * before it is sent (core/export-size.ts), so an operator who knows
 * RabbitMQ's max_message_size spares the channel close below. A publish
 * RabbitMQ refuses for good by closing the
 * channel (topic or exchange permission, max_message_size) fails with a
 * MeshError (publish-refusal.ts): counted and not sent again. The close
 * is the channel's only: exports go on through a fresh confirm channel on
 * the same connection (publish-channel.ts), so imports and the bridge's
 * state are untouched. The other unconfirmed messages of the closed
 * channel fail with a plain error (the core sends them again after a
 * pause); exports waiting for room in the confirm window wait for the
 * fresh channel. Any other close of either channel, or a fresh channel
 * that cannot be opened, fails the connection: reconnect with backoff.
 * A basic.nack (a queue with x-overflow reject-publish at its limit, a
 * queue process failing) may pass: a plain error, so the core sends the
 * message again after a backoff pause.
 */
export class AmqpBrokerClient implements BrokerClient {
  readonly holdsWhileDown = true;
  readonly messagingSystem = 'rabbitmq';
  readonly #ctx: BridgeContext;
  #model: ChannelModel | null = null;
  #consume: Channel | null = null;
  /** The channel exports go through; after a refusal closed it (not `open`), exports wait for its replacement. */
  #publish: PublishChannel | null = null;
  #closing = false;
  #inFlight = 0;
  /** Exports waiting for room in the confirm window, from #head on (a queue without shift()). */
  #waiting: Array<[string, MeshEvent, (err?: Error) => void]> = [];
  #head = 0;

  constructor(ctx: BridgeContext) {
    this.#ctx = ctx;
  }

  async connect(lost: (err: Error) => void): Promise<void> {
    const spec = this.#ctx.spec;
    const credentials = spec.username !== undefined ? amqp.credentials.plain(spec.username, spec.password ?? '') : undefined;
    const model = await amqp.connect(spec.url, { timeout: CONNECT_TIMEOUT_MS, credentials, clientProperties: { connection_name: `meshgate ${spec.name}` } });
    let down = false;
    const fail = (err: Error) => {
      if (down) return;
      down = true;
      if (this.#model === model) this.#model = this.#consume = this.#publish = null;
      model.close().catch(() => undefined);
      if (!this.#closing) lost(err);
      // Exports that were waiting for a fresh publish channel fail back to the core, which holds them for the reconnect.
      this.#release();
    };
    model.on('error', () => undefined); // followed by 'close'
    model.on('close', (err?: Error) => fail(err ?? new Error('connection closed')));
    /** This connection's current publish channel; the one a refusal closed stays current until its replacement is open. */
    let current: PublishChannel | null = null;
    const ended = (ch: PublishChannel, replaceable: boolean) => {
      if (down || ch !== current) return;
      // Replaced only once the connection is up: a close while connecting starts over on a fresh connection.
      if (!replaceable || this.#publish !== ch) return fail(new Error(ch.reason === '' ? 'publish channel closed' : ch.reason));
      this.#ctx.log(`bridge ${spec.name}: RabbitMQ closed the publish channel (${ch.reason}); exports go on through a fresh channel`);
      PublishChannel.open(model, ended).then(
        (next) => {
          if (down || this.#publish !== ch) return; // the connection went meanwhile, and the new channel with it
          current = this.#publish = next;
          this.#release();
        },
        (err: Error) => fail(new Error(`publish channel closed and could not be opened again: ${err.message}`, { cause: err })),
      );
    };
    try {
      const consume = await model.createChannel();
      current = await PublishChannel.open(model, ended);
      // A channel error (e.g. a refused bind) closes the channel: start over on a fresh connection.
      consume.on('error', () => undefined);
      consume.on('close', () => fail(new Error('channel closed')));
      if (spec.exchange !== 'amq.topic') await consume.assertExchange(spec.exchange, 'topic', { durable: true });
      await consume.assertQueue(spec.queue, { durable: true, arguments: { 'x-expires': QUEUE_EXPIRES_MS } });
      await consume.prefetch(spec.prefetch);
      await consume.consume(spec.queue, (msg) => msg !== null && this.#receive(consume, msg), { noAck: false });
      if (down) throw new Error('connection lost while setting up');
      this.#model = model;
      this.#consume = consume;
      this.#publish = current;
    } catch (err) {
      down = true;
      await model.close().catch(() => undefined);
      throw err;
    }
  }

  #receive(ch: Channel, msg: ConsumeMessage): void {
    const props = msg.properties;
    const contentType = typeof props.contentType === 'string' ? props.contentType : undefined;
    const messageId = typeof props.messageId === 'string' ? props.messageId : undefined;
    const body = msg.content; // amqplib allocates a fresh Buffer per message: owned by the event
    const outcome = this.#ctx.importMessage(
      { brokerTopic: msg.fields.routingKey, payload: body, contentType, stableKey: messageId === undefined ? undefined : `message-id:${messageId}` },
      (meshTopic) => decodeAmqp(body, contentType, props.headers, meshTopic),
    );
    if (!outcome.ok) this.#refuse(ch, msg, outcome.code);
    else if (outcome.durable === undefined) this.#settle(ch, msg, true, false);
    else void outcome.durable.then((refusal) => (refusal === null ? this.#settle(ch, msg, true, false) : this.#refuse(ch, msg, refusal.code)));
  }

  #refuse(ch: Channel, msg: ConsumeMessage, code: string): void {
    if (!retryableRefusal(code)) return this.#settle(ch, msg, false, false);
    setTimeout(() => this.#settle(ch, msg, false, true), this.#ctx.spec.backoffMinMs).unref();
  }

  #settle(ch: Channel, msg: ConsumeMessage, ack: boolean, requeue: boolean): void {
    try {
      if (ack) ch.ack(msg);
      else ch.nack(msg, false, requeue);
    } catch {
      // The channel is gone: the broker redelivers, the mesh dedups.
    }
  }

  async subscribe(filter: string): Promise<void> {
    const spec = this.#ctx.spec;
    await this.#consume!.bindQueue(spec.queue, spec.exchange, filter);
  }

  async unsubscribe(filter: string): Promise<void> {
    const spec = this.#ctx.spec;
    await this.#consume!.unbindQueue(spec.queue, spec.exchange, filter);
  }

  publish(topic: string, event: MeshEvent, done: (err?: Error) => void): void {
    const ch = this.#publish;
    if (ch === null) return done(new Error('not connected'));
    // Past the confirm window, wait for confirms: flooding RabbitMQ only trips its credit flow and stalls the connection.
    // While a refusal's close is being replaced, wait for the fresh channel.
    if (!ch.open || this.#inFlight >= CONFIRM_WINDOW || this.#head < this.#waiting.length) {
      this.#waiting.push([topic, event, done]);
      return;
    }
    this.#send(topic, event, done);
  }

  #send(topic: string, event: MeshEvent, done: (err?: Error) => void): void {
    const ch = this.#publish;
    if (ch === null) return done(new Error('not connected'));
    const spec = this.#ctx.spec;
    const { body, properties } = encodeAmqp(event, spec.mode);
    // Before the window counts it: a refusal takes no confirm slot.
    const tooLarge = exportSizeRefusal(spec, body.byteLength);
    if (tooLarge !== null) return done(tooLarge);
    this.#inFlight++;
    try {
      const exchange = spec.exchange;
      ch.publisher.publish(exchange, topic, body, properties, (err) => {
        this.#inFlight--;
        // The channel this message went on, not the current one: a close settles its own messages.
        done(err === null ? undefined : ch.failure(err, exchange, topic, body.byteLength));
        this.#release();
      });
    } catch (err) {
      this.#inFlight--;
      done(err as Error);
    }
  }

  /**
   * Sends waiting exports while the window has room; with no connection
   * each fails back to the core, which holds it. While the publish channel
   * is closing they stay: the fresh channel releases them, or the failed
   * connection does.
   */
  #release(): void {
    const ch = this.#publish;
    if (ch !== null && !ch.open) return;
    while (this.#head < this.#waiting.length && (ch === null || this.#inFlight < CONFIRM_WINDOW)) {
      const [topic, event, done] = this.#waiting[this.#head++];
      this.#send(topic, event, done);
    }
    if (this.#head === this.#waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    }
  }

  inFlight(): number {
    return this.#inFlight + this.#waiting.length - this.#head;
  }

  async close(): Promise<void> {
    this.#closing = true;
    const model = this.#model;
    this.#model = this.#consume = this.#publish = null;
    await model?.close().catch(() => undefined);
  }
}
