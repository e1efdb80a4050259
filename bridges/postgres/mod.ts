/**
 * bridges/postgres/: change data capture from PostgreSQL into the mesh
 * (logical replication, pgoutput), exactly once by confirming the slot
 * only up to what the mesh accepted. Imports broker/'s public surface and
 * routing/.
 */
export { CHANGE_EVENT_TYPE } from './change-event.js';
export { PG_SOURCE_DEFAULTS, type PgSourceEntry, type PgSourceSpec, resolvePgSource } from './config.js';
export { formatLsn, type Lsn, parseLsn } from './lsn.js';
export { PgSource, type PgSourceState } from './pg-source.js';
