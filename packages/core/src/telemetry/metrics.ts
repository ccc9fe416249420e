/**
 * A small Prometheus registry: counters and gauges with labels, rendered in the text exposition format.
 * Metric names follow `oma_<component|buffer|pipeline>_<what>_<unit>[_total]`.
 */
export type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.map((k) => `${k}="${escapeLabel(labels[k] ?? '')}"`).join(',');
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

abstract class Metric {
  protected readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge') {}

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels))?.value ?? 0;
  }

  /** Sum over every label set whose labels include `match`. */
  sum(match: Labels = {}): number {
    let total = 0;
    for (const { labels, value } of this.values.values()) {
      if (Object.entries(match).every(([k, v]) => labels[k] === v)) total += value;
    }
    return total;
  }

  entries(): Array<{ labels: Labels; value: number }> {
    return [...this.values.values()];
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [key, { value }] of this.values) {
      lines.push(`${this.name}${key ? `{${key}}` : ''} ${Number.isFinite(value) ? value : 0}`);
    }
    return lines.join('\n');
  }

  protected slot(labels: Labels): { labels: Labels; value: number } {
    const key = labelKey(labels);
    let s = this.values.get(key);
    if (!s) {
      s = { labels: { ...labels }, value: 0 };
      this.values.set(key, s);
    }
    return s;
  }
}

export class Counter extends Metric {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) throw new Error(`counter ${this.name} cannot decrease`);
    this.slot(labels).value += by;
  }
}

export class Gauge extends Metric {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }
  set(labels: Labels, value: number): void {
    this.slot(labels).value = value;
  }
  add(labels: Labels, by: number): void {
    this.slot(labels).value += by;
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors: Array<() => void> = [];

  counter(name: string, help: string): Counter {
    return this.getOrCreate(name, () => new Counter(name, help), Counter);
  }

  gauge(name: string, help: string): Gauge {
    return this.getOrCreate(name, () => new Gauge(name, help), Gauge);
  }

  /** Registers a callback run before every render (to refresh gauges such as queue bytes). */
  onCollect(fn: () => void): () => void {
    this.collectors.push(fn);
    return () => {
      const i = this.collectors.indexOf(fn);
      if (i >= 0) this.collectors.splice(i, 1);
    };
  }

  collect(): void {
    for (const fn of this.collectors) fn();
  }

  find(name: string): Metric | undefined {
    return this.metrics.get(name);
  }

  render(): string {
    this.collect();
    return [...this.metrics.values()].map((m) => m.render()).join('\n') + '\n';
  }

  private getOrCreate<T extends Metric>(name: string, make: () => T, ctor: abstract new (...a: never[]) => T): T {
    const existing = this.metrics.get(name);
    if (existing) {
      if (!(existing instanceof ctor)) throw new Error(`metric ${name} registered with another type`);
      return existing;
    }
    const m = make();
    this.metrics.set(name, m);
    return m;
  }
}
