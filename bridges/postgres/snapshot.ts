import type pg from 'pg';
import type { TableInfo } from './setup.js';

/**
 * Reads every row of the tables as of an exported snapshot (the slot's
 * consistent point), in primary-key chunks: keyset pagination, so each
 * query is an index range scan and memory holds one chunk. Rows the slot
 * streams afterwards committed after the snapshot, so the seam has
 * neither a gap nor an overlap. `onRow` may return a promise to pause
 * the read (flow control).
 */
export async function readSnapshot(
  client: pg.Client,
  snapshotName: string,
  tables: readonly TableInfo[],
  chunkRows: number,
  onRow: (table: TableInfo, row: Record<string, unknown>, n: number) => Promise<void> | undefined,
): Promise<number> {
  let total = 0;
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query(`SET TRANSACTION SNAPSHOT '${snapshotName.replace(/'/g, "''")}'`);
    for (const t of tables) {
      const cols = t.key.map((k) => `"${k}"`).join(', ');
      const from = `"${t.schema}"."${t.table}"`;
      let last: unknown[] | null = null;
      let n = 0;
      for (;;) {
        const params = last ?? [];
        const where = last === null ? '' : `WHERE (${cols}) > (${t.key.map((_, i) => `$${i + 1}`).join(', ')})`;
        const r = await client.query(`SELECT * FROM ${from} ${where} ORDER BY ${cols} LIMIT ${chunkRows}`, params);
        for (const row of r.rows as Record<string, unknown>[]) {
          const wait = onRow(t, row, ++n);
          if (wait !== undefined) await wait;
        }
        total += r.rows.length;
        if (r.rows.length < chunkRows) break;
        const lastRow = r.rows[r.rows.length - 1] as Record<string, unknown>;
        last = t.key.map((k) => lastRow[k]);
      }
    }
  } finally {
    await client.query('COMMIT').catch(() => undefined);
  }
  return total;
}
