import { createRootLogger, PDH_STATUS, PERF, validateRecord, Win32Error, type PdhBinding, type RecordBatch } from '@oma/core';
import { FakeClock, FakePdh, testSourceContext } from '@oma/core/testing';
import { describe, expect, it } from 'vitest';
import { createPlatform } from '../../platform.js';
import { DEFAULT_COUNTER_GROUPS, windowsPerformanceCountersConfigSchema } from './config.js';
import { UNAVAILABLE_RETRY_MS, WindowsPerformanceCountersSource } from './performance-counters.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 3); // 3 s past a whole minute

/** A logger whose lines end up in `lines`, parsed. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createRootLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { log, lines };
}

/** A host with the objects of the default set, Processor with two CPUs. */
function windowsHost(clock: FakeClock): FakePdh {
  return new FakePdh(() => clock.now())
    .defineObject('Processor', { counters: { '% Processor Time': 'rate', '% Idle Time': 'rate' }, instances: ['0', '1', '_Total'] })
    .defineObject('Memory', { counters: { 'Available MBytes': 'instant', '% Committed Bytes In Use': 'instant' } })
    .defineObject('System', { counters: { 'Processor Queue Length': 'instant', 'System Up Time': 'instant' } })
    .defineObject('LogicalDisk', {
      counters: {
        '% Free Space': 'instant',
        'Avg. Disk sec/Read': 'instant',
        'Avg. Disk sec/Write': 'instant',
        'Current Disk Queue Length': 'instant',
        'Disk Reads/sec': 'rate',
        'Disk Transfers/sec': 'rate',
        'Disk Writes/sec': 'rate',
        'Free Megabytes': 'instant',
      },
      instances: ['C:', '_Total'],
    })
    .defineObject('Network Adapter', { counters: { 'Bytes Received/sec': 'rate', 'Bytes Sent/sec': 'rate' }, instances: ['Intel[R] Ethernet'] })
    .defineObject('Network Interface', { counters: { 'Bytes Total/sec': 'rate' }, instances: ['Intel[R] Ethernet'] })
    .setRaw('Memory', 'Available MBytes', '', 2048);
}

const rows = (batches: readonly RecordBatch[]) => batches.flatMap((b) => b.records.map((r) => [r.TimeGenerated, r.CounterPath, r.CounterValue]));

