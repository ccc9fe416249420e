import {
  errorType,
  isWin32Error,
  PDH_STATUS,
  RateLimitedLog,
  Win32Error,
  type LogRecord,
  type PdhBinding,
  type PdhCounter,
  type PdhCounterReading,
  type PdhQuery,
  type SourceContext,
  type Source,
} from '@oma/core';
import { checkSpecifier, counterGroupsOf, type CollectedSpecifier, type CounterGroup, type WindowsPerformanceCountersConfig } from './config.js';
import { formatCounterPath, perfCounterPath } from './path.js';

/** How long a counter that could not be added (its object is not on this host now) waits before the next try. */
export const UNAVAILABLE_RETRY_MS = 5 * 60_000;

/** The symbolic name of a PDH status for logs (`CSTATUS_NO_OBJECT`), or its hex code. */
export function pdhStatusName(status: number): string {
  for (const [name, code] of Object.entries(PDH_STATUS)) if (code === status) return name;
  return `0x${(status >>> 0).toString(16).padStart(8, '0')}`;
}

/** One counter of a group's query, added or waiting for its next try. */
interface GroupCounter {
  readonly spec: CollectedSpecifier;
  /** The path added: the specifier's, or with `(*)` once the object turned out to have instances. */
  englishPath: string;
  counter: PdhCounter | undefined;
  /** When to try adding it again (clock ms); meaningful while `counter` is undefined. */
  retryAtMs: number;
  /** Whether the failure to add it was logged (once, at warn; retries log at debug). */
  reported: boolean;
}

/** A Perf record per value of a reading, all at `timeMs`. */
export function perfRecords(computer: string, timeMs: number, spec: CollectedSpecifier, reading: PdhCounterReading): LogRecord[] {
  const time = new Date(timeMs).toISOString();
  const { object, counter } = spec.path;
  return reading.values.map((v) => ({
    TimeGenerated: time,
    Computer: computer,
    ObjectName: object,
    CounterName: counter,
    InstanceName: v.instance,
    CounterValue: v.value,
    CounterPath: perfCounterPath(computer, object, v.instance, counter),
  }));
}

/** The counters of one sampling group over one PDH query. */
class GroupQuery {
  private readonly counters: GroupCounter[];

  constructor(
    readonly group: CounterGroup,
    private readonly query: PdhQuery,
    specs: readonly CollectedSpecifier[],
    private readonly ctx: SourceContext,
    private readonly rateLog: RateLimitedLog,
  ) {
    this.counters = specs.map((spec) => ({ spec, englishPath: spec.englishPath, counter: undefined, retryAtMs: 0, reported: false }));
  }

  /** Adds the counters not added yet whose time has come; those that fail wait for `UNAVAILABLE_RETRY_MS`. */
  addDue(nowMs: number): void {
    for (const c of this.counters) {
      if (c.counter || c.retryAtMs > nowMs) continue;
      this.add(c, nowMs);
    }
  }

  private add(c: GroupCounter, nowMs: number): void {
    const { log } = this.ctx;
    try {
      c.counter = this.query.addCounter(c.englishPath);
      if (c.reported) log.info({ counterSpecifier: c.spec.text }, 'performance counter available now; collected');
      c.reported = false;
    } catch (err) {
      if (isWin32Error(err, PDH_STATUS.CSTATUS_NO_INSTANCE) && this.canWiden(c)) {
        this.everyInstance(c, nowMs);
        return;
      }
      c.retryAtMs = nowMs + UNAVAILABLE_RETRY_MS;
      if (isWin32Error(err, PDH_STATUS.CSTATUS_BAD_COUNTERNAME)) {
        // PDH refuses the path's syntax: trying again cannot help.
        c.retryAtMs = Number.POSITIVE_INFINITY;
        log.warn({ err, counterSpecifier: c.spec.text }, 'performance counter path refused by PDH; not collected');
        return;
      }
      const status = err instanceof Win32Error ? pdhStatusName(err.win32) : undefined;
      if (c.reported) {
        log.debug({ err, counterSpecifier: c.spec.text, status }, 'performance counter still not available');
        return;
      }
      c.reported = true;
      log.warn({ err, counterSpecifier: c.spec.text, status, retryMs: UNAVAILABLE_RETRY_MS }, 'performance counter not available on this host; retried later');
    }
  }

