import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { FileCheckpointStore } from '../src/checkpoint/checkpoint-store.js';
import type { Source } from '../src/pipeline/component.js';
import { customLogConfigSchema, customLogSource } from '../src/sources/custom_log/index.js';
import { testSourceContext } from '../src/testing/index.js';

/**
 * A writer appends numbered lines while the file is rotated three times by rename + create and three
 * times by copytruncate (the writer pauses for the copy + truncate, as it cannot be made safe
 * otherwise), and the source is stopped and restarted twice (a new instance on the same checkpoint
 * store; once with a rotation while it is down). Renamed files and copies still match the pattern.
 * Every line must arrive exactly once, in order.
 */
describe('custom_log rotation and restarts', () => {
  const TOTAL = 50_000;
  const BURST = 250;
  const dir = mkdtempSync(join(tmpdir(), 'oma-customlog-int-'));
  const logDir = join(dir, 'logs');
  const stateDir = join(dir, 'state');
  const log = join(logDir, 'app.log');

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const line = (n: number): string => `${String(n).padStart(6, '0')} payload ${'x'.repeat(40)}\n`;

  it('delivers every line exactly once, in order', async () => {
    mkdirSync(logDir, { recursive: true });
    appendFileSync(log, '');

    const store = new FileCheckpointStore(stateDir);
    const ctx = testSourceContext({ id: 'app', type: 'custom_log', checkpoints: store, stateDir });
    const config = customLogConfigSchema.parse({
      table: 'App_CL',
      filePatterns: [join(logDir, 'app.log*')],
      startAt: 'beginning',
      scanIntervalMs: 100,
      pollIntervalMs: 20,
      rotateWaitMs: 500,
    });
    let source: Source = customLogSource.create(config, ctx);
    await source.start();

    const stop = async (): Promise<void> => {
      await source.stop(AbortSignal.timeout(10_000));
    };
    const restart = async (): Promise<void> => {
      source = customLogSource.create(config, ctx);
      await source.start();
    };

    let renames = 0;
    let copies = 0;
    let next = 0;
    const write = async (count: number): Promise<void> => {
      for (const end = Math.min(TOTAL, next + count); next < end; ) {
        let chunk = '';
        for (const stopAt = Math.min(end, next + BURST); next < stopAt; next++) chunk += line(next);
        appendFileSync(log, chunk);
        await pause(3);
      }
    };
    const renameRotate = (): void => {
      renameSync(log, join(logDir, `app.log.r${++renames}`));
    };
    const copyTruncate = (): void => {
      const copy = join(logDir, `app.log.c${++copies}`);
      copyFileSync(log, copy);
      truncateSync(log, 0);
    };

    await write(6000);
    renameRotate();
    await write(4000);
    await stop(); // restart 1: the writer goes on while the source is down
    await write(1000);
    await restart();
    await write(2000);
    copyTruncate();
    await write(7000);
    renameRotate();
    await write(7000);
    copyTruncate();
    await write(3000);
    await stop(); // restart 2: a rotation happens while the source is down
    await write(500);
    renameRotate();
    await write(500);
    await restart();
    await write(10_000);
    copyTruncate();
    await write(TOTAL);
    expect(next).toBe(TOTAL);
    expect([renames, copies]).toEqual([3, 3]);

    const received = (): number[] => ctx.emitted.flatMap((b) => b.records.map((r) => Number((r.RawData as string).slice(0, 6))));
    await vi.waitFor(() => expect(new Set(received()).size).toBe(TOTAL), { timeout: 15_000, interval: 50 });
    await stop();

    const all = received();
    const seen = new Set<number>();
    const duplicates: number[] = [];
    for (const n of all) {
      if (seen.has(n)) duplicates.push(n);
      seen.add(n);
    }
    expect(duplicates).toEqual([]);
    for (let n = 0; n < TOTAL; n++) if (!seen.has(n)) throw new Error(`line ${n} missing`);
    // A generation keeps the FilePath of the path it was written to (a file the source never saw at
    // that path, because it was rotated away between two scans or while stopped, has its own): each
    // FilePath is one ordered stream, and most lines belong to the live path.
    const byFile = new Map<string, number[]>();
    for (const b of ctx.emitted) {
      for (const r of b.records) {
        const list = byFile.get(r.FilePath as string) ?? [];
        list.push(Number((r.RawData as string).slice(0, 6)));
        byFile.set(r.FilePath as string, list);
      }
    }
    for (const [file, ordered] of byFile) {
      const outOfOrder = ordered.findIndex((n, i) => i > 0 && n <= ordered[i - 1]!);
      expect({ file, outOfOrder }).toEqual({ file, outOfOrder: -1 });
    }
    expect(byFile.get(log)!.length).toBeGreaterThan(TOTAL / 2);
    expect(ctx.metrics.errors.sum({ component_id: 'app' })).toBe(0);
  }, 30_000);
});

