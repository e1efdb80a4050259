/**
 * broker/streams/: events kept on disk per stream, with offsets, an epoch
 * and retention (issue 14). Owns the StreamStore seam and its engines
 * (memory, lmdb, JetStream), and the StreamManager that wires streams into
 * a node: stream filters as subscriptions, appends in wire form, the
 * durability gate acks wait on, and the StreamReader every transport
 * reads a stream through (replay, resume: /v1/ws stream subscriptions,
 * resuming SSE streams), on read() and onAppended(); and durable
 * consumers (consumer-registry.ts, durable-consumer.ts): named readers
 * whose acked position the store keeps (ConsumerPositionStore, one per
 * engine).
 *
 * May import: broker/base/, node built-ins, lmdb and nats (the engines);
 * broker/event/ and broker/pipeline/ (stream-manager.ts only, so the
 * engines stay testable on their own).
 */

export { AckWindow } from './ack-window.js';
export { CONSUMER_DEFAULTS, CONSUMER_LIMITS, type ConsumerOptions, type ConsumerStart } from './consumer-config.js';
export type { ConsumerConfig, ConsumerPosition, ConsumerPositionStore } from './consumer-position.js';
export { type ConsumerInfo, ConsumerRegistry, consumersOf } from './consumer-registry.js';
export { LOCK_FILE } from './dir-lock.js';
export {
  type AckResult,
  ConsumerBinding,
  type ConsumerDelivery,
  type ConsumerSink,
  DurableConsumer,
} from './durable-consumer.js';
export { JETSTREAM_STORE_DEFAULTS, JetStreamStreamStore, type JetStreamStreamStoreOptions, jetStreamEpoch } from './jetstream-stream-store.js';
export { LMDB_STORE_DEFAULTS, LmdbStreamStore, type LmdbStreamStoreOptions } from './lmdb-stream-store.js';
export { MemoryStreamStore, type MemoryStreamStoreOptions } from './memory-stream-store.js';
export {
  type MirrorSource,
  resolveStreamConfig,
  STREAM_DEFAULTS,
  type StreamEntryConfig,
  streamConfigFromEntry,
  streamEntryFromConfig,
} from './stream-config.js';
export {
  type AppendedListener,
  decodeStoredEvent,
  STORED_FORMAT_V1,
  STREAM_ENTRY_FORMAT,
  StreamManager,
  type StreamManagerOptions,
  storedPeerEntry,
} from './stream-manager.js';
export { type StreamReadEnd, StreamReader, type StreamReaderSink, type StreamStart, startAfter } from './stream-reader.js';
export type { AppendMeta, CreateOptions, Durability, NotRecoverable, ReadResult, StreamConfig, StreamEntry, StreamInfo, StreamStore } from './stream-store.js';
export { sinkOn, type TransportState } from './transport-state.js';
