import type { SessionGuard } from '../auth/mod.js';
import type { Metric } from '../base/mod.js';
import type { RemoteStreams } from '../peering/mod.js';
import type { MeshNode } from '../pipeline/mod.js';
import type { ConsumerBinding, StreamManager } from '../streams/mod.js';
import type { ClientCodec } from './client-protocol.js';
import type { WsSession } from './ws-session.js';

/** What uWS keeps per /v1/ws connection (its user data). */
export interface ClientData {
  readonly codec: ClientCodec;
  /** This connection's rights and publish rate. */
  readonly guard: SessionGuard;
  /** Client address held in the per-address limits (null: not tracked). */
  readonly ip: string | null;
  session?: WsSession<ClientData>;
  /** Built once the session exists: what every request handler gets. */
  ops?: OpContext;
}

/** What uWS keeps per /v1/ce/ connection. */
export interface CeData {
  readonly guard: SessionGuard;
  readonly ip: string | null;
  readonly filter: string;
  /** Set when the path names a concrete topic: events sent on the socket are published there. */
  readonly publishTopic: string | null;
  session?: WsSession<CeData>;
}

/** A session of either endpoint. */
export type AnySession = WsSession<ClientData> | WsSession<CeData>;

/** What every request handler of the client protocol works with: one connection and the node. */
export interface OpContext {
  readonly node: MeshNode;
  readonly session: WsSession<ClientData>;
  readonly codec: ClientCodec;
  /** This connection's rights and publish rate. */
  readonly guard: SessionGuard;
  readonly maxSubscriptions: number;
  /** meshgate_auth_filtered_deliveries_total, for partly authorized subscriptions. */
  readonly filtered: Metric;
  /** The node's streams, for `sub` with `stream`; null on an endpoint mounted without them. */
  readonly streams: StreamManager | null;
  /** Streams held by peers, for `sub` with a `stream` this node does not hold; null: none (a single node, or an endpoint mounted without them). */
  readonly remoteStreams: RemoteStreams | null;
  /** This connection's stream subscriptions, by streamSubKey(stream, filter); they count against maxSubscriptions too. */
  readonly streamSubs: Map<string, StreamSub>;
  /** This connection's durable consumer bindings (`consume`), by streamSubKey(stream, consumer); they count against maxSubscriptions too. */
  readonly consumers: Map<string, ConsumerBinding>;
}

/** A stream subscription of a connection, local (stream-subscription.ts) or read from a peer (remote-stream-subscription.ts). */
export interface StreamSub {
  readonly stream: string;
  readonly filter: string;
  /** Offset of the last entry handed over. */
  readonly position: number;
  /** The session drained: read on. */
  wake(): void;
  stop(): void;
}

/** The key of a stream subscription: one per (stream, filter) on a connection. */
export function streamSubKey(stream: string, filter: string): string {
  return `${stream}\u0000${filter}`;
}
