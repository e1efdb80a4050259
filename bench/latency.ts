/**
 * Latency samples and percentiles. Samples are plain numbers in one unit
 * (the load harness uses microseconds) kept in a Float64Array.
 */

/** Percentile summary, in the unit of the samples. */
export interface LatencySummary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/**
 * Nearest-rank percentile of an ascending-sorted array (p in [0, 100]).
 * NaN for an empty array.
 */
export function percentileSorted(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  if (p <= 0) return sorted[0]!;
  if (p >= 100) return sorted[sorted.length - 1]!;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)]!;
}

/** Sorted copy (the input is left alone). */
export function sortedCopy(samples: Float64Array): Float64Array {
  return Float64Array.from(samples).sort();
}

/**
 * @example
 * const s = summarize(samplesUs);
 * console.log(s.p50 / 1000, s.p99 / 1000); // ms
 */
export function summarize(samples: Float64Array): LatencySummary {
  const sorted = sortedCopy(samples);
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]!;
  return {
    count: sorted.length,
    min: sorted.length ? sorted[0]! : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    p999: percentileSorted(sorted, 99.9),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
  };
}

/** Concatenates sample arrays (e.g. one per subscriber process). */
export function mergeSamples(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Counts per bucket: bucket i holds samples <= bounds[i] (and above
 * bounds[i-1]); the last extra bucket holds everything above the last bound.
 */
export function histogram(samples: Float64Array, bounds: readonly number[]): number[] {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i]!;
    let b = 0;
    while (b < bounds.length && v > bounds[b]!) b++;
    counts[b]!++;
  }
  return counts;
}

/**
 * Append-only sample buffer with a hard cap (memory stays bounded); samples
 * past the cap are counted in `dropped`, not stored.
 */
export class SampleRecorder {
  #buf: Float64Array;
  #n = 0;
  #cap: number;
  dropped = 0;

  /** @param cap maximum stored samples. @default 1_000_000 */
  constructor(initial = 4096, cap = 1_000_000) {
    this.#buf = new Float64Array(Math.min(initial, cap));
    this.#cap = cap;
  }

  push(v: number): void {
    if (this.#n === this.#buf.length) {
      if (this.#n >= this.#cap) {
        this.dropped++;
        return;
      }
      const next = new Float64Array(Math.min(this.#cap, this.#buf.length * 2));
      next.set(this.#buf);
      this.#buf = next;
    }
    this.#buf[this.#n++] = v;
  }

  get length(): number {
    return this.#n;
  }

  /** A copy of the stored samples (safe to send over IPC). */
  toArray(): Float64Array {
    return this.#buf.slice(0, this.#n);
  }

  clear(): void {
    this.#n = 0;
    this.dropped = 0;
  }
}
