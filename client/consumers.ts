/**
 * The client's durable consumers (docs/protocol.md, "Durable consumers"):
 * each `consume()` binds this connection to a named consumer of a stream
 * (the node creates it when absent) and hands its deliveries to one
 * handler as ConsumerMessages with ack() and nak(). After a reconnect the
 * table binds again (`consume` before any other request is re-sent); the
 * node continues from the consumer's ack floor and delivers again what was
 * in flight on the old connection (`redelivered: true`).
 *
 * An ack or nak is tied to the connection its message came on: the node
 * hands that connection's deliveries to others when it closes, so an ack
 * that could not reach the node before the close is not sent later; it
 * rejects with MG_ERR_CLIENT_DISCONNECTED and the message comes again.
 */
import { MeshgateError } from './errors.js';
import { type MeshEvent, toMeshEvent } from './event.js';
import type { Frame } from './transport.js';

/** Where a new consumer starts (only when the node creates it): an offset starts AT that offset, a Date or RFC 3339 string at the first entry appended at or after it. */
export type ConsumerStart = 'first' | 'new' | number | string | Date;

export interface ConsumeOptions {
  /** A filter within the stream's filters. @default every entry */
  readonly filter?: string;
  /** @default 30_000 (the node's default) */
  readonly ackWaitMs?: number;
  /** @default 1000 (the node's default) */
  readonly maxInFlight?: number;
  /** Used only when the consumer is created. @default 'first' */
  readonly start?: ConsumerStart;
}

/** One delivery of a durable consumer. */
export interface ConsumerMessage {
  readonly event: MeshEvent;
  readonly stream: string;
  readonly consumer: string;
  readonly offset: number;
  /** 1 for the first delivery of this offset, more for redeliveries. */
  readonly delivery: number;
  readonly redelivered: boolean;
  /** Done: resolves once the node has stored the new ack floor. */
  ack(): Promise<void>;
  /** Deliver again after `delayMs` (0: at once). */
  nak(delayMs?: number): Promise<void>;
}

export type ConsumerHandler = (message: ConsumerMessage) => void;

/** A handle on one `consume()`. */
export interface ConsumerHandle {
  readonly stream: string;
  readonly consumer: string;
  readonly epoch: string;
  /** The consumer's ack floor when bound (every offset at or below it was acked). */
  readonly ackFloor: number;
  /** Stops handling deliveries (the node's binding ends with the connection). */
  stop(): void;
}

interface ConsumerEntry {
  readonly stream: string;
  readonly consumer: string;
  readonly frame: Frame;
  readonly handler: ConsumerHandler;
  active: boolean;
}

/** Sends a request; `once`: not re-sent on a later connection (rejects with MG_ERR_CLIENT_DISCONNECTED). */
export type ConsumerRequest = (frame: Frame, once?: boolean) => Promise<Frame>;

const key = (stream: string, consumer: string) => `${stream}\u0000${consumer}`;

export class ConsumerTable {
  readonly #entries = new Map<string, ConsumerEntry>();
  readonly #request: ConsumerRequest;
  readonly #onHandlerError: (err: unknown) => void;
  /** Bumped per connection: a message's ack goes only on the connection that delivered it. */
  #generation = 0;

  constructor(request: ConsumerRequest, onHandlerError: (err: unknown) => void) {
    this.#request = request;
    this.#onHandlerError = onHandlerError;
  }

  async add(stream: string, consumer: string, options: ConsumeOptions, handler: ConsumerHandler): Promise<ConsumerHandle> {
    const k = key(stream, consumer);
    if (this.#entries.has(k))
      throw new MeshgateError('MG_ERR_CLIENT_OPTIONS', `consumer '${consumer}' of stream '${stream}' is consumed already by this client`);
    const frame: Frame = { op: 'consume', stream, consumer };
    if (options.filter !== undefined) frame.filter = options.filter;
    if (options.ackWaitMs !== undefined) frame.ackWaitMs = options.ackWaitMs;
    if (options.maxInFlight !== undefined) frame.maxInFlight = options.maxInFlight;
    if (options.start !== undefined) frame.start = options.start instanceof Date ? options.start.toISOString() : options.start;
    const entry: ConsumerEntry = { stream, consumer, frame, handler, active: false };
    // Registered before the request: deliveries may follow the ok in the same frame batch.
    this.#entries.set(k, entry);
    let reply: Frame;
    try {
      reply = await this.#request(frame);
    } catch (err) {
      if (this.#entries.get(k) === entry) this.#entries.delete(k);
      throw err;
    }
    entry.active = true;
    return {
      stream,
      consumer,
      epoch: String(reply.epoch),
      ackFloor: Number(reply.ackFloor),
      stop: () => {
        if (this.#entries.get(k) === entry) this.#entries.delete(k);
      },
    };
  }

  /** A new connection: later acks belong to it. Binds every consumer again (before other re-sent requests). */
  restore(onError: (err: MeshgateError) => void): void {
    this.#generation++;
    for (const entry of this.#entries.values()) {
      if (!entry.active) continue;
      void this.#request(entry.frame).catch((err: MeshgateError) => {
        if (err.code === 'MG_ERR_CLIENT_CLOSED' || err.code === 'MG_ERR_CLIENT_TIMEOUT') return;
        this.#entries.delete(key(entry.stream, entry.consumer));
        onError(new MeshgateError(err.code, `binding consumer '${entry.consumer}' of '${entry.stream}' again: ${err.message}`, { cause: err }));
      });
    }
  }

  /** An `events` item with `consumer`: to its handler. */
  dispatch(item: Record<string, unknown>): void {
    const stream = String(item.stream);
    const consumer = String(item.consumer);
    const entry = this.#entries.get(key(stream, consumer));
    if (entry === undefined) return; // stopped: the node redelivers after ackWait to whoever binds next
    const offset = Number(item.offset);
    const generation = this.#generation;
    const send = (frame: Frame): Promise<void> => {
      if (generation !== this.#generation)
        return Promise.reject(
          new MeshgateError('MG_ERR_CLIENT_DISCONNECTED', `offset ${offset} was delivered on an earlier connection; it is delivered again on this one`),
        );
      return this.#request(frame, true).then(() => undefined);
    };
    const delivery = Number(item.delivery ?? 1);
    const message: ConsumerMessage = {
      event: toMeshEvent(String(item.topic), item.event as Record<string, unknown>, stream, offset),
      stream,
      consumer,
      offset,
      delivery,
      redelivered: item.redelivered === true || delivery > 1,
      ack: () => send({ op: 'ack', stream, consumer, offsets: [offset] }),
      nak: (delayMs = 0) => send({ op: 'nak', stream, consumer, offset, delay: delayMs }),
    };
    try {
      entry.handler(message);
    } catch (err) {
      this.#onHandlerError(err);
    }
  }
}
