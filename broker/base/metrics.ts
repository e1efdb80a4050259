/**
 * Counters and gauges the node exposes at /metrics (Prometheus text format
 * 0.0.4) and /v1/stats (JSON). Hot paths bump plain number fields; nothing
 * here allocates per event.
 */

type Labels = Readonly<Record<string, string>>;

interface Series {
  readonly labels: Labels;
  value: number;
}

interface Family {
  readonly name: string;
  readonly help: string;
  readonly kind: 'counter' | 'gauge' | 'histogram';
  readonly series: Map<string, Series>;
  /** Gauges read at scrape time instead of being pushed. */
  readonly read?: () => number;
  /** Histogram series by label text. */
  readonly histograms?: Map<string, Histogram>;
}

/** A counter or gauge with fixed labels, incremented on hot paths. */
export class Metric {
  readonly #series: Series;
  constructor(series: Series) {
    this.#series = series;
  }
  inc(by = 1): void {
    this.#series.value += by;
  }
  set(value: number): void {
    this.#series.value = value;
  }
  get value(): number {
    return this.#series.value;
  }
}

/**
 * A Prometheus histogram with fixed upper bounds. `observe` is a short
 * linear scan over a dozen bounds and three additions: no allocation.
 */
export class Histogram {
  readonly labels: Labels;
  readonly bounds: readonly number[];
  /** Per bound, observations <= bound (not cumulative; rendering sums them). */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;
  constructor(labels: Labels, bounds: readonly number[]) {
    this.labels = labels;
    this.bounds = bounds;
    this.#counts = new Float64Array(bounds.length);
  }
  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]) {
        this.#counts[i]++;
        return;
      }
    }
  }
  get count(): number {
    return this.#count;
  }
  get sum(): number {
    return this.#sum;
  }
  /** Cumulative counts per bound, then +Inf, as Prometheus exposes them. */
  cumulative(): number[] {
    const out: number[] = [];
    let running = 0;
    for (let i = 0; i < this.#counts.length; i++) out.push((running += this.#counts[i]));
    out.push(this.#count);
    return out;
  }
}

/** Seconds, from a millisecond on one machine to a minute across regions. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60]);

export class MetricsRegistry {
  readonly #families = new Map<string, Family>();

  /** Returns the series `name{labels}`, creating family and series on first use. */
  counter(name: string, help: string, labels: Labels = {}): Metric {
    return new Metric(this.#series(name, help, 'counter', labels));
  }

  gauge(name: string, help: string, labels: Labels = {}): Metric {
    return new Metric(this.#series(name, help, 'gauge', labels));
  }

  /** Returns the histogram `name{labels}`, creating family and series on first use. */
  histogram(name: string, help: string, labels: Labels = {}, bounds: readonly number[] = LATENCY_BUCKETS_SECONDS): Histogram {
    let family = this.#families.get(name);
    if (family === undefined) {
      family = { name, help, kind: 'histogram', series: new Map(), histograms: new Map() };
      this.#families.set(name, family);
    }
    const key = labelText(labels);
    let h = family.histograms!.get(key);
    if (h === undefined) {
      h = new Histogram(labels, bounds);
      family.histograms!.set(key, h);
    }
    return h;
  }

  /** A gauge computed when scraped, e.g. a map's size. */
  gaugeFn(name: string, help: string, read: () => number): void {
    this.#families.set(name, { name, help, kind: 'gauge', series: new Map(), read });
  }

  #series(name: string, help: string, kind: Family['kind'], labels: Labels): Series {
    let family = this.#families.get(name);
    if (family === undefined) {
      family = { name, help, kind, series: new Map() };
      this.#families.set(name, family);
    }
    const key = labelText(labels);
    let series = family.series.get(key);
    if (series === undefined) {
      series = { labels, value: 0 };
      family.series.set(key, series);
    }
    return series;
  }

  /** Prometheus text exposition format. */
  render(): string {
    const out: string[] = [];
    for (const f of this.#families.values()) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.kind}`);
      if (f.read) out.push(`${f.name} ${f.read()}`);
      for (const [labels, s] of f.series) out.push(`${f.name}${labels} ${s.value}`);
      for (const h of f.histograms?.values() ?? []) {
        const cumulative = h.cumulative();
        for (let i = 0; i < cumulative.length; i++) {
          const le = i < h.bounds.length ? String(h.bounds[i]) : '+Inf';
          out.push(`${f.name}_bucket${labelText({ ...h.labels, le })} ${cumulative[i]}`);
        }
        out.push(`${f.name}_sum${labelText(h.labels)} ${h.sum}`, `${f.name}_count${labelText(h.labels)} ${h.count}`);
      }
    }
    return out.join('\n') + '\n';
  }

  /** `{ name: value }` for unlabelled series, `{ name: { "k=v": value } }` for labelled ones. */
  snapshot(): Record<string, number | Record<string, number>> {
    const out: Record<string, number | Record<string, number>> = {};
    for (const f of this.#families.values()) {
      if (f.read) {
        out[f.name] = f.read();
        continue;
      }
      for (const h of f.histograms?.values() ?? []) {
        // /v1/stats keeps to flat numbers: a histogram shows as its count and sum.
        const key = Object.entries(h.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        ((out[`${f.name}_count`] ??= {}) as Record<string, number>)[key] = h.count;
        ((out[`${f.name}_sum`] ??= {}) as Record<string, number>)[key] = h.sum;
      }
      for (const s of f.series.values()) {
        const entries = Object.entries(s.labels);
        if (entries.length === 0) out[f.name] = s.value;
        else {
          const bucket = (out[f.name] ??= {}) as Record<string, number>;
          bucket[entries.map(([k, v]) => `${k}=${v}`).join(',')] = s.value;
        }
      }
    }
    return out;
  }
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}