/**
 * Rename rotations faster than the scans, while a slow pipeline keeps a backlog: most generations are at
 * the watched path for a fraction of a scan interval and are rotated to names the pattern does not
 * match before any scan sees them there; the source is restarted once with rotations while it is down.
 * Every line must arrive exactly once, in order, under the one FilePath.
 */
describe('custom_log generations shorter than a scan interval, behind a backlog', () => {
  const TOTAL = 30_000;
  const PER_GENERATION = 2_500;
  const BURST = 250;
  const dir = mkdtempSync(join(tmpdir(), 'oma-customlog-fast-'));
  const logDir = join(dir, 'logs');
  const stateDir = join(dir, 'state');
  const log = join(logDir, 'app.log');

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const line = (n: number): string => `${String(n).padStart(6, '0')} payload ${'y'.repeat(40)}\n`;

  it('reads every generation once, in order', async () => {
    mkdirSync(logDir, { recursive: true });
    writeFileSync(log, '');
    const store = new FileCheckpointStore(stateDir);
    const ctx = testSourceContext({ id: 'app', type: 'custom_log', checkpoints: store, stateDir });
    // A slow queue: every batch takes a while to be accepted, so reading lags behind the writer.
    const emit = ctx.emit.bind(ctx);
    ctx.emit = async (batch, signal) => {
      await pause(15);
      await emit(batch, signal);
    };
    const config = customLogConfigSchema.parse({
      table: 'App_CL',
      filePatterns: [log],
      startAt: 'beginning',
      scanIntervalMs: 250,
      pollIntervalMs: 20,
      rotateWaitMs: 300,
      maxBatchRecords: 200,
    });
    let source: Source = customLogSource.create(config, ctx);
    await source.start();

    let rotations = 0;
    let next = 0;
    const write = async (count: number): Promise<void> => {
      for (const end = Math.min(TOTAL, next + count); next < end; ) {
        if (next > 0 && next % PER_GENERATION === 0) renameSync(log, `${log}.${++rotations}`);
        let chunk = '';
        for (const stopAt = Math.min(end, next + BURST); next < stopAt; next++) chunk += line(next);
        appendFileSync(log, chunk);
        await pause(2);
      }
    };

    await write(12_000);
    await source.stop(AbortSignal.timeout(10_000));
    await write(6_000); // three rotations while the source is down
    source = customLogSource.create(config, ctx);
    await source.start();
    await write(TOTAL);
    expect(rotations).toBe(TOTAL / PER_GENERATION - 1);

    const received = (): number[] => ctx.emitted.flatMap((b) => b.records.map((r) => Number((r.RawData as string).slice(0, 6))));
    await vi.waitFor(() => expect(new Set(received()).size).toBe(TOTAL), { timeout: 20_000, interval: 50 });
    await source.stop(AbortSignal.timeout(10_000));

    const all = received();
    expect(all.length).toBe(TOTAL);
    expect(all.findIndex((n, i) => n !== i)).toBe(-1);
    expect(new Set(ctx.emitted.flatMap((b) => b.records.map((r) => r.FilePath)))).toEqual(new Set([log]));
    expect(ctx.metrics.errors.sum({ component_id: 'app' })).toBe(0);
  }, 30_000);
});
