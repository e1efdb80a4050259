/**
 * One process per data directory. lmdb itself allows several processes
 * on one environment, but two nodes appending to the same streams would
 * both mint offsets from the same counter: so the store takes an explicit
 * lock file, created with O_EXCL and holding the owner's pid. A lock whose
 * pid is no longer alive (the owner was killed) is taken over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MeshError } from '../base/mod.js';

export const LOCK_FILE = 'meshgate-streams.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Takes the lock or throws MG_ERR_STREAM_LOCKED; returns the release function. */
export function lockDirectory(dir: string): () => void {
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx'); // O_CREAT | O_EXCL
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => fs.rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    if (Number.isSafeInteger(pid) && pid > 0 && alive(pid)) {
      throw new MeshError(
        'MG_ERR_STREAM_LOCKED',
        `streams directory ${dir} is in use by process ${pid}${pid === process.pid ? ' (this process: close the other store first)' : ''}; ` +
          `stop that node or give this one another streams directory`,
      );
    }
    fs.rmSync(file, { force: true }); // stale: its owner died without closing
  }
  throw new MeshError('MG_ERR_STREAM_LOCKED', `streams directory ${dir}: another process keeps taking the lock; give this node another streams directory`);
}
