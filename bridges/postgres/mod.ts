/**
 * bridges/postgres/: change data capture from PostgreSQL into the mesh
 * (logical replication, pgoutput), exactly once by confirming the slot
 * only up to what the mesh accepted; and change events applied to a
 * PostgreSQL target (the sink), exactly once and last-writer-wins per row,
 * under a replication origin the source drops (no ping-pong). Imports broker/'s public surface and
 * routing/.
 */

export { type ApplyOutcome, ApplyRefusal, ChangeApplier, type DecodedChange, decodeChange, SINK_TABLES_DDL } from './change-applier.js';
export { CHANGE_EVENT_TYPE } from './change-event.js';
export { PG_SOURCE_DEFAULTS, type PgSourceEntry, type PgSourceSpec, resolvePgSource } from './config.js';
export { formatLsn, type Lsn, parseLsn } from './lsn.js';
export { PgSink, type PgSinkState } from './pg-sink.js';
export { PgSource, type PgSourceState } from './pg-source.js';
export { PG_SINK_DEFAULTS, type PgSinkEntry, type PgSinkSpec, resolvePgSink } from './sink-config.js';
export { type ChangeBatch, type ChangeFeed, type FeedPosition, StreamChangeFeed } from './sink-feed.js';
