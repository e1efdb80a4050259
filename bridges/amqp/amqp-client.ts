import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import type { MeshEvent } from '../../broker/mod.js';
import type { BridgeContext, BrokerClient } from '../core/broker-client.js';
import { decodeAmqp, encodeAmqp } from './binding.js';
import { confirmPublisher, type ConfirmPublisher } from './confirm-publisher.js';
import { publishRefusal, type PublishRefusal } from './publish-refusal.js';

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
 * No loss: manual acks, each sent after node.ingest returned (refused
 * messages are nacked without requeue, so a dead-letter exchange on the
 * queue catches them); exports go through a confirm channel and count as
 * exported on the broker's confirm; unconfirmed ones are retried after a
 * reconnect (a retry may duplicate: same CloudEvent id, the mesh dedups).
 *
 * Refusals on export: a publish RabbitMQ refuses for good by closing the
 * channel (topic or exchange permission, max_message_size) fails with a
 * MeshError (publish-refusal.ts): counted and not sent again; the close
 * still costs one reconnect. A basic.nack (a queue with x-overflow
 * reject-publish at its limit, a queue process failing) may pass: a plain
 * error, so the core sends the message again after a backoff pause.
 */
export class AmqpBrokerClient implements BrokerClient {
  readonly holdsWhileDown = true;
  readonly messagingSystem = 'rabbitmq';
  readonly #ctx: BridgeContext;
  #model: ChannelModel | null = null;
  #consume: Channel | null = null;
  #publish: ConfirmPublisher | null = null;
  /** What the server's close of the current publish channel refused, if it closed it over a publish. */
  #refusal: PublishRefusal | null = null;
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
    };
    model.on('error', () => undefined); // followed by 'close'
    model.on('close', (err?: Error) => fail(err ?? new Error('connection closed')));
    try {
      const consume = await model.createChannel();
      const publish = await model.createConfirmChannel();
      // A channel error (e.g. a refused bind) closes the channel: start over on a fresh connection.
      consume.on('error', () => undefined);
      // Emitted before amqplib fails the unconfirmed messages (its own 'close' listener), so #send can tell them apart.
      publish.on('error', (err: Error) => (this.#refusal = publishRefusal(err)));
      this.#refusal = null;
      for (const ch of [consume, publish]) ch.on('close', () => fail(new Error('channel closed')));
      if (spec.exchange !== 'amq.topic') await consume.assertExchange(spec.exchange, 'topic', { durable: true });
      await consume.assertQueue(spec.queue, { durable: true, arguments: { 'x-expires': QUEUE_EXPIRES_MS } });
      await consume.prefetch(spec.prefetch);
      await consume.consume(spec.queue, (msg) => msg !== null && this.#receive(consume, msg), { noAck: false });
      this.#model = model;
      this.#consume = consume;
      this.#publish = confirmPublisher(publish, () => fail(new Error('publish channel closing')));
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
    try {
      if (outcome.ok) ch.ack(msg);
      else ch.nack(msg, false, false);
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
    if (this.#publish === null) return done(new Error('not connected'));
    // Past the confirm window, wait for confirms: flooding RabbitMQ only trips its credit flow and stalls the connection.
    if (this.#inFlight >= CONFIRM_WINDOW || this.#head < this.#waiting.length) {
      this.#waiting.push([topic, event, done]);
      return;
    }
    this.#send(topic, event, done);
  }

  #send(topic: string, event: MeshEvent, done: (err?: Error) => void): void {
    const ch = this.#publish;
    if (ch === null) return done(new Error('not connected'));
    this.#inFlight++;
    try {
      const { body, properties } = encodeAmqp(event, this.#ctx.spec.mode);
      const exchange = this.#ctx.spec.exchange;
      ch.publish(exchange, topic, body, properties, (err) => {
        this.#inFlight--;
        done(err === null ? undefined : (this.#refusal?.refuses(exchange, topic, body.byteLength) ?? err));
        this.#release();
      });
    } catch (err) {
      this.#inFlight--;
      done(err as Error);
    }
  }

  /** Sends waiting exports while the window has room; on a dead channel each fails back to the core, which holds it. */
  #release(): void {
    while (this.#head < this.#waiting.length && (this.#inFlight < CONFIRM_WINDOW || this.#publish === null)) {
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
