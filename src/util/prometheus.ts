/**
 * Prometheus' text exposition format (version 0.0.4), written by lvsd itself: counters,
 * gauges and histograms with labels, a registry that renders them in the order they were
 * made. lvsd used prom-client for this, and 88 CommonJS modules with it for a dozen series
 * (1.0-1.5 MiB of the daemon's resident memory: bench/results/2026-12-07-metrics-rss.md).
 * The output is the one prom-client wrote: the same HELP and TYPE lines, label values
 * escaped the same way (backslash, double quote, newline), a histogram's `le` first and
 * its buckets cumulative up to +Inf, then _sum and _count, and a metric without labels
 * shown at 0 before its first change.
 */

/** What /metrics answers with, as prom-client's registry said. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A label value in the text format: backslash, double quote and newline escaped. */
export function labelValue(value: string): string {
  // Most values have none of the three: one test instead of three replaces.
  if (!/[\\"\n]/.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and newline (not the quote). */
function helpText(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value: Prometheus spells the infinities +Inf and -Inf, and NaN. */
export function sampleValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return Number.isNaN(value) ? 'NaN' : `${value}`;
}

/** The HELP and TYPE lines of a family. */
export function familyHeader(name: string, type: MetricType, help: string): string {
  return `# HELP ${name} ${helpText(help)}\n# TYPE ${name} ${type}\n`;
}

export type MetricType = 'counter' | 'gauge' | 'histogram';
export type Labels<L extends string> = Partial<Record<L, string | number>>;

interface Metric {
  render(): string;
}

/** The metrics of one daemon (tests and several daemons in one process do not share them). */
export class Registry {
  private readonly metrics: Metric[] = [];
  private readonly names = new Set<string>();

  register(name: string, metric: Metric): void {
    if (this.names.has(name)) throw new Error(`metric ${name} is registered twice`);
    this.names.add(name);
    this.metrics.push(metric);
  }

  render(): string {
    return this.metrics.map((m) => m.render()).join('');
  }
}

interface MetricOptions<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  registry: Registry;
}

/**
 * A metric's series, one per label set, keyed by the label set as it is written (names in
 * the declared order, values escaped), so a label set appears once however its object is
 * ordered.
 */
abstract class Series<L extends string, V> implements Metric {
  readonly name: string;
  protected readonly help: string;
  protected readonly labelNames: readonly L[];
  protected readonly series = new Map<string, V>();

  constructor(options: MetricOptions<L>) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(options.name))
      throw new Error(`invalid metric name ${options.name}`);
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
    options.registry.register(options.name, this);
  }

  /** Forgets every series; a metric without labels goes back to its zero. */
  reset(): void {
    this.series.clear();
  }

  protected abstract zero(): V;
  abstract render(): string;

  /** The series to write; a metric without labels is written (at its zero) before its first change. */
  protected written(): Map<string, V> {
    if (this.labelNames.length === 0 && this.series.size === 0) this.at(undefined);
    return this.series;
  }

  /** The series of a label set, made on first use. */
  protected at(labels: Labels<L> | undefined): V {
    const key = this.key(labels ?? {});
    let value = this.series.get(key);
    if (value === undefined) this.series.set(key, (value = this.zero()));
    return value;
  }

  /**
   * The label set as it is written. A loop over the declared names, not filter, map and join:
   * a labelled increment runs this each time (each transition and pass of a mass failure
   * makes a few), and under the lab's emulation the main thread is what a mass failure waits
   * for (issue 15).
   */
  protected key(labels: Labels<L>): string {
    let key = '';
    let found = 0;
    for (const name of this.labelNames) {
      const value = labels[name];
      if (value === undefined) continue;
      found++;
      key += `${key ? ',' : ''}${name}="${labelValue(String(value))}"`;
    }
    // A label the metric does not have is a bug where it was called: said, not dropped.
    if (found !== Object.keys(labels).length) this.unknownLabel(labels);
    return key;
  }

  private unknownLabel(labels: Labels<L>): void {
    for (const name of Object.keys(labels))
      if (!this.labelNames.includes(name as L))
        throw new Error(
          `${this.name} has no label ${name} (it has: ${this.labelNames.join(', ')})`,
        );
  }
}

/** A family of single-number series (counter or gauge). */
abstract class Scalar<L extends string> extends Series<L, { value: number }> {
  protected abstract readonly type: 'counter' | 'gauge';

  protected zero(): { value: number } {
    return { value: 0 };
  }

  render(): string {
    let out = familyHeader(this.name, this.type, this.help);
    for (const [key, { value }] of this.written())
      out += `${this.name}${key ? `{${key}}` : ''} ${sampleValue(value)}\n`;
    return out;
  }

  /** The value of a label set (0 if never set), for tests and status. */
  get(labels?: Labels<L>): number {
    return this.series.get(this.key(labels ?? {}))?.value ?? 0;
  }
}

/** Splits inc()'s arguments: (), (value), (labels) or (labels, value). */
function incArgs<L extends string>(
  a?: Labels<L> | number,
  b?: number,
): [Labels<L> | undefined, number] {
  return typeof a === 'number' ? [undefined, a] : [a, b ?? 1];
}

/** Only grows: a decrease or a value that is not a number is refused, as prom-client did. */
export class Counter<L extends string = never> extends Scalar<L> {
  protected readonly type = 'counter';

  inc(labelsOrValue?: Labels<L> | number, value?: number): void {
    const [labels, by] = incArgs(labelsOrValue, value);
    if (!(by >= 0)) throw new Error(`${this.name}: a counter cannot change by ${by}`);
    this.at(labels).value += by;
  }
}

export class Gauge<L extends string = never> extends Scalar<L> {
  protected readonly type = 'gauge';

  set(labelsOrValue: Labels<L> | number, value?: number): void {
    if (typeof labelsOrValue === 'number') this.at(undefined).value = labelsOrValue;
    else this.at(labelsOrValue).value = value ?? 0;
  }
}

interface Buckets {
  /** Per bucket, not cumulative; the last slot is +Inf. */
  counts: Float64Array;
  sum: number;
}

/** Observations counted into fixed buckets, written cumulative with +Inf, _sum and _count. */
export class Histogram<L extends string = never> extends Series<L, Buckets> {
  private readonly bounds: readonly number[];

  constructor(options: MetricOptions<L> & { buckets: readonly number[] }) {
    super(options);
    this.bounds = [...options.buckets].sort((x, y) => x - y);
  }

  protected zero(): Buckets {
    return { counts: new Float64Array(this.bounds.length + 1), sum: 0 };
  }

  observe(labels: Labels<L>, seconds: number): void {
    if (Number.isNaN(seconds)) throw new Error(`${this.name}: cannot observe NaN`);
    const b = this.at(labels);
    let slot = 0;
    while (slot < this.bounds.length && seconds > this.bounds[slot]!) slot++;
    b.counts[slot]!++;
    b.sum += seconds;
  }

  render(): string {
    let out = familyHeader(this.name, 'histogram', this.help);
    for (const [key, { counts, sum }] of this.written()) {
      const rest = key ? `,${key}` : '';
      let cumulative = 0;
      for (let i = 0; i < counts.length; i++) {
        cumulative += counts[i]!;
        const le = i < this.bounds.length ? sampleValue(this.bounds[i]!) : '+Inf';
        out += `${this.name}_bucket{le="${le}"${rest}} ${cumulative}\n`;
      }
      const braces = key ? `{${key}}` : '';
      out += `${this.name}_sum${braces} ${sampleValue(sum)}\n${this.name}_count${braces} ${cumulative}\n`;
    }
    return out;
  }
}
