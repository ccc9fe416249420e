import { errorType, RateLimitedLog, type LogRecord, type Source, type SourceContext } from '@oma/core';
import { counterGroupsOf, type CounterGroup, type PerformanceCountersConfig } from './config.js';
import { selectCounters, type ObjectSelection } from './specifier.js';
import { nodeProcFiles, SnapshotReader, type PartFailure, type ProcFiles, type Snapshot, type SnapshotPart } from './snapshot.js';

/** One sampled value, ready for the Perf table. */
export interface PerfSample {
  readonly object: string;
  readonly instance: string;
  readonly counter: string;
  readonly value: number;
}

/** The counters of one group and the previous reading its rates are computed against. */
export class CounterGroupSampler {
  readonly parts: ReadonlySet<SnapshotPart>;
  private prev: Snapshot | undefined;

  constructor(private readonly objects: readonly ObjectSelection[], private readonly reader: SnapshotReader) {
    this.parts = new Set(objects.flatMap((o) => o.object.parts));
  }

  /** Reads the files at `atMs` and returns the selected values (rates against the previous call's reading). */
  async sample(atMs: number): Promise<{ samples: PerfSample[]; failures: PartFailure[] }> {
    const { snapshot, failures } = await this.reader.read(this.parts, atMs);
    const samples: PerfSample[] = [];
    for (const sel of this.objects) {
      for (const v of sel.object.compute(this.prev, snapshot)) {
        if (sel.wants(v.instance, v.counter)) samples.push({ object: sel.object.name, instance: v.instance, counter: v.counter, value: v.value });
      }
    }
    this.prev = snapshot;
    return { samples, failures };
  }
}

/** `\\<Computer>\<Object>(<Instance>)\<Counter>`, the CounterPath column. */
export function counterPath(computer: string, s: Pick<PerfSample, 'object' | 'instance' | 'counter'>): string {
  return `\\\\${computer}\\${s.object}(${s.instance})\\${s.counter}`;
}

/** A Perf record per sample, all with the sample time. */
export function perfRecords(computer: string, timeMs: number, samples: readonly PerfSample[]): LogRecord[] {
  const time = new Date(timeMs).toISOString();
  return samples.map((s) => ({
    TimeGenerated: time,
    Computer: computer,
    ObjectName: s.object,
    CounterName: s.counter,
    InstanceName: s.instance,
    CounterValue: s.value,
    CounterPath: counterPath(computer, s),
  }));
}

export interface PerformanceCountersDeps {
  /** File access; the real /proc, /sys, /run and statfs by default. */
  readonly files?: ProcFiles;
}

/**
 * Samples the selected counters of each group every `samplingFrequencySeconds`, at multiples of it on
 * the clock, into the Perf table (docs/performance-counters.md). Rate counters start at the second sample.
 */
export class PerformanceCountersSource implements Source {
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private readonly rateLog: RateLimitedLog;
  private readonly reader: SnapshotReader;

  constructor(
    private readonly config: PerformanceCountersConfig,
    private readonly ctx: SourceContext,
    deps: PerformanceCountersDeps = {},
  ) {
    this.reader = new SnapshotReader(deps.files ?? nodeProcFiles);
    this.rateLog = new RateLimitedLog(10_000, () => ctx.clock.now());
  }

  start(): Promise<void> {
    for (const group of counterGroupsOf(this.config)) {
      const { objects, unknown } = selectCounters(group.counterSpecifiers);
      for (const u of unknown) this.ctx.log.warn({ counterSpecifier: u.text, reason: u.message }, 'performance counter not known on Linux; ignored');
      if (objects.length === 0) continue;
      this.loops.push(this.run(group, new CounterGroupSampler(objects, this.reader)));
    }
    if (this.loops.length === 0) this.ctx.log.warn('no known performance counter selected; nothing to sample');
    return Promise.resolve();
  }

  private async run(group: CounterGroup, sampler: CounterGroupSampler): Promise<void> {
    const { clock } = this.ctx;
    const signal = this.abort.signal;
    const periodMs = group.samplingFrequencySeconds * 1000;
    try {
      while (!signal.aborted) {
        // The next multiple of the period; ticks missed while the queue was full are skipped, not caught up.
        const now = clock.now();
        const at = (Math.floor(now / periodMs) + 1) * periodMs;
        await clock.sleep(at - now, signal);
        const { samples, failures } = await sampler.sample(clock.now());
        for (const f of failures) {
          const suppressed = this.rateLog.admit(`${f.part}:${f.path}`);
          if (suppressed >= 0) this.ctx.log.warn({ err: f.err, path: f.path, suppressed }, 'performance counter source file not readable; its counters skipped');
        }
        if (samples.length === 0) continue;
        try {
          await this.ctx.emit({ table: 'Perf', records: perfRecords(this.ctx.host.computer, at, samples) }, signal);
          this.ctx.log.debug({ count: samples.length }, 'performance counters sampled');
        } catch (err) {
          if (signal.aborted) return;
          this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'emit' });
          this.ctx.log.warn({ err, count: samples.length }, 'performance counter samples not queued');
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      // A loop that dies is reported; the pipeline restarts the source.
      this.ctx.fail(err);
    }
  }

  async stop(_signal: AbortSignal): Promise<void> {
    this.abort.abort(new Error('source stopped'));
    await Promise.all(this.loops);
  }
}
