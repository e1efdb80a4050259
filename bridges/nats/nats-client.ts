import { connect, ErrorCode, type NatsConnection, type NatsError, type Subscription } from 'nats';
import { MeshError, type MeshEvent } from '../../broker/mod.js';
import type { BridgeContext, BrokerClient } from '../core/mod.js';
import { exportSizeRefusal } from '../core/mod.js';
import { decodeNats, encodeNats, scanNatsHeaders } from './binding.js';

/** How long a connect attempt may take, ms. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * What nats.js threw from `publish`, as the core should see it. A message
 * over the server's `max_payload` (INFO; nats.js checks it before writing,
 * since the server would close the connection) can never be sent as it
 * is: a MeshError, refused and counted. Anything else (closed, draining)
 * is the connection's state and passes with it.
 */
function publishRefusal(err: NatsError, nc: NatsConnection, payload: Uint8Array): Error {
  if (err.code !== ErrorCode.MaxPayloadExceeded) return err;
  // nats.js compares headers plus data (the HPUB total) with the limit.
  return new MeshError(
    'MG_ERR_EVENT_TOO_LARGE',
    `${payload.byteLength} bytes of payload plus headers exceed nats-server max_payload (${nc.info?.max_payload ?? '?'} bytes)`,
    { cause: err },
  );
}

/**
 * NATS core through nats.js. Core NATS is at most once: what is published
 * while a subscriber is away is gone. The bridge does not pretend
 * otherwise, it counts:
 *
 * - exports that arrive while the connection is down are counted `lost`
 *   (not buffered: nobody would guarantee them anyway);
 * - exports are confirmed in batches by a flush (PING/PONG: the server
 *   has processed everything before it); those still unconfirmed when the
 *   connection drops are counted `lost` too.
 *
 * A fresh connection per reconnect (library reconnect off, `noEcho` so the
 * bridge never hears its own exports); subscriptions are re-made by the core.
 *
 * Imports have no upstream ack to hold (core NATS, no JetStream here): an
 * import into a local stream is stored when its commit lands, and a
 * refusal of it (MG_ERR_STREAM_FULL) is counted refused; the publisher
 * hears of neither, as with every core NATS subscriber.
 */
export class NatsBrokerClient implements BrokerClient {
  readonly holdsWhileDown = false;
  readonly messagingSystem = 'nats';
  readonly #ctx: BridgeContext;
  #nc: NatsConnection | null = null;
  readonly #subs = new Map<string, Subscription>();
  #closing = false;
  /** Published on this connection since the last flush was sent. */
  #unsent = 0;
  /** Published, flush sent, PONG not yet back. */
  #unconfirmed = 0;
  #flushScheduled = false;
  /** Bumped per connection so a late PONG from an old one confirms nothing. */
  #epoch = 0;

  constructor(ctx: BridgeContext) {
    this.#ctx = ctx;
  }

  async connect(lost: (err: Error) => void): Promise<void> {
    const spec = this.#ctx.spec;
    const nc = await connect({
      servers: spec.url,
      user: spec.username,
      pass: spec.password,
      reconnect: false,
      noEcho: true,
      timeout: CONNECT_TIMEOUT_MS,
      name: `meshgate ${spec.name}`,
    });
    this.#nc = nc;
    this.#subs.clear();
    const epoch = ++this.#epoch;
    void nc.closed().then((err) => {
      if (this.#epoch === epoch) {
        // Whatever the server had not confirmed may or may not have arrived: counted lost, an upper bound.
        const unconfirmed = this.#unsent + this.#unconfirmed;
        this.#unsent = this.#unconfirmed = 0;
        if (unconfirmed > 0) this.#ctx.lost(unconfirmed);
        this.#nc = null;
        this.#epoch++;
      }
      if (!this.#closing) lost(err ?? new Error('connection closed'));
    });
  }

  async subscribe(filter: string): Promise<void> {
    const nc = this.#nc;
    if (nc === null) throw new Error('not connected');
    if (this.#subs.has(filter)) return;
    this.#subs.set(
      filter,
      nc.subscribe(filter, {
        callback: (err, msg) => {
          if (err !== null) return;
          // nats.js hands out views into its read buffer: the event keeps its own copy.
          const payload = Buffer.from(msg.data);
          const h = scanNatsHeaders(msg.headers);
          this.#ctx.importMessage({ brokerTopic: msg.subject, payload, contentType: h.contentType, stableKey: h.msgId }, (meshTopic) =>
            decodeNats(payload, h, meshTopic),
          );
        },
      }),
    );
    // The server has the SUB once a round trip completes: what is published after this resolves reaches us.
    await nc.flush();
  }

  async unsubscribe(filter: string): Promise<void> {
    const sub = this.#subs.get(filter);
    if (sub === undefined) return;
    this.#subs.delete(filter);
    sub.unsubscribe();
    await this.#nc?.flush();
  }

  publish(topic: string, event: MeshEvent, done: (err?: Error) => void): void {
    const nc = this.#nc;
    if (nc === null) return done(new Error('not connected'));
    const { payload, headers } = encodeNats(event, this.#ctx.spec.mode);
    // The payload alone: max_payload (headers included) is nats.js's to check, below.
    const tooLarge = exportSizeRefusal(this.#ctx.spec, payload.byteLength);
    if (tooLarge !== null) return done(tooLarge);
    try {
      nc.publish(topic, payload, { headers });
    } catch (err) {
      return done(publishRefusal(err as NatsError, nc, payload));
    }
    this.#unsent++;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
    done();
  }

  #flush(): void {
    this.#flushScheduled = false;
    const nc = this.#nc;
    const n = this.#unsent;
    if (nc === null || n === 0) return;
    this.#unsent = 0;
    this.#unconfirmed += n;
    const epoch = this.#epoch;
    nc.flush().then(
      () => {
        if (this.#epoch === epoch) this.#unconfirmed -= n;
      },
      () => undefined,
    );
  }

  inFlight(): number {
    return this.#unsent + this.#unconfirmed;
  }

  async close(): Promise<void> {
    this.#closing = true;
    const nc = this.#nc;
    this.#nc = null;
    if (nc !== null) await nc.drain().catch(() => nc.close());
  }
}
