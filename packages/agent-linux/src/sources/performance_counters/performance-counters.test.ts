import { FakeClock, testSourceContext } from '@oma/core/testing';
import { createRootLogger, PERF, validateRecord } from '@oma/core';
import { describe, expect, it, vi } from 'vitest';
import { performanceCountersConfigSchema } from './config.js';
import { FakeProcFiles } from './fake-proc-files.js';
import { PerformanceCountersSource } from './performance-counters.js';
import { PROC_PATHS } from './snapshot.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 3); // 3 s past a whole minute

function stat(user: number, idle: number): string {
  return `cpu  ${user} 0 0 ${idle} 0 0 0 0 0 0\ncpu0 ${user} 0 0 ${idle} 0 0 0 0 0 0\n`;
}

function memFiles(): FakeProcFiles {
  return new FakeProcFiles()
    .text(PROC_PATHS.stat, stat(100, 100))
    .text(PROC_PATHS.meminfo, 'MemTotal: 1048576 kB\nMemAvailable: 524288 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n')
    .text(PROC_PATHS.vmstat, 'pswpin 0\npswpout 0\n');
}

/** A logger whose lines end up in `lines`, parsed. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createRootLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { log, lines };
}

describe('performance_counters source', () => {
  it('samples each group at multiples of its frequency into Perf, rates from the second sample on', async () => {
    const clock = new FakeClock(T0);
    const ctx = testSourceContext({ clock });
    const files = memFiles();
    const config = performanceCountersConfigSchema.parse({
      counterGroups: [
        { samplingFrequencySeconds: 10, counterSpecifiers: ['\\Processor(_Total)\\% Processor Time', '\\Memory\\Available MBytes Memory'] },
        { samplingFrequencySeconds: 60, counterSpecifiers: ['\\Memory\\% Used Memory'] },
      ],
    });
    const src = new PerformanceCountersSource(config, ctx, { files });
    await src.start();
    await clock.advance(0);
    expect(clock.pendingSleeps).toBe(2);
    await clock.advance(6_999);
    expect(ctx.emitted).toHaveLength(0);
    await clock.advance(1); // 12:00:10
    expect(ctx.emitted).toHaveLength(1);
    const first = ctx.emitted[0]!;
    expect(first.table).toBe('Perf');
    // Processor is a rate: nothing at the first sample
    expect(first.records).toEqual([
      {
        TimeGenerated: '2026-01-01T12:00:10.000Z',
        Computer: 'test-host',
        ObjectName: 'Memory',
        CounterName: 'Available MBytes Memory',
        InstanceName: 'Memory',
        CounterValue: 512,
        CounterPath: '\\\\test-host\\Memory(Memory)\\Available MBytes Memory',
      },
    ]);
    files.text(PROC_PATHS.stat, stat(130, 170));
    await clock.advance(10_000); // 12:00:20
    expect(ctx.emitted).toHaveLength(2);
    expect(ctx.emitted[1]!.records.map((r) => [r.TimeGenerated, r.CounterPath, r.CounterValue])).toEqual([
      ['2026-01-01T12:00:20.000Z', '\\\\test-host\\Processor(_Total)\\% Processor Time', 30],
      ['2026-01-01T12:00:20.000Z', '\\\\test-host\\Memory(Memory)\\Available MBytes Memory', 512],
    ]);
    for (const b of ctx.emitted) for (const r of b.records) expect(validateRecord(PERF, r)).toEqual([]);
    await clock.advance(10_000); // 12:00:30
    await clock.advance(10_000);
    await clock.advance(10_000);
    // the CPU counters did not move: no tick passed, so no processor value
    expect(ctx.emitted.slice(2).map((b) => b.records.map((r) => r.CounterName))).toEqual([['Available MBytes Memory'], ['Available MBytes Memory'], ['Available MBytes Memory']]);
    files.text(PROC_PATHS.stat, stat(150, 250));
    await clock.advance(10_000); // 12:01:00: both groups
    expect(ctx.emitted.slice(5).map((b) => b.records.map((r) => JSON.stringify([r.TimeGenerated, r.CounterName]))).flat().sort()).toEqual([
      '["2026-01-01T12:01:00.000Z","% Processor Time"]',
      '["2026-01-01T12:01:00.000Z","% Used Memory"]',
      '["2026-01-01T12:01:00.000Z","Available MBytes Memory"]',
    ]);
    await src.stop(AbortSignal.timeout(1000));
    expect(clock.pendingSleeps).toBe(0);
    await clock.advance(60_000);
    expect(ctx.emitted).toHaveLength(7);
  });

  it('collects the default set with no options', async () => {
    const clock = new FakeClock(T0);
    const ctx = testSourceContext({ clock });
    const src = new PerformanceCountersSource(performanceCountersConfigSchema.parse({}), ctx, { files: memFiles() });
    await src.start();
    await clock.advance(57_000); // 12:01:00: both the 10 s and the 60 s group
    const objects = new Set(ctx.emitted.flatMap((b) => b.records.map((r) => r.ObjectName)));
    // only the files memFiles has: Memory (Processor needs a second sample), System from meminfo
    expect([...objects].sort()).toEqual(['Memory', 'System']);
    await src.stop(AbortSignal.timeout(1000));
  });

  it('warns about unknown counters, names them, and samples the rest', async () => {
    const clock = new FakeClock(T0);
    const { log, lines } = capturingLogger();
    const ctx = testSourceContext({ clock, log });
    const config = performanceCountersConfigSchema.parse({ counterSpecifiers: ['\\Network Interface(*)\\Bytes Total/sec', '\\Memory\\Available MBytes Memory'], samplingFrequencySeconds: 1 });
    const src = new PerformanceCountersSource(config, ctx, { files: memFiles() });
    await src.start();
    expect(lines.filter((l) => l.level === 40)).toEqual([
      expect.objectContaining({ msg: 'performance counter not known on Linux; ignored', counterSpecifier: '\\Network Interface(*)\\Bytes Total/sec', reason: expect.stringMatching(/unknown performance object "Network Interface"/) }),
    ]);
    await clock.advance(1000);
    expect(ctx.emitted.flatMap((b) => b.records.map((r) => r.CounterName))).toEqual(['Available MBytes Memory']);
    await src.stop(AbortSignal.timeout(1000));
  });

  it('logs a file it cannot read (rate-limited) and keeps sampling the others', async () => {
    const clock = new FakeClock(T0);
    const { log, lines } = capturingLogger();
    const ctx = testSourceContext({ clock, log });
    const files = memFiles().text(PROC_PATHS.vmstat, undefined);
    const config = performanceCountersConfigSchema.parse({ counterSpecifiers: ['\\Memory\\*'], samplingFrequencySeconds: 1 });
    const src = new PerformanceCountersSource(config, ctx, { files });
    await src.start();
    for (let i = 0; i < 3; i++) await clock.advance(1000);
    expect(ctx.emitted).toHaveLength(3);
    const warnings = lines.filter((l) => l.msg === 'performance counter source file not readable; its counters skipped');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ path: PROC_PATHS.vmstat, err: expect.objectContaining({ code: 'ENOENT' }) });
    await src.stop(AbortSignal.timeout(1000));
  });

  it('does not pile up samples while the queue blocks, and stops while blocked', async () => {
    const clock = new FakeClock(T0);
    const ctx = testSourceContext({ clock });
    ctx.hold();
    const config = performanceCountersConfigSchema.parse({ counterSpecifiers: ['\\Memory\\Available MBytes Memory'], samplingFrequencySeconds: 1 });
    const src = new PerformanceCountersSource(config, ctx, { files: memFiles() });
    await src.start();
    for (let i = 0; i < 5; i++) await clock.advance(1000);
    expect(ctx.emitted).toHaveLength(0);
    expect(clock.pendingSleeps).toBe(0); // waiting on the queue, not sampling
    ctx.release();
    await vi.waitFor(() => expect(ctx.emitted).toHaveLength(1));
    ctx.hold();
    await clock.advance(1000);
    await src.stop(AbortSignal.timeout(1000));
    expect(ctx.emitted).toHaveLength(1);
    expect(ctx.failures).toEqual([]);
  });

  it('skips counters whose files fail to read, even by throwing, without failing the source', async () => {
    const clock = new FakeClock(T0);
    const ctx = testSourceContext({ clock });
    const files = memFiles();
    const boom = new Error('boom');
    files.readText = () => Promise.reject(boom);
    files.readdir = () => {
      throw boom; // not even a promise: the reader must not let it escape either
    };
    const config = performanceCountersConfigSchema.parse({ counterSpecifiers: ['\\System\\Processes'], samplingFrequencySeconds: 1 });
    const src = new PerformanceCountersSource(config, ctx, { files });
    await src.start();
    await clock.advance(1000);
    expect(ctx.emitted).toHaveLength(0);
    expect(ctx.failures).toEqual([]); // unreadable files are skipped, not fatal
    await src.stop(AbortSignal.timeout(1000));
  });
});
