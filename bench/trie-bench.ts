import { pathToFileURL } from 'node:url';
import { TopicTrie } from '../routing/mod.js';

/**
 * TopicTrie.match throughput with 10k subscriptions shaped like change
 * data capture interest: `db.<table>.<op>.<pk>` topics, subscribed per
 * row, per table and operation, per table, per operation across tables,
 * and to everything.
 *
 * Three runs:
 * - cache warm: 1,000 topics repeating (a hot working set that fits the
 *   default cache): the cost of a cache hit;
 * - cache busting: every topic unique (a new primary key per event): the
 *   trie walk, with the result shared through the filter-combination
 *   cache;
 * - cache off: `cacheSize: 0`, the bare walk plus building the result.
 *
 * Topics are flattened before timing, as a decoder would hand them over.
 * Each run is time-boxed (about 0.5 s of matching), so the whole bench
 * stays under 3 s.
 */

export interface TrieBenchResult {
  readonly name: string;
  readonly matchesPerSec: number;
  readonly subscriptions: number;
  readonly cacheHitRate?: number;
}

const TABLES = 400;
const OPS = ['insert', 'update', 'delete', 'upsert'];
const SUBSCRIPTIONS = 10_000;
const SUBSCRIBERS = 3_000;
const RUN_MS = 500;
const BATCH = 20_000;

/** Tiny deterministic PRNG (mulberry32), so every run benches the same trie. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function buildTrie(cacheSize: number): TopicTrie<number> {
  const trie = new TopicTrie<number>({ cacheSize });
  const random = rng(1);
  const int = (n: number): number => Math.floor(random() * n);
  let subscriber = 0;
  while (trie.size < SUBSCRIPTIONS) {
    const table = `t${int(TABLES)}`;
    const op = OPS[int(OPS.length)];
    const r = random();
    let filter: string;
    if (r < 0.45)
      filter = `db.${table}.${op}.${int(1000)}`; // one row
    else if (r < 0.8)
      filter = `db.${table}.${op}.>`; // a table's inserts, say
    else if (r < 0.95)
      filter = `db.${table}.>`; // a whole table
    else if (r < 0.998)
      filter = `db.*.${op}.>`; // one operation everywhere
    else filter = 'db.>'; // audit
    trie.add(filter, subscriber++ % SUBSCRIBERS);
  }
  return trie;
}

/** Topics as a decoder produces them: flat strings, not concatenation ropes. */
function makeTopics(random: () => number, count: number, pk: () => number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    out.push(`db.t${Math.floor(random() * TABLES)}.${OPS[Math.floor(random() * OPS.length)]}.${pk()}`);
  }
  return JSON.parse(JSON.stringify(out)) as string[];
}

function run(label: string, trie: TopicTrie<number>, nextBatch: () => string[]): TrieBenchResult {
  let matched = 0;
  let delivered = 0;
  let elapsed = 0;
  // Warm-up: let the JIT settle before timing.
  for (const t of nextBatch().slice(0, 5000)) delivered += trie.match(t).length;
  const warm = trie.cacheStats();
  delivered = 0;
  while (elapsed < RUN_MS) {
    const topics = nextBatch(); // built outside the timed section
    const started = performance.now();
    for (let i = 0; i < topics.length; i++) delivered += trie.match(topics[i]).length;
    elapsed += performance.now() - started;
    matched += topics.length;
  }
  const after = trie.cacheStats();
  const hits = after.hits - warm.hits;
  const misses = after.misses - warm.misses;
  return {
    name: `TopicTrie.match, ${label}, mean fan-out ${(delivered / matched).toFixed(0)}`,
    matchesPerSec: Math.round((matched / elapsed) * 1000),
    subscriptions: trie.size,
    cacheHitRate: hits + misses === 0 ? undefined : Number((hits / (hits + misses)).toFixed(4)),
  };
}

export async function trieBench(): Promise<TrieBenchResult[]> {
  const results: TrieBenchResult[] = [];
  const hotRandom = rng(2);
  const hot = makeTopics(hotRandom, 1000, () => Math.floor(hotRandom() * 1000));
  const repeating = Array.from({ length: BATCH }, (_, i) => hot[i % hot.length]);

  const cached = buildTrie(4096);
  results.push(run('cache warm (1k repeating topics)', cached, () => repeating));

  const uniqueRandom = rng(3);
  let pk = 1_000_000;
  results.push(run('cache busting (unique topics)', cached, () => makeTopics(uniqueRandom, BATCH, () => pk++)));

  results.push(run('cache off (1k repeating topics)', buildTrie(0), () => repeating));
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  const results = await trieBench();
  console.table(results);
  console.log(`total ${(performance.now() - started).toFixed(0)} ms`);
}
