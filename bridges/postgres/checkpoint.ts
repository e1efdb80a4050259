import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { formatLsn, type Lsn, parseLsn } from './lsn.js';

/** What a source keeps of its position, one file per slot. */
export interface Checkpoint {
  /** Everything committed before this LSN is in the mesh: START_REPLICATION resumes here. */
  readonly lsn: Lsn;
  /** The slot's consistent point: the snapshot's ids are derived from it. */
  readonly consistentPoint: Lsn;
  /** 'pending' from slot creation until every snapshot row was accepted. */
  readonly snapshot: 'pending' | 'done' | 'skipped';
}

/**
 * The source's position in `<storage.dir>/postgres/<slot>.json`, the one
 * place it lives (STYLE.md, "Connectors"): written to a temporary file,
 * fsync'd, renamed over the old one and the directory fsync'd, so a crash
 * leaves the old position or the new one, never half of either. The slot
 * is confirmed only up to what this file holds.
 */
export class CheckpointFile {
  readonly path: string;

  constructor(storageDir: string, slot: string) {
    this.path = join(storageDir, 'postgres', `${slot}.json`);
  }

  async read(): Promise<Checkpoint | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const raw = JSON.parse(text) as { lsn: string; consistentPoint: string; snapshot: Checkpoint['snapshot'] };
    return { lsn: parseLsn(raw.lsn), consistentPoint: parseLsn(raw.consistentPoint), snapshot: raw.snapshot };
  }

  async write(c: Checkpoint): Promise<void> {
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true });
    const tmp = `${this.path}.tmp`;
    const f = await open(tmp, 'w');
    try {
      await f.writeFile(`${JSON.stringify({ lsn: formatLsn(c.lsn), consistentPoint: formatLsn(c.consistentPoint), snapshot: c.snapshot })}\n`);
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, this.path);
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }
}
