/**
 * `npm run bench`: runs bench/scenarios.ts in order, prints a table and
 * writes bench/results/latest.json.
 *
 *   npm run bench                      all scenarios
 *   npm run bench -- --only nats-cluster   names containing a substring (repeatable, or comma list)
 *   npm run bench -- --list            names only
 *
 * Bounded: no scenario starts after BUDGET_MS; each scenario's own waits
 * are bounded by the load driver.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult, Scenario } from './bench-result.js';
import { closeSharedBrokers } from './bridges-bench.js';
import { scenarios } from './scenarios.js';

/** No scenario starts after this much wall time. @default 270_000 ms */
const BUDGET_MS = Number(process.env.MESHGATE_BENCH_BUDGET_MS ?? 270_000);

interface Row {
  scenario: string;
  target: string;
  anchor?: string;
  note?: string;
  status: 'ok' | 'error' | 'not run';
  error?: string;
  seconds: number;
  result?: BenchResult;
  ratio?: number;
}

function parseArgs(argv: string[]): { only: string[]; list: boolean } {
  const only: string[] = [];
  let list = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--list') list = true;
    else if (a === '--only' && argv[i + 1]) only.push(...argv[++i]!.split(','));
    else if (a.startsWith('--only=')) only.push(...a.slice(7).split(','));
  }
  return { only, list };
}

const fmt = {
  rate: (v?: number) => (v === undefined || !Number.isFinite(v) ? '-' : Math.round(v).toLocaleString('en-US')),
  ms: (v?: number) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(3)),
  us: (v?: number) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(2)),
  ratio: (v?: number) => (v === undefined || !Number.isFinite(v) ? '-' : `${v.toFixed(2)}x`),
};

function table(rows: Row[], anchorNames: Set<string>): string {
  // Rows an ABAB pair's meshgate row is compared with.
  const paired = new Set(rows.flatMap((r) => (r.result?.vsAnchor ? [`${r.scenario.slice(0, r.scenario.lastIndexOf(': '))}: ${r.result.vsAnchor.name}`] : [])));
  const head = ['scenario', 'target', 'events/s', 'vs anchor', 'p50 ms', 'p99 ms', 'srv CPU µs/ev', 'client CPU µs/ev', 'lost', 'notes'];
  const body = rows.map((r) => [
    r.scenario,
    r.target,
    r.status === 'ok' ? fmt.rate(r.result?.eventsPerSec) : r.status.toUpperCase(),
    r.result?.vsAnchor
      ? `${fmt.ratio(r.result.vsAnchor.eventsRatio)} (CPU ${fmt.ratio(r.result.vsAnchor.cpuRatio)}) ${r.result.vsAnchor.name}`
      : r.anchor
        ? `${fmt.ratio(r.ratio)} ${r.anchor}`
        : anchorNames.has(r.scenario) || paired.has(r.scenario)
          ? '(anchor)'
          : '-',
    fmt.ms(r.result?.p50Ms),
    fmt.ms(r.result?.p99Ms),
    fmt.us(r.result?.serverCpuUsPerEvent),
    fmt.us(r.result?.clientCpuUsPerEvent),
    r.result?.lost === undefined ? '-' : String(r.result.lost),
    r.status === 'ok' ? (r.note ?? '') : (r.error ?? '').split('\n')[0]!.slice(0, 100),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const numeric = new Set([2, 4, 5, 6, 7, 8]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

async function main(): Promise<number> {
  const { only, list } = parseArgs(process.argv.slice(2));
  const selected = scenarios.filter((s) => only.length === 0 || only.some((o) => s.name.includes(o)));
  if (list) {
    for (const s of scenarios) console.log(`${s.name}${s.anchor ? `  (vs ${s.anchor})` : ''}`);
    return 0;
  }
  if (selected.length === 0) {
    console.error(`no scenario matches ${only.join(', ')}; try --list`);
    return 1;
  }

  const started = Date.now();
  const loadAtStart = os.loadavg();
  const load1 = loadAtStart[0];
  const busy = load1! > os.cpus().length * 0.5;
  if (busy) {
    process.stderr.write(
      `[bench] WARNING: load average ${load1!.toFixed(2)} on ${os.cpus().length} CPUs before the run: ` +
        'other work shares the cores, expect noisy figures (compare ratios from one run, not absolutes across runs).\n',
    );
  }
  const rows: Row[] = [];
  const byName = new Map<string, Row>();
  for (const s of selected as Scenario[]) {
    const row: Row = { scenario: s.name, target: s.target, anchor: s.anchor, note: s.note, status: 'not run', seconds: 0 };
    if (Date.now() - started > BUDGET_MS) {
      row.error = `time budget ${BUDGET_MS / 1000} s spent`;
      rows.push(row);
      continue;
    }
    process.stderr.write(`[bench] ${s.name} …\n`);
    const t0 = performance.now();
    let results: (BenchResult & { name?: string })[] = [];
    try {
      const r = await s.run();
      results = Array.isArray(r) ? r : [r];
      row.status = 'ok';
    } catch (err) {
      row.status = 'error';
      row.error = (err as Error)?.stack ?? String(err);
      process.stderr.write(`[bench] ${s.name} failed: ${row.error}\n`);
    }
    row.seconds = (performance.now() - t0) / 1000;
    process.stderr.write(`[bench] ${s.name}: ${row.status} in ${row.seconds.toFixed(1)} s\n`);
    const anchor = s.anchor ? byName.get(s.anchor) : undefined;
    const made = results.length === 0 ? [row] : results.map((r) => ({ ...row, scenario: r.name ? `${s.name}: ${r.name}` : s.name, result: r }));
    for (const m of made) {
      if (anchor?.result && m.result && !m.result.vsAnchor) m.ratio = m.result.eventsPerSec / anchor.result.eventsPerSec;
      rows.push(m);
    }
    byName.set(s.name, made[0]!);
  }

  console.log('');
  console.log(table(rows, new Set(scenarios.map((s) => s.anchor).filter((a): a is string => !!a))));
  console.log('');
  console.log('events/s = deliveries per second, burst phase, first send -> last delivery at the slowest subscriber.');
  console.log('p50/p99 = send -> receive at the fixed rate in notes. srv CPU = /proc utime+stime of the server process(es) per delivery (10 ms ticks).');
  if (busy) console.log(`WARNING: machine busy at start (load ${load1!.toFixed(2)}): figures are noisy.`);

  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const outDir = path.join(root, 'bench', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    host: { platform: process.platform, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadavgAtStart: loadAtStart, busy },
    totalSeconds: (Date.now() - started) / 1000,
    results: rows,
  };
  const outFile = path.join(outDir, 'latest.json');
  fs.writeFileSync(outFile, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwritten ${path.relative(process.cwd(), outFile) || outFile} (${out.totalSeconds.toFixed(1)} s)`);
  return rows.some((r) => r.status === 'error') ? 1 : 0;
}

main().then(
  async (code) => {
    await closeSharedBrokers();
    process.exit(code);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