describe('Windows performance_counters source', () => {
  it('collects each group on its own query at multiples of its frequency into Perf; rates from the second collection', async () => {
    const clock = new FakeClock(T0);
    const ctx = testSourceContext({ clock });
    const pdh = windowsHost(clock).setRaw('Processor', '% Processor Time', '_Total', 0);
    const config = windowsPerformanceCountersConfigSchema.parse({
      counterGroups: [
        { samplingFrequencySeconds: 10, counterSpecifiers: ['\\Processor(_Total)\\% Processor Time', '\\Memory\\Available MBytes'] },
        { samplingFrequencySeconds: 60, counterSpecifiers: ['\\System\\Processor Queue Length'] },
      ],
    });
    const src = new WindowsPerformanceCountersSource(config, ctx, () => pdh);
    await src.start();
    expect(pdh.openQueries).toBe(2);
    await clock.advance(6_999);
    expect(ctx.emitted).toHaveLength(0);
    await clock.advance(1); // 12:00:10
    expect(ctx.emitted).toHaveLength(1);
    // the processor time is a rate: nothing at its first collection
    expect(ctx.emitted[0]).toEqual({
      table: 'Perf',
      records: [
        {
          TimeGenerated: '2026-01-01T12:00:10.000Z',
          Computer: 'test-host',
          ObjectName: 'Memory',
          CounterName: 'Available MBytes',
          InstanceName: '',
          CounterValue: 2048,
          CounterPath: '\\\\test-host\\Memory\\Available MBytes',
        },
      ],
    });
    // 2.5 CPU seconds of a 2-CPU host in 10 s, as the raw 100 ns count of a rate counter: 25 per second
    pdh.setRaw('Processor', '% Processor Time', '_Total', 250).setRaw('Memory', 'Available MBytes', '', 2000);
    await clock.advance(10_000); // 12:00:20
    expect(rows(ctx.emitted.slice(1))).toEqual([
      ['2026-01-01T12:00:20.000Z', '\\\\test-host\\Processor(_Total)\\% Processor Time', 25],
      ['2026-01-01T12:00:20.000Z', '\\\\test-host\\Memory\\Available MBytes', 2000],
    ]);
    expect(ctx.emitted[1]!.records[0]).toMatchObject({ ObjectName: 'Processor', CounterName: '% Processor Time', InstanceName: '_Total' });
    await clock.advance(40_000); // 12:01:00: both groups
    const last = ctx.emitted.slice(-2).flatMap((b) => b.records.map((r) => `${r.TimeGenerated as string} ${r.CounterName as string}`));
    expect(last.sort()).toEqual(['2026-01-01T12:01:00.000Z % Processor Time', '2026-01-01T12:01:00.000Z Available MBytes', '2026-01-01T12:01:00.000Z Processor Queue Length']);
    for (const b of ctx.emitted) for (const r of b.records) expect(validateRecord(PERF, r)).toEqual([]);
    await src.stop(AbortSignal.timeout(1000));
    expect(pdh.openQueries).toBe(0);
    expect(clock.pendingSleeps).toBe(0);
    expect(ctx.failures).toEqual([]);
  });

  it('reads wildcard instances as they are at each collection, and tolerates none', async () => {
    const clock = new FakeClock(T0);
    const { log, lines } = capturingLogger();
    const ctx = testSourceContext({ clock, log });
    const pdh = new FakePdh(() => clock.now())
      .defineObject('Process', { counters: { 'Working Set': 'instant', 'IO Data Bytes/sec': 'rate' }, instances: ['w3wp', 'svchost'] })
      .setRaw('Process', 'Working Set', 'w3wp', 100)
      .setRaw('Process', 'Working Set', 'svchost', 200)
      .setRaw('Process', 'Working Set', 'w3wp#1', 300);
    const config = windowsPerformanceCountersConfigSchema.parse({ counterSpecifiers: ['\\Process(*)\\Working Set', '\\Process(*)\\IO Data Bytes/sec'], samplingFrequencySeconds: 1 });
    const src = new WindowsPerformanceCountersSource(config, ctx, () => pdh);
    await src.start();
    await clock.advance(1000);
    expect(ctx.emitted.at(-1)!.records.map((r) => [r.InstanceName, r.CounterValue, r.CounterPath])).toEqual([
      ['w3wp', 100, '\\\\test-host\\Process(w3wp)\\Working Set'],
      ['svchost', 200, '\\\\test-host\\Process(svchost)\\Working Set'],
    ]);
    // a second w3wp starts, svchost ends
    pdh.addInstance('Process', 'w3wp#1').removeInstance('Process', 'svchost');
    pdh.setRaw('Process', 'IO Data Bytes/sec', 'w3wp', 5000);
    await clock.advance(1000);
    expect(ctx.emitted.at(-1)!.records.map((r) => [r.CounterName, r.InstanceName, r.CounterValue])).toEqual([
      ['Working Set', 'w3wp', 100],
      ['Working Set', 'w3wp#1', 300],
      ['IO Data Bytes/sec', 'w3wp', 5000], // w3wp#1 is new: its rate starts at the next collection
    ]);
    const emittedBefore = ctx.emitted.length;
    pdh.setInstances('Process', []);
    await clock.advance(1000);
    await clock.advance(1000);
    expect(ctx.emitted).toHaveLength(emittedBefore); // no instance: nothing to emit, nothing wrong
    pdh.addInstance('Process', 'w3wp');
    await clock.advance(1000);
    expect(ctx.emitted.at(-1)!.records.map((r) => [r.CounterName, r.InstanceName])).toEqual([['Working Set', 'w3wp']]);
    expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
    expect(ctx.failures).toEqual([]);
    await src.stop(AbortSignal.timeout(1000));
  });

  it('logs a counter whose object is missing once, retries it at a slow interval, and collects the others meanwhile', async () => {
    const clock = new FakeClock(T0);
    const { log, lines } = capturingLogger();
    const ctx = testSourceContext({ clock, log });
    const pdh = windowsHost(clock);
    const iis = '\\Web Service(_Total)\\Bytes Total/sec';
    const config = windowsPerformanceCountersConfigSchema.parse({ counterSpecifiers: [iis, '\\Memory\\Available MBytes', '\\Memory\\No Such Counter'], samplingFrequencySeconds: 10 });
    const src = new WindowsPerformanceCountersSource(config, ctx, () => pdh);
    await src.start();
    const warnings = () => lines.filter((l) => l.level === 40);
    expect(warnings()).toEqual([
      expect.objectContaining({ msg: 'performance counter not available on this host; retried later', counterSpecifier: iis, status: 'CSTATUS_NO_OBJECT', retryMs: UNAVAILABLE_RETRY_MS }),
      expect.objectContaining({ msg: 'performance counter not available on this host; retried later', counterSpecifier: '\\Memory\\No Such Counter', status: 'CSTATUS_NO_COUNTER' }),
    ]);
    for (let i = 0; i < 6; i++) await clock.advance(10_000);
    expect(ctx.emitted).toHaveLength(6);
    expect(new Set(ctx.emitted.flatMap((b) => b.records.map((r) => r.CounterName)))).toEqual(new Set(['Available MBytes']));
    expect(pdh.added.filter((p) => p === iis)).toHaveLength(1); // not retried every collection
    // IIS gets installed; the next try, at the first collection 5 min after the first try, adds it
    pdh.defineObject('Web Service', { counters: { 'Bytes Total/sec': 'rate' }, instances: ['_Total', 'Default Web Site'] });
    pdh.setRaw('Web Service', 'Bytes Total/sec', '_Total', 0);
    while (clock.now() + 10_000 < T0 + UNAVAILABLE_RETRY_MS) await clock.advance(10_000);
    expect(pdh.added.filter((p) => p === iis)).toHaveLength(1);
    await clock.advance(10_000);
    expect(clock.now()).toBe(T0 + UNAVAILABLE_RETRY_MS);
    expect(pdh.added.filter((p) => p === iis)).toHaveLength(2);
    expect(lines.filter((l) => l.msg === 'performance counter available now; collected')).toEqual([expect.objectContaining({ counterSpecifier: iis })]);
    pdh.setRaw('Web Service', 'Bytes Total/sec', '_Total', 30_000);
    await clock.advance(10_000);
    expect(ctx.emitted.at(-1)!.records.map((r) => [r.CounterPath, r.CounterValue])).toEqual([
      ['\\\\test-host\\Web Service(_Total)\\Bytes Total/sec', 3000],
      ['\\\\test-host\\Memory\\Available MBytes', 2048],
    ]);
    // the counter that still does not exist was tried again, but not logged again at warn
    expect(pdh.added.filter((p) => p === '\\Memory\\No Such Counter')).toHaveLength(2);
    expect(warnings()).toHaveLength(2);
    expect(ctx.failures).toEqual([]);
    await src.stop(AbortSignal.timeout(1000));
  });

  it('takes back counters whose object goes away, logs it once, and collects them again when the object is back', async () => {
    const clock = new FakeClock(T0);
    const { log, lines } = capturingLogger();
    const ctx = testSourceContext({ clock, log });
    const sql = '\\MSSQL$SQL1:Buffer Manager\\Page life expectancy';
    const pdh = windowsHost(clock)
      .defineObject('MSSQL$SQL1:Buffer Manager', { counters: { 'Page life expectancy': 'instant' } })
      .setRaw('MSSQL$SQL1:Buffer Manager', 'Page life expectancy', '', 300);
    const config = windowsPerformanceCountersConfigSchema.parse({ counterSpecifiers: [sql, '\\Memory\\Available MBytes'], samplingFrequencySeconds: 10 });
    const src = new WindowsPerformanceCountersSource(config, ctx, () => pdh);
    await src.start();
    await clock.advance(7000); // 12:00:10
    expect(ctx.emitted.at(-1)!.records.map((r) => r.CounterPath)).toEqual(['\\\\test-host\\MSSQL$SQL1:Buffer Manager\\Page life expectancy', '\\\\test-host\\Memory\\Available MBytes']);
    pdh.removeObject('MSSQL$SQL1:Buffer Manager'); // the SQL Server service stops
    for (let i = 0; i < 6; i++) await clock.advance(10_000);
    expect(ctx.emitted.slice(1).map((b) => b.records.map((r) => r.CounterName))).toEqual(Array.from({ length: 6 }, () => ['Available MBytes']));
    const gone = () => lines.filter((l) => l.msg === 'performance counter object went away; retried later');
    expect(gone()).toEqual([expect.objectContaining({ counterSpecifier: sql, status: 'CSTATUS_NO_OBJECT' })]);
    expect(lines.filter((l) => l.level === 40)).toHaveLength(1);
    // back before the next try: collected again from that try on
    pdh.defineObject('MSSQL$SQL1:Buffer Manager', { counters: { 'Page life expectancy': 'instant' } });
    for (let i = 0; i < 30 && !ctx.emitted.at(-1)!.records.some((r) => r.CounterName === 'Page life expectancy'); i++) await clock.advance(10_000);
    expect(ctx.emitted.at(-1)!.records.map((r) => [r.CounterName, r.CounterValue])).toEqual([['Page life expectancy', 300], ['Available MBytes', 2048]]);
    expect(pdh.added.filter((p) => p === sql)).toHaveLength(2);
    expect(clock.now() - (T0 + 17_000)).toBeGreaterThanOrEqual(UNAVAILABLE_RETRY_MS);
    expect(ctx.failures).toEqual([]);
    await src.stop(AbortSignal.timeout(1000));
  });

  it('emits values above 100 as they are', async () => {
    const clock = new FakeClock(T0);
    const ctx = testSourceContext({ clock });
    const pdh = new FakePdh(() => clock.now())
      .defineObject('Processor Information', { counters: { '% Processor Utility': 'instant' }, instances: ['_Total'] })
      .setRaw('Processor Information', '% Processor Utility', '_Total', 163.25);
    const config = windowsPerformanceCountersConfigSchema.parse({ counterSpecifiers: ['\\Processor Information(_Total)\\% Processor Utility'], samplingFrequencySeconds: 5 });
    const src = new WindowsPerformanceCountersSource(config, ctx, () => pdh);
    await src.start();
    await clock.advance(2000);
    expect(ctx.emitted.flatMap((b) => b.records.map((r) => r.CounterValue))).toEqual([163.25]);
    await src.stop(AbortSignal.timeout(1000));
  });

  it('collects the starter set every 10 s with no options', async () => {
    const clock = new FakeClock(T0);
    const ctx = testSourceContext({ clock });
    const pdh = windowsHost(clock);
    const src = new WindowsPerformanceCountersSource(windowsPerformanceCountersConfigSchema.parse({}), ctx, () => pdh);
    await src.start();
    expect(pdh.added).toEqual(DEFAULT_COUNTER_GROUPS[0]!.counterSpecifiers);
    await clock.advance(7000); // 12:00:10: instant counters only
    await clock.advance(10_000); // 12:00:20: the rates too
    const second = ctx.emitted.at(-1)!.records;
    expect(new Set(second.map((r) => `${r.ObjectName as string}\\${r.CounterName as string}`))).toEqual(
      new Set(DEFAULT_COUNTER_GROUPS[0]!.counterSpecifiers.map((s) => s.replace(/^\\/, '').replace(/\(.*?\)/, ''))),
    );
    expect(second.filter((r) => r.ObjectName === 'LogicalDisk' && r.CounterName === 'Free Megabytes').map((r) => r.InstanceName)).toEqual(['C:', '_Total']);
    expect(second.filter((r) => r.ObjectName === 'Processor').map((r) => r.InstanceName)).toEqual(['_Total']);
    await src.stop(AbortSignal.timeout(1000));
  });

  it('skips specifiers that do not parse or name a wildcard counter, and drops a machine part', async () => {
    const clock = new FakeClock(T0);
    const { log, lines } = capturingLogger();
    const ctx = testSourceContext({ clock, log });
    const pdh = windowsHost(clock);
    const config = windowsPerformanceCountersConfigSchema.parse({
      counterSpecifiers: ['Memory', '\\Processor(_Total)\\*', '\\\\OTHER\\Memory\\Available MBytes'],
      samplingFrequencySeconds: 1,
    });
    const src = new WindowsPerformanceCountersSource(config, ctx, () => pdh);
    await src.start();
    expect(lines.filter((l) => l.msg === 'performance counter specifier not collected').map((l) => [l.counterSpecifier, l.reason])).toEqual([
      ['Memory', expect.stringMatching(/^not a counter specifier/)],
      ['\\Processor(_Total)\\*', expect.stringMatching(/^wildcard counter names are not collected/)],
    ]);
    expect(pdh.added).toEqual(['\\Memory\\Available MBytes']);
    await clock.advance(1000);
    expect(ctx.emitted.flatMap((b) => b.records.map((r) => r.CounterPath))).toEqual(['\\\\test-host\\Memory\\Available MBytes']);
    await src.stop(AbortSignal.timeout(1000));
  });

  it('collects every instance of \\Object\\Counter when the object has instances, as MMA did', async () => {
    const clock = new FakeClock(T0);
    const ctx = testSourceContext({ clock });
    const pdh = windowsHost(clock).setRaw('LogicalDisk', 'Free Megabytes', 'C:', 900).setRaw('LogicalDisk', 'Free Megabytes', '_Total', 900);
    const config = windowsPerformanceCountersConfigSchema.parse({ counterSpecifiers: ['LogicalDisk\\Free Megabytes'], samplingFrequencySeconds: 1 });
    const src = new WindowsPerformanceCountersSource(config, ctx, () => pdh);
    await src.start();
    await clock.advance(1000);
    await clock.advance(1000);
    expect(pdh.added).toEqual(['\\LogicalDisk\\Free Megabytes', '\\LogicalDisk(*)\\Free Megabytes']);
    expect(rows(ctx.emitted)).toEqual([
      ['2026-01-01T12:00:05.000Z', '\\\\test-host\\LogicalDisk(C:)\\Free Megabytes', 900],
      ['2026-01-01T12:00:05.000Z', '\\\\test-host\\LogicalDisk(_Total)\\Free Megabytes', 900],
    ]);
    await src.stop(AbortSignal.timeout(1000));
  });

  it('collects every instance of \\Object\\Counter when PDH already refuses it at add with CSTATUS_NO_INSTANCE', async () => {
    const clock = new FakeClock(T0);
    const ctx = testSourceContext({ clock });
    const pdh = windowsHost(clock).setRaw('LogicalDisk', 'Free Megabytes', 'C:', 900);
    // a PDH that checks the instance when the counter is added, not when it is read
    const binding: PdhBinding = {
      openQuery() {
        const q = pdh.openQuery();
        return {
          addCounter: (path) => {
            if (path === '\\LogicalDisk\\Free Megabytes') throw new Win32Error('PdhAddEnglishCounterW', PDH_STATUS.CSTATUS_NO_INSTANCE);
            return q.addCounter(path);
          },
          removeCounter: (c) => q.removeCounter(c),
          collect: () => q.collect(),
          read: (c) => q.read(c),
          close: () => q.close(),
        };
      },
    };
    const config = windowsPerformanceCountersConfigSchema.parse({ counterSpecifiers: ['\\LogicalDisk\\Free Megabytes'], samplingFrequencySeconds: 1 });
    const src = new WindowsPerformanceCountersSource(config, ctx, () => binding);
    await src.start();
    expect(pdh.added).toEqual(['\\LogicalDisk(*)\\Free Megabytes']);
    await clock.advance(1000);
    expect(ctx.emitted.flatMap((b) => b.records.map((r) => [r.InstanceName, r.CounterValue]))).toEqual([['C:', 900], ['_Total', 0]]);
    await src.stop(AbortSignal.timeout(1000));
  });

  // On Windows the binding loads; elsewhere it cannot, which is what this checks.
  it.skipIf(process.platform === 'win32')('fails its start when the binding cannot load (no Windows here), and the platform lists it', async () => {
    const ctx = testSourceContext({ clock: new FakeClock(T0) });
    const def = createPlatform().components.find((c) => c.type === 'performance_counters');
    expect(def?.kind).toBe('source');
    const src = def!.kind === 'source' ? def!.create(def!.schema.parse({}), ctx) : undefined;
    await expect(src!.start()).rejects.toMatchObject({ code: 'OMA_ERR_NATIVE_LOAD' });
    await src!.stop(AbortSignal.timeout(1000));
    expect(ctx.failures).toEqual([]);
  });

  it('does not pile up samples while the queue blocks, and stops while blocked', async () => {
    const clock = new FakeClock(T0);
    const ctx = testSourceContext({ clock });
    ctx.hold();
    const pdh = windowsHost(clock);
    const config = windowsPerformanceCountersConfigSchema.parse({ counterSpecifiers: ['\\Memory\\Available MBytes'], samplingFrequencySeconds: 1 });
    const src = new WindowsPerformanceCountersSource(config, ctx, () => pdh);
    await src.start();
    for (let i = 0; i < 5; i++) await clock.advance(1000);
    expect(ctx.emitted).toHaveLength(0);
    expect(clock.pendingSleeps).toBe(0); // waiting on the queue, not sampling
    await src.stop(AbortSignal.timeout(1000));
    expect(ctx.emitted).toHaveLength(0);
    expect(pdh.openQueries).toBe(0);
    expect(ctx.failures).toEqual([]);
  });
});
