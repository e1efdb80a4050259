import { ERROR_CODES, type ErrorCode, type MeshEvent, type Refusal } from '../../broker/mod.js';
import type { BridgeSpec } from './config.js';
import type { TopicDialect } from './topic-dialect.js';

/**
 * What became of one imported message; the client turns it into the
 * protocol's ack, nack or reason code. `durable` is there when the event
 * went into a local stream: the client acks upstream only once it
 * resolves, with null (stored) or the refusal to send instead (never
 * rejects). Absent, the ack goes at once (no promise per event then).
 */
export type ImportOutcome =
  | { readonly ok: true; readonly duplicate: boolean; readonly durable?: Promise<Refusal | null> }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Whether a refusal under `code` may pass if the broker delivers the message again (MG_ERR_STREAM_FULL, _IO): then the client leaves it upstream. */
export function retryableRefusal(code: string): boolean {
  return ERROR_CODES[code as ErrorCode]?.retry === true;
}

/** How a received message becomes an event; returned by each binding's decoder. */
export interface ReceivedMessage {
  /** The topic (MQTT), routing key (AMQP) or subject (NATS) it arrived on. */
  readonly brokerTopic: string;
  readonly payload: Uint8Array;
  /** Content type property/header, if any. */
  readonly contentType: string | undefined;
  /** A per-message key every subscriber of the broker sees alike (AMQP message-id, Nats-Msg-Id), for plain payloads. */
  readonly stableKey: string | undefined;
}

/** What the core hands a protocol client: its spec and the way back into the mesh. */
export interface BridgeContext {
  readonly spec: BridgeSpec;
  readonly dialect: TopicDialect;
  /**
   * Runs one received message through mapping, decoding and `node.ingest`.
   * `decode` is the binding's decoder for this message; it returns null
   * when the message is not a CloudEvent at all (a plain payload).
   * When it returns, the mesh has the event (or refused it), so the client
   * may acknowledge upstream, unless the outcome carries `durable`: then
   * the ack waits for it (durable before acknowledged, README "Streams").
   */
  importMessage(message: ReceivedMessage, decode: (meshTopic: string) => import('../../broker/mod.js').EventDecodeResult | null): ImportOutcome;
  /** Counts exported events known to be lost (NATS core during an outage). */
  lost(count: number): void;
  log(line: string): void;
}

/**
 * The seam between the shared bridge core and one protocol (STYLE: a
 * protocol's words stay inside its bridge). The core owns reconnect with
 * backoff, interest, mapping and counters; a client owns one connection
 * at a time, the binding's encoding, and the protocol's acks.
 */
export interface BrokerClient {
  /**
   * Opens a connection (reusing the library's session where it has one)
   * and resolves once subscriptions and publishes can be sent. `lost` is
   * called once if that connection later goes down.
   */
  connect(lost: (err: Error) => void): Promise<void>;
  /** Subscribes upstream to one broker filter (idempotent). */
  subscribe(filter: string): Promise<void>;
  /** Drops one upstream subscription (a no-op when not subscribed). */
  unsubscribe(filter: string): Promise<void>;
  /**
   * Publishes one event to a broker topic. `done` runs once the broker has
   * it (MQTT PUBACK, AMQP confirm; at once for NATS core) or with an error
   * when it was not delivered: a MeshError when the event can never be
   * sent as it is (e.g. an AMQP shortstr over 255 bytes, a payload over
   * the bridge's maxExportBytes: core/export-size.ts, checked by every
   * client on the payload it encoded, before sending; or a broker's
   * refusal of this message for good: an MQTT PUBACK reason such as 0x87,
   * NATS max_payload), counted refused under its code and never sent
   * again; any other error may pass, and the core holds the event and
   * sends it again after a backoff pause (never in the same turn). So
   * classify what cannot pass as a MeshError: anything else costs a retry
   * every few seconds for as long as it lasts. Must not throw.
   */
  publish(topic: string, event: MeshEvent, done: (err?: Error) => void): void;
  /**
   * True when exports that arrive during an outage should be held and
   * sent after reconnecting (MQTT, AMQP); false when the protocol gives
   * no delivery guarantee anyway and they are counted lost (NATS core).
   */
  readonly holdsWhileDown: boolean;
  /** `messaging.system` of the broker for send spans (OpenTelemetry semantic conventions: 'rabbitmq', or the protocol's name). */
  readonly messagingSystem: string;
  /** Exports handed to the broker and not yet confirmed by it (status row `inFlight`). */
  inFlight(): number;
  /** Closes for good. */
  close(): Promise<void>;
}
