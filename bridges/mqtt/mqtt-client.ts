import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { MeshError, type MeshEvent } from '../../broker/mod.js';
import type { BridgeContext, BrokerClient, ImportOutcome } from '../core/mod.js';
import { exportSizeRefusal, retryableRefusal } from '../core/mod.js';
import { decodeMqtt, encodeMqtt } from './binding.js';
import { publishPacketBytes } from './packet-size.js';
import { acceptPacketTooLargeAcks } from './packet-too-large-ack.js';
import { exportRefusal, pubackReasonCode, refusalReasonCode } from './reason-codes.js';

/** How long a connect attempt may take, ms. */
const CONNECT_TIMEOUT_MS = 10_000;
/** MQTT 5 session expiry: queued QoS 1 messages survive a bridge outage this long, s. */
const SESSION_EXPIRY_S = 3600;
/** QoS 1 deliveries the broker may have unacknowledged towards the bridge (MQTT 5). */
const RECEIVE_MAXIMUM = 1000;

/**
 * MQTT 5 / 3.1.1 through MQTT.js, with a persistent session: a fixed
 * client id, a fresh session when an MQTT 5 bridge first connects (3.1.1:
 * the session is always resumed), so QoS 1 messages the broker queued
 * while the bridge was away arrive after a reconnect. Every connection
 * that carries traffic resumes the session (Clean Start 0): mosquitto
 * writes a session to its persistence file only while its client's last
 * CONNECT had Clean Start 0, so the fresh session is begun on a short
 * connection of its own (`#startFreshSession`). Library reconnect is off:
 * the core owns backoff, and each connection is a fresh MQTT.js client
 * resuming the same session.
 *
 * No loss on import: a QoS 1 PUBLISH is acknowledged after
 * `importMessage` (node.ingest) returned, and when the event went into a
 * local stream, only once its commit is durable: MQTT 5 in
 * `customHandleAcks`, with a PUBACK reason code for refusals (0x97 Quota
 * exceeded for MG_ERR_STREAM_FULL); MQTT 3.1.1 in `handleMessage`, the
 * hook MQTT.js calls after the 'message' handler and before it writes the
 * PUBACK (it honours customHandleAcks for MQTT 5 only). A 3.1.1 PUBACK
 * has no reason code: a refusal that may pass (retryableRefusal: a full
 * store, a failed write) gets none, and the connection is ended, so the
 * broker delivers the message again on the resumed session after the
 * reconnect backoff; other refusals are acknowledged (dropped, counted).
 *
 * MQTT.js handles a connection's packets one at a time and takes the next
 * only once the PUBACK is written, so at most one import per connection
 * waits for durability (tighter than Receive Maximum); imports into
 * streams go at one commit per message, others are not slowed.
 *
 * No loss on export: QoS 1; a publish not PUBACKed when its connection
 * drops is failed back to the core, which holds it and sends it again on
 * the next connection (a possible duplicate with the same CloudEvents id).
 * MQTT.js's own resend-from-store is not used: across a reconnect it can
 * skip stored packets whose ids collide with new ones.
 *
 * Refusals on export are MeshErrors, so the core counts them and never
 * sends them again: a PUBACK reason that refuses the message for good
 * (reason-codes.ts; 0x95 over mosquitto's `message_size_limit` once
 * packet-too-large-ack.ts lets MQTT.js parse it), an event whose
 * PUBLISH would exceed the broker's Maximum Packet Size (packet-size.ts),
 * and one whose payload is over the bridge's maxExportBytes
 * (core/export-size.ts): under 3.1.1 the only way to hear of
 * `message_size_limit`, since mosquitto acknowledges what it drops.
 *
 * A connection MQTT.js reports an error on while up is ended: see the
 * 'error' handler in `connect`.
 */
export class MqttBrokerClient implements BrokerClient {
  readonly holdsWhileDown = true;
  readonly messagingSystem = 'mqtt';
  readonly #ctx: BridgeContext;
  #client: MqttClient | null = null;
  /** An MQTT 5 bridge's fresh session is begun (once per client, see #startFreshSession). */
  #sessionStarted = false;
  /** Exports of the current connection awaiting PUBACK. */
  #inFlight = new Set<(err?: Error) => void>();
  /** Maximum Packet Size from the current connection's CONNACK (MQTT 5), bytes; undefined when the broker set none. */
  #maxPacketBytes: number | undefined;

