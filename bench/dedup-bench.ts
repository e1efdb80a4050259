/**
 * Dedup window cost: checks per second and bytes per remembered
 * (topic, source, id) key at the default bound of 1M entries, counting the JS
 * heap and the typed arrays the window keeps outside it. Run in a child
 * process with --expose-gc so heap readings are not skewed by the
 * harness's own garbage.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DedupWindow } from '../broker/pipeline/internal.js';

export interface DedupBenchResult {
  name: string;
  entries: number;
  checksPerSec: number;
  bytesPerEntry: number;
}

/** Measures in this process; call through dedupBench() to get a clean heap. */
function measure(): DedupBenchResult[] {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const entries = 1_000_000;
  // A CDC stream's shape: one topic and one source for a run of events.
  const topic = 'db.orders.insert';
  const source = 'db.orders.cdc-1a2b3c';
  const idOf = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  // Every check gets its own id string, as events from a decoder do; they
  // are made after the heap baseline, so the strings the window keeps count.
  gc();
  const used = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const before = used();
  let ids: string[] | null = Array.from({ length: entries }, (_, i) => idOf(i));
  const window = new DedupWindow({ maxEntries: entries });
  let t = performance.now();
  for (let i = 0; i < entries; i++) window.isDuplicate(topic, source, ids[i]);
  const insertSec = (performance.now() - t) / 1000;
  ids = null;
  gc();
  const heapPerEntry = (used() - before) / window.size;
  const again = Array.from({ length: entries }, (_, i) => idOf(i));
  t = performance.now();
  for (let i = 0; i < entries; i++) window.isDuplicate(topic, source, again[i]);
  const hitSec = (performance.now() - t) / 1000;
  // Past the bound every new id evicts the oldest: the steady state of a busy node.
  const fresh = Array.from({ length: 300_000 }, (_, i) => `fresh-${i}`);
  t = performance.now();
  for (const id of fresh) window.isDuplicate(topic, source, id);
  const evictSec = (performance.now() - t) / 1000;
  return [
    { name: 'dedup insert to 1M', entries, checksPerSec: entries / insertSec, bytesPerEntry: heapPerEntry },
    { name: 'dedup duplicate hit @1M', entries, checksPerSec: entries / hitSec, bytesPerEntry: heapPerEntry },
    { name: 'dedup insert+evict @1M', entries, checksPerSec: fresh.length / evictSec, bytesPerEntry: heapPerEntry },
  ];
}

export async function dedupBench(): Promise<DedupBenchResult[]> {
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child'], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out) as DedupBenchResult[];
}

if (process.argv.includes('--child')) process.stdout.write(JSON.stringify(measure()));
