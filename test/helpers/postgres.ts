/** The throwaway PostgreSQL clusters of the tests: the same starter the sync demo uses (demo/postgres-cluster.ts). */
export { type PostgresHandle, startPostgres } from '../../demo/postgres-cluster.js';