  constructor(ctx: BridgeContext) {
    this.#ctx = ctx;
    if (!acceptPacketTooLargeAcks()) {
      ctx.log(
        `bridge ${ctx.spec.name}: this MQTT.js cannot be taught PUBACK reason 0x95; an export over mosquitto's message_size_limit will cost a reconnect per attempt instead of being refused`,
      );
    }
  }

  async connect(lost: (err: Error) => void): Promise<void> {
    this.#client?.end(true);
    if (this.#ctx.spec.protocolVersion === 5 && !this.#sessionStarted) await this.#startFreshSession();
    return this.#open(lost);
  }

  /** MQTT.js options every connection of this bridge shares. */
  #baseOptions(): IClientOptions {
    const spec = this.#ctx.spec;
    return {
      protocolVersion: spec.protocolVersion,
      clientId: spec.clientId,
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      resubscribe: false,
      queueQoSZero: false,
      username: spec.username,
      password: spec.password,
      // Receive Maximum [MQTT-3.1.2-31]: let the broker keep more QoS 1 deliveries in flight than its default 20.
      properties: spec.protocolVersion === 5 ? { sessionExpiryInterval: SESSION_EXPIRY_S, receiveMaximum: RECEIVE_MAXIMUM } : undefined,
    };
  }

  /**
   * Begins an MQTT 5 bridge's session afresh [MQTT-3.1.2-4]: Clean Start 1 on a connection that carries nothing
   * and ends at once with a normal DISCONNECT, which leaves the empty session to its Session Expiry Interval
   * [MQTT-3.1.2-23]. The connection that subscribes then resumes it with Clean Start 0. Were the fresh session's own
   * connection kept, mosquitto (2.0, persist_write.c: only clients with clean_start false are saved) would not write
   * the session to its persistence file: a broker restart during the bridge's first connection would forget its
   * subscriptions, and whatever publishers sent before the bridge was back and had subscribed again would be lost.
   */
  async #startFreshSession(): Promise<void> {
    const spec = this.#ctx.spec;
    // Held in #client so that close() ends it too.
    const client = (this.#client = mqtt.connect(spec.url, { ...this.#baseOptions(), clean: true }));
    let lastError: Error | null = null;
    client.on('error', (err) => {
      lastError = err;
    });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('close', () => reject(lastError ?? new Error(`cannot connect to ${spec.displayUrl}`)));
        // close() took the client away (it removes 'close' listeners first): the attempt is over.
        client.once('end', () => reject(new Error('bridge closed')));
      });
      await client.endAsync();
    } finally {
      client.removeAllListeners();
      client.end(true);
      if (this.#client === client) this.#client = null;
    }
    this.#sessionStarted = true;
  }

  #open(lost: (err: Error) => void): Promise<void> {
    const spec = this.#ctx.spec;
    const options: IClientOptions = {
      ...this.#baseOptions(),
      // [MQTT-3.1.2-4] resume the session (begun afresh by #startFreshSession under MQTT 5).
      clean: false,
      customHandleAcks: (topic, message, packet, done) => {
        const outcome = this.#receive(topic, message, packet);
        if (!outcome.ok || outcome.durable === undefined) return done(pubackReasonCode(outcome));
        void outcome.durable.then((refusal) => done(refusal === null ? 0 : refusalReasonCode(refusal.code)));
      },
    };
    const client = (this.#client = mqtt.connect(spec.url, options));
    // MQTT.js honours customHandleAcks for MQTT 5 only. For 3.1.1 (and QoS 0) the 'message' handler runs
    // synchronously, then handleMessage, whose callback writes the PUBACK: the ack follows node.ingest, and
    // waits there for a stream commit.
    let held: ImportOutcome | null = null;
    client.on('message', (topic, message, packet) => {
      if (packet.qos === 0) this.#receive(topic, message, packet);
      else if (spec.protocolVersion === 4) held = this.#receive(topic, message, packet);
    });
    if (spec.protocolVersion === 4) {
      client.handleMessage = (_packet, callback) => {
        const outcome = held;
        held = null;
        if (outcome === null || (outcome.ok && outcome.durable === undefined)) return callback();
        if (!outcome.ok) return this.#ack311(client, outcome.code, callback);
        void outcome.durable!.then((refusal) => (refusal === null ? callback() : this.#ack311(client, refusal.code, callback)));
      };
    }
    let lastError: Error | null = null;
    let up = false;
    client.on('error', (err) => {
      lastError = err; // surfaced through 'close'
      // MQTT.js closes the connection itself after most errors, but not after a packet its parser rejects (a PUBACK
      // reason it does not know, say). The parser then throws away the rest of that read and may take the next one
      // from the middle of a packet: PUBACKs are lost, and the exports they answered would stay in flight for as
      // long as the connection lasts. MQTT 5 §4.13.1 has the receiver of a malformed packet close the connection;
      // so does the bridge, and 'close' fails what was in flight back to the core, which sends it again on the next
      // connection. A reconnect per such packet is visible (reconnects, lastError); a stuck export is not.
      // The price: nothing ties the error to one export, so one whose every PUBACK is unparseable is never refused,
      // only sent again, a reconnect per attempt at the reconnect backoff's pace (mosquitto's 0x95 would be that
      // case, were packet-too-large-ack.ts not in force). No PUBACK timeout instead: QoS 1 sets no deadline, a busy
      // broker's late PUBACK would become a duplicate, and keepalive already ends a connection that went silent.
      if (up) client.end(true);
    });
    return new Promise<void>((resolve, reject) => {
      client.once('connect', (connack) => {
        up = true;
        this.#maxPacketBytes = connack.properties?.maximumPacketSize;
        resolve();
      });
      client.once('close', () => {
        // Whatever this connection had not got PUBACKed goes back to the core to be sent again.
        const failed = [...this.#inFlight];
        this.#inFlight.clear();
        const err = lastError ?? new Error(up ? 'connection closed' : `cannot connect to ${spec.displayUrl}`);
        for (const done of failed) done(err);
        client.removeAllListeners('message');
        client.end(true);
        if (this.#client === client) this.#client = null;
        if (up) lost(err);
        else reject(err);
      });
    });
  }

  /** MQTT 3.1.1 refusal: acknowledged (dropped) unless it may pass; then no PUBACK, and the broker delivers it again after a reconnect. */
  #ack311(client: MqttClient, code: string, callback: () => void): void {
    if (!retryableRefusal(code)) return callback();
    this.#ctx.log(`bridge ${this.#ctx.spec.name}: import refused with ${code}; no PUBACK, reconnecting so the broker delivers it again`);
    // MQTT.js waits for the callback before the next packet: never called, the connection is dropped with what it held.
    client.end(true);
  }

  #receive(
    topic: string,
    message: Buffer,
    packet: { properties?: { contentType?: string; userProperties?: Record<string, string | string[]> } },
  ): ImportOutcome {
    // MQTT.js hands out views into its parse buffer: the event keeps its own copy.
    const payload = Buffer.from(message);
    const props = packet.properties;
    return this.#ctx.importMessage({ brokerTopic: topic, payload, contentType: props?.contentType, stableKey: undefined }, (meshTopic) =>
      decodeMqtt(payload, props, meshTopic),
    );
  }

  async subscribe(filter: string): Promise<void> {
    const client = this.#client!;
    const granted = await client.subscribeAsync(filter, { qos: 1, nl: this.#ctx.spec.protocolVersion === 5 });
    const refused = granted.find((g) => g.qos === 128 || g.qos > 2);
    if (refused !== undefined) throw new Error(`broker refused subscription ${filter}`);
  }

  async unsubscribe(filter: string): Promise<void> {
    await this.#client!.unsubscribeAsync(filter);
  }

  publish(topic: string, event: MeshEvent, done: (err?: Error) => void): void {
    const client = this.#client;
    if (client === null) return done(new Error('not connected'));
    const version = this.#ctx.spec.protocolVersion;
    const { payload, properties } = encodeMqtt(event, this.#ctx.spec.mode, version);
    const tooLarge = exportSizeRefusal(this.#ctx.spec, payload.byteLength);
    if (tooLarge !== null) return done(tooLarge);
    const max = this.#maxPacketBytes;
    if (max !== undefined) {
      const bytes = publishPacketBytes(topic, payload, properties, version);
      if (bytes > max)
        return done(new MeshError('MG_ERR_EVENT_TOO_LARGE', `the PUBLISH would be ${bytes} bytes; the broker's Maximum Packet Size (CONNACK) is ${max} bytes`));
    }
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      this.#inFlight.delete(settle);
      done(err);
    };
    this.#inFlight.add(settle);
    client.publish(topic, payload, { qos: 1, properties }, (err, puback) => {
      // A callback after the connection closed is MQTT.js flushing its store: already failed over above.
      if (this.#inFlight.has(settle)) settle(err ? exportRefusal(err, puback) : undefined);
    });
  }

  inFlight(): number {
    return this.#inFlight.size;
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    if (client === null) return;
    client.removeAllListeners('close');
    await client.endAsync(true).catch(() => undefined);
  }
}