  /** Collects the query and reads every added counter into Perf records at `timeMs`. */
  sample(timeMs: number): LogRecord[] {
    const added = this.counters.filter((c) => c.counter !== undefined);
    if (added.length === 0) return [];
    try {
      this.query.collect();
    } catch (err) {
      this.warn(`collect:${this.group.samplingFrequencySeconds}`, { err }, 'performance counter collection failed');
      this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'collect' });
      return [];
    }
    const records: LogRecord[] = [];
    const computer = this.ctx.host.computer;
    for (const c of added) {
      try {
        const reading = this.query.read(c.counter!);
        switch (reading.status) {
          case PDH_STATUS.CSTATUS_VALID_DATA:
          case PDH_STATUS.CSTATUS_NEW_DATA:
            for (const r of perfRecords(computer, timeMs, c.spec, reading)) records.push(r);
            break;
          case PDH_STATUS.INVALID_DATA: // a rate counter's first collection
          case PDH_STATUS.NO_DATA: // a wildcard that matches no instance now
            break;
          case PDH_STATUS.CSTATUS_NO_INSTANCE:
            if (this.canWiden(c)) this.everyInstance(c, timeMs);
            break;
          case PDH_STATUS.CSTATUS_NO_OBJECT:
            this.gone(c, timeMs);
            break;
          default:
            this.warn(`status:${c.spec.text}`, { counterSpecifier: c.spec.text, status: pdhStatusName(reading.status) }, 'performance counter gave no value');
        }
      } catch (err) {
        this.warn(`read:${c.spec.text}`, { err, counterSpecifier: c.spec.text }, 'performance counter not readable');
      }
    }
    return records;
  }

  /**
   * The counter's object went away after it was added (its service stopped, its provider was
   * unloaded): the counter is removed and added again like one that was never available.
   */
  private gone(c: GroupCounter, nowMs: number): void {
    this.query.removeCounter(c.counter!);
    c.counter = undefined;
    c.retryAtMs = nowMs + UNAVAILABLE_RETRY_MS;
    if (c.reported) return;
    c.reported = true;
    this.ctx.log.warn(
      { counterSpecifier: c.spec.text, status: pdhStatusName(PDH_STATUS.CSTATUS_NO_OBJECT), retryMs: UNAVAILABLE_RETRY_MS },
      'performance counter object went away; retried later',
    );
  }

  /** Whether the counter is a `\Object\Counter` specifier not yet widened to every instance. */
  private canWiden(c: GroupCounter): boolean {
    return c.spec.path.instance === undefined && c.englishPath === c.spec.englishPath;
  }

  /**
   * `\Object\Counter` of an object that has instances (PDH says CSTATUS_NO_INSTANCE when it is added
   * or read): MMA collected every instance for it, so the counter is added again as `\Object(*)\Counter`.
   */
  private everyInstance(c: GroupCounter, nowMs: number): void {
    if (c.counter) this.query.removeCounter(c.counter);
    c.counter = undefined;
    c.englishPath = formatCounterPath({ ...c.spec.path, instance: '*' });
    this.ctx.log.info({ counterSpecifier: c.spec.text, path: c.englishPath }, 'performance object has instances; every instance collected');
    this.add(c, nowMs);
  }

  private warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const suppressed = this.rateLog.admit(key);
    if (suppressed >= 0) this.ctx.log.warn({ ...fields, suppressed }, msg);
  }

  close(): void {
    this.query.close();
  }
}

/**
 * Samples Windows performance counters through PDH (docs/windows-performance-counters.md): one query
 * per sampling group, collected at multiples of the group's frequency on the clock, into the Perf
 * table. Rate counters start at the second collection; wildcard instances are read as they are at
 * each collection; counters whose object is missing are retried every `UNAVAILABLE_RETRY_MS`.
 */
export class WindowsPerformanceCountersSource implements Source {
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private readonly queries: GroupQuery[] = [];
  private readonly rateLog: RateLimitedLog;

  constructor(
    private readonly config: WindowsPerformanceCountersConfig,
    private readonly ctx: SourceContext,
    private readonly binding: () => PdhBinding,
  ) {
    this.rateLog = new RateLimitedLog(10_000, () => ctx.clock.now());
  }

  start(): Promise<void> {
    const { log, clock } = this.ctx;
    const plans: Array<{ group: CounterGroup; specs: CollectedSpecifier[] }> = [];
    for (const group of counterGroupsOf(this.config)) {
      const specs: CollectedSpecifier[] = [];
      for (const text of group.counterSpecifiers) {
        const check = checkSpecifier(text);
        if (!check.ok) {
          log.warn({ counterSpecifier: text, reason: check.problem }, 'performance counter specifier not collected');
          continue;
        }
        if (check.specifier.note) log.info({ counterSpecifier: text, reason: check.specifier.note }, 'performance counter specifier changed');
        specs.push(check.specifier);
      }
      if (specs.length > 0) plans.push({ group, specs });
    }
    if (plans.length === 0) {
      log.warn('no performance counter to collect');
      return Promise.resolve();
    }
    try {
      const binding = this.binding();
      for (const { group, specs } of plans) this.queries.push(new GroupQuery(group, binding.openQuery(), specs, this.ctx, this.rateLog));
    } catch (err) {
      for (const q of this.queries.splice(0)) q.close();
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    for (const q of this.queries) {
      q.addDue(clock.now());
      this.loops.push(this.run(q));
    }
    return Promise.resolve();
  }

  private async run(q: GroupQuery): Promise<void> {
    const { clock } = this.ctx;
    const signal = this.abort.signal;
    const periodMs = q.group.samplingFrequencySeconds * 1000;
    try {
      while (!signal.aborted) {
        // The next multiple of the period; ticks missed while the queue was full are skipped, not caught up.
        const now = clock.now();
        await clock.sleep((Math.floor(now / periodMs) + 1) * periodMs - now, signal);
        const at = clock.now();
        q.addDue(at);
        const records = q.sample(at);
        if (records.length === 0) continue;
        try {
          await this.ctx.emit({ table: 'Perf', records }, signal);
          this.ctx.log.debug({ count: records.length }, 'performance counters sampled');
        } catch (err) {
          if (signal.aborted) return;
          this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'emit' });
          this.ctx.log.warn({ err, count: records.length }, 'performance counter samples not queued');
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
    for (const q of this.queries.splice(0)) q.close();
  }
}
