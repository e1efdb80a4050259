/**
 * broker/streams/: events kept on disk per stream, with offsets, an epoch
 * and retention (issue 14, storage layer). Owns the StreamStore seam and
 * its engines (memory, lmdb, JetStream); the node's wiring (which events go where,
 * consumers, resume) is not here.
 *
 * May import: ../errors.js of ours, node built-ins, lmdb and nats. Nothing
 * else of broker/, so the engines stay testable on their own.
 */

export { LOCK_FILE } from './dir-lock.js';
export { JETSTREAM_STORE_DEFAULTS, JetStreamStreamStore, type JetStreamStreamStoreOptions, jetStreamEpoch } from './jetstream-stream-store.js';
export { LMDB_STORE_DEFAULTS, LmdbStreamStore, type LmdbStreamStoreOptions } from './lmdb-stream-store.js';
export { MemoryStreamStore, type MemoryStreamStoreOptions } from './memory-stream-store.js';
export { resolveStreamConfig, STREAM_DEFAULTS } from './stream-config.js';
export type { AppendMeta, Durability, NotRecoverable, ReadResult, StreamConfig, StreamEntry, StreamInfo, StreamStore } from './stream-store.js';
