/**
 * Counters and gauges the node exposes at /metrics (Prometheus text format
 * 0.0.4) and /v1/stats (JSON). Hot paths bump plain number fields; nothing
 * here allocates per event.
 */

type Labels = Readonly<Record<string, string>>;

interface Series { readonly labels: Labels; value: number }

interface Family {
  readonly name: string;
  readonly help: string;
  readonly kind: 'counter' | 'gauge';
  readonly series: Map<string, Series>;
  /** Gauges read at scrape time instead of being pushed. */
  readonly read?: () => number;
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

export class MetricsRegistry {
  readonly #families = new Map<string, Family>();

  /** Returns the series `name{labels}`, creating family and series on first use. */
  counter(name: string, help: string, labels: Labels = {}): Metric {
    return new Metric(this.#series(name, help, 'counter', labels));
  }

  gauge(name: string, help: string, labels: Labels = {}): Metric {
    return new Metric(this.#series(name, help, 'gauge', labels));
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
