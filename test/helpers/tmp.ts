import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/**
 * A fresh directory for one test's files. It lives under the run's
 * MESHGATE_TEST_TMP (test/run.mjs removes that after a passing run and keeps
 * it after a failing one), and is removed when the test ends, so thousands of
 * runs leave nothing behind in /tmp.
 */
export function testTmpDir(t: TestContext | undefined, prefix: string): string {
  const base = process.env.MESHGATE_TEST_TMP || tmpdir();
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, `${prefix}-`));
  t?.after(() => {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    } catch {
      // A process the test started still writes here (its stop is a later
      // after-hook): failing this hook would skip that stop and hang the file.
      // What is left goes with MESHGATE_TEST_TMP when the run ends.
    }
  });
  return dir;
}
