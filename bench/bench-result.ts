/** The shapes every bench scenario returns and the runner prints (one table row each). */
/** One row of the table. */
export interface BenchResult {
  /** Delivered events per second (all subscribers), burst phase. */
  eventsPerSec: number;
  /** Fixed-rate phase latency, send -> receive. NaN when not measured. */
  p50Ms: number;
  p99Ms: number;
  /** Server CPU per delivered event, burst phase. NaN when not measured. */
  serverCpuUsPerEvent: number;
  /** Deliveries that never arrived (should be 0). */
  lost?: number;
  /** Set by a row measured in turns with its anchor (paired-runs.ts): the ratios to it, in place of the scenario's `anchor`. */
  vsAnchor?: { readonly name: string; readonly eventsRatio: number; readonly cpuRatio: number };
  /** Publisher and subscriber processes' CPU per delivered event, burst phase: the load generators' own cost. */
  clientCpuUsPerEvent?: number;
  /** Anything else worth keeping in bench/results/latest.json. */
  details?: unknown;
}

/** A result that becomes its own row, `${scenario.name}: ${name}`. */
export interface NamedBenchResult extends BenchResult {
  name: string;
}

export interface Scenario {
  /** Unique; anchors are referred to by it. */
  name: string;
  /** What is measured: 'nats-server', 'meshgate', 'routing/topic-trie'. */
  target: string;
  /** Name of the scenario this one is compared with (ratio column). */
  anchor?: string;
  /** Short text for the notes column (fan-out, latency rate…). */
  note?: string;
  /** One row, or several named rows (a micro-bench with variants). */
  run(): Promise<BenchResult | NamedBenchResult[]>;
}
