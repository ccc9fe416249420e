import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryCheckpointStore } from '../../checkpoint/checkpoint-store.js';
import type { Source } from '../../pipeline/component.js';
import { testSourceContext, type TestSourceContext } from '../../testing/index.js';
import { fingerprintOf } from './file-identity.js';
import { customLogConfigSchema, customLogSource } from './index.js';

const WAIT = { timeout: 10_000, interval: 20 };
const LABELS = { component_id: 'app', component_type: 'custom_log' };

interface FileEntry {
  path: string;
  origin: string;
  dev: string;
  ino: string;
  fpLen: number;
  fp: string;
  offset: number;
  fresh?: boolean;
}

class Harness {
  readonly dir = mkdtempSync(join(tmpdir(), 'oma-customlog-'));
  readonly store = new MemoryCheckpointStore();
  readonly messages: string[] = [];
  /** Every log line, parsed. */
  readonly logs: Array<Record<string, unknown>> = [];
  readonly ctx: TestSourceContext;
  source: Source | undefined;

  constructor() {
    const log = pino(
      { level: 'debug' },
      {
        write: (line: string) => {
          const entry = JSON.parse(line) as Record<string, unknown>;
          this.logs.push(entry);
          this.messages.push(entry.msg as string);
        },
      },
    );
    this.ctx = testSourceContext({ id: 'app', type: 'custom_log', checkpoints: this.store, log });
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  async start(options: Record<string, unknown> = {}): Promise<Source> {
    const config = customLogConfigSchema.parse({
      table: 'App_CL',
      filePatterns: [join(this.dir, '*.log')],
      startAt: 'beginning',
      scanIntervalMs: 40,
      pollIntervalMs: 15,
      partialLineFlushMs: 60_000,
      rotateWaitMs: 150,
      ...options,
    });
    this.source = customLogSource.create(config, this.ctx);
    await this.source.start();
    return this.source;
  }

  async stop(signal: AbortSignal = AbortSignal.timeout(10_000)): Promise<void> {
    const s = this.source;
    this.source = undefined;
    await s?.stop(signal);
  }

  records(): Array<Record<string, unknown>> {
    return this.ctx.emitted.flatMap((b) => b.records as Array<Record<string, unknown>>);
  }

  lines(): string[] {
    return this.records().map((r) => r.RawData as string);
  }

  entries(): FileEntry[] {
    return ((this.store.state as { files?: FileEntry[] }).files ?? []).slice();
  }

  errors(stage?: string): number {
    return this.ctx.metrics.errors.sum(stage ? { ...LABELS, stage } : LABELS);
  }

  async waitForLines(expected: string[]): Promise<void> {
    await vi.waitFor(() => expect(this.lines()).toEqual(expected), WAIT);
  }

  async waitForMessage(msg: string): Promise<void> {
    await vi.waitFor(() => expect(this.messages).toContain(msg), WAIT);
  }
}

const numbered = (from: number, to: number, tag = 'line'): string[] =>
  Array.from({ length: to - from }, (_, i) => `${tag} ${String(from + i).padStart(5, '0')}`);
const text = (lines: string[]): string => lines.map((l) => `${l}\n`).join('');
/** Lets a few poll intervals pass, to check that nothing happens. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 150));

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(async () => {
  h.ctx.release();
  await h.stop();
  rmSync(h.dir, { recursive: true, force: true });
});

describe('custom_log config', () => {
  it('fills defaults and accepts units', () => {
    const c = customLogConfigSchema.parse({ table: 'App_CL', filePatterns: ['/var/log/app/*.log'], maxLineBytes: '1KiB', rotateWaitMs: '2s' });
    expect(c).toMatchObject({
      startAt: 'end',
      excludeCompressed: true,
      excludePatterns: [],
      maxLineBytes: 1024,
      partialLineFlushMs: 1000,
      maxBatchRecords: 10_000,
      maxBatchBytes: 1024 * 1024,
      readBufferBytes: 256 * 1024,
      rotateWaitMs: 2000,
      scanIntervalMs: 1000,
    });
    expect(c.recordStartTimestampFormat).toBeUndefined();
  });

  it('rejects bad tables, empty patterns, unknown keys and unknown formats', () => {
    const base = { table: 'App_CL', filePatterns: ['a.log'] };
    expect(customLogConfigSchema.safeParse({ ...base, table: 'App' }).success).toBe(false);
    expect(customLogConfigSchema.safeParse({ ...base, filePatterns: [] }).success).toBe(false);
    expect(customLogConfigSchema.safeParse({ ...base, bogus: 1 }).success).toBe(false);
    expect(customLogConfigSchema.safeParse({ ...base, recordStartTimestampFormat: 'yyyy' }).success).toBe(false);
    expect(customLogConfigSchema.safeParse({ ...base, recordStartTimestampFormat: 'MMM d hh:mm:ss' }).success).toBe(true);
  });

  it('describes every option', () => {
    for (const [key, schema] of Object.entries(customLogConfigSchema.shape)) {
      expect(schema.description, key).toBeTruthy();
    }
  });
});

describe('custom_log source: reading', () => {
  it('reads existing lines from the beginning into records of the custom table', async () => {
    writeFileSync(h.path('app.log'), text(['one', 'two']));
    await h.start();
    await h.waitForLines(['one', 'two']);
    const r = h.records()[0]!;
    expect(Object.keys(r).sort()).toEqual(['Computer', 'FilePath', 'RawData', 'TimeGenerated']);
    expect(r.FilePath).toBe(h.path('app.log'));
    expect(r.Computer).toBe('test-host');
    expect(new Date(r.TimeGenerated as string).toISOString()).toBe(r.TimeGenerated);
    expect(h.ctx.emitted.every((b) => b.table === 'App_CL')).toBe(true);
  });

  it('encodes lines straight from their bytes as JSON.stringify of their text would: escapes, invalid UTF-8, paths to escape', async () => {
    const dir = h.path('we"ird\\dir');
    mkdirSync(dir);
    const lines = [
      Buffer.from('quote " backslash \\ tab \t bell \u0007 nul \u0000 end'),
      Buffer.from([0x61, 0xff, 0x62, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98, 0x80, 0xe2, 0x82]),
      Buffer.from('日本語のログ行 é ✓ \u2028'),
    ];
    writeFileSync(join(dir, 'app.log'), Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
    await h.start({ filePatterns: [join(dir, '*.log')] });
    const expected = lines.map((l) => l.toString('utf8'));
    await h.waitForLines(expected);
    expect(h.records().map((r) => r.FilePath)).toEqual(expected.map(() => join(dir, 'app.log')));
  });

  it('startAt end skips existing content on the first start but reads files created later from the start', async () => {
    writeFileSync(h.path('app.log'), text(['old']));
    await h.start({ startAt: 'end' });
    appendFileSync(h.path('app.log'), text(['new']));
    writeFileSync(h.path('later.log'), text(['later']));
    await vi.waitFor(() => expect(h.lines().sort()).toEqual(['later', 'new']), WAIT);
  });

  it('startAt applies only when there is no checkpoint: files that appeared while stopped are read whole', async () => {
    writeFileSync(h.path('app.log'), text(['a']));
    await h.start({ startAt: 'end' });
    await h.stop();
    writeFileSync(h.path('while-down.log'), text(['b']));
    await h.start({ startAt: 'end' });
    await h.waitForLines(['b']);
  });

  it('splits multi-line records on the configured timestamp and uses it as TimeGenerated', async () => {
    writeFileSync(
      h.path('app.log'),
      '2024-01-15 10:00:00 ERROR boom\n  at x\n  at y\n2024-01-15 10:00:05 INFO ok\n2024-01-15 10:00:06 INFO open',
    );
    await h.start({ recordStartTimestampFormat: 'YYYY-MM-DD HH:MM:SS', partialLineFlushMs: 100 });
    await h.waitForLines(['2024-01-15 10:00:00 ERROR boom\n  at x\n  at y', '2024-01-15 10:00:05 INFO ok', '2024-01-15 10:00:06 INFO open']);
    expect(h.records().map((r) => r.TimeGenerated)).toEqual([
      '2024-01-15T10:00:00.000Z',
      '2024-01-15T10:00:05.000Z',
      '2024-01-15T10:00:06.000Z',
    ]);
  });

  it('waits for the newline of a growing last line', async () => {
    writeFileSync(h.path('app.log'), 'first\nsec');
    await h.start();
    await h.waitForLines(['first']);
    await settle();
    appendFileSync(h.path('app.log'), 'ond\n');
    await h.waitForLines(['first', 'second']);
    await vi.waitFor(() => expect(h.entries()[0]?.offset).toBe(13), WAIT);
  });

  it('flushes a last line without newline after partialLineFlushMs and moves past it', async () => {
    writeFileSync(h.path('app.log'), 'abc');
    await h.start({ partialLineFlushMs: 50 });
    await h.waitForLines(['abc']);
    await vi.waitFor(() => expect(h.entries()[0]?.offset).toBe(3), WAIT);
    appendFileSync(h.path('app.log'), 'def\n');
    await h.waitForLines(['abc', 'def']);
  });

  it('truncates long lines on a UTF-8 boundary, counts them, and skips the rest of the line', async () => {
    const long = `${'é'.repeat(200)}TAIL`; // 404 bytes
    writeFileSync(h.path('app.log'), text(['before', long, 'after']));
    await h.start({ maxLineBytes: 257, readBufferBytes: 4096 });
    await h.waitForLines(['before', 'é'.repeat(128), 'after']);
    expect(h.ctx.metrics.recordsDropped.get({ ...LABELS, reason: 'line_truncated' })).toBe(1);
  });

  it('says why it truncates a line: the path, the limit and the bytes cut, once per 10 s per file', async () => {
    writeFileSync(h.path('app.log'), text(['a'.repeat(300), 'b'.repeat(400), 'short']));
    await h.start({ maxLineBytes: 256 });
    await h.waitForLines(['a'.repeat(256), 'b'.repeat(256), 'short']);
    const warned = h.logs.filter((l) => l.msg === 'record longer than maxLineBytes; truncated');
    expect(warned).toEqual([
      expect.objectContaining({ level: 40, path: h.path('app.log'), maxLineBytes: 256, bytes: 300, cutBytes: 44 }),
    ]);
    expect(h.ctx.metrics.recordsDropped.get({ ...LABELS, reason: 'line_truncated' })).toBe(2);
  });

  it('emits in batches of at most maxBatchRecords and reads every line of a file larger than the read buffer', async () => {
    const all = numbered(0, 3000);
    writeFileSync(h.path('app.log'), text(all));
    await h.start({ maxBatchRecords: 100, readBufferBytes: 4096 });
    await h.waitForLines(all);
    expect(Math.max(...h.ctx.emitted.map((b) => b.records.length))).toBeLessThanOrEqual(100);
  });

  it('ignores compressed rotations and excluded files', async () => {
    writeFileSync(h.path('app.log'), text(['keep']));
    writeFileSync(h.path('app.1.log.gz'), text(['compressed']));
    writeFileSync(h.path('debug.log'), text(['excluded']));
    await h.start({ filePatterns: [join(h.dir, '*')], excludePatterns: ['debug.*'] });
    await h.waitForLines(['keep']);
    await settle();
    expect(h.lines()).toEqual(['keep']);
  });
});

describe('custom_log source: backpressure and checkpoints', () => {
  it('keeps at most four emits pending, reads nothing more meanwhile, and saves positions only after emit resolved', async () => {
    const all = numbered(0, 500);
    writeFileSync(h.path('app.log'), text(all));
    let inFlight = 0;
    let maxInFlight = 0;
    const emit = h.ctx.emit.bind(h.ctx);
    h.ctx.emit = async (batch, signal) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await emit(batch, signal);
      } finally {
        inFlight--;
      }
    };
    h.ctx.hold();
    await h.start({ maxBatchRecords: 50 });
    // Reading goes on while a few batches are being queued (their fsync overlaps it), then stops.
    await vi.waitFor(() => expect(inFlight).toBe(4), WAIT);
    await settle();
    expect(inFlight).toBe(4);
    expect(h.lines()).toEqual([]);
    expect(h.entries()[0]?.offset ?? 0).toBe(0);
    h.ctx.release();
    await h.waitForLines(all);
    expect(maxInFlight).toBe(4);
    await vi.waitFor(() => expect(h.entries()[0]?.offset).toBe(statSync(h.path('app.log')).size), WAIT);
  });

  it('resumes at the saved position after a restart: nothing lost, nothing twice', async () => {
    writeFileSync(h.path('app.log'), text(numbered(0, 100)));
    await h.start();
    await h.waitForLines(numbered(0, 100));
    await h.stop();
    appendFileSync(h.path('app.log'), text(numbered(100, 150)));
    await h.start();
    await h.waitForLines(numbered(0, 150));
  });

  it('a stop aborted while emit is held saves no position past the unemitted batch', async () => {
    writeFileSync(h.path('app.log'), text(numbered(0, 20)));
    h.ctx.hold();
    await h.start();
    await settle();
    await h.stop(AbortSignal.timeout(100));
    expect(h.lines()).toEqual([]);
    expect(h.entries()[0]?.offset).toBe(0);
    h.ctx.release();
    await h.start();
    await h.waitForLines(numbered(0, 20));
  });

  it('after stop resolves nothing is emitted and every file handle is closed', async () => {
    writeFileSync(h.path('app.log'), text(['a']));
    writeFileSync(h.path('b.log'), text(['b']));
    await h.start();
    await vi.waitFor(() => expect(h.lines().sort()).toEqual(['a', 'b']), WAIT);
    await h.stop();
    appendFileSync(h.path('app.log'), text(['c']));
    await settle();
    expect(h.lines().sort()).toEqual(['a', 'b']);
    if (existsSync('/proc/self/fd')) {
      const open = readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(h.dir);
        } catch {
          return false;
        }
      });
      expect(open).toEqual([]);
    }
  });

  it('retries a batch the pipeline did not take, counting the error', async () => {
    h.ctx.failWith(new Error('queue closed'));
    writeFileSync(h.path('app.log'), text(['x', 'y']));
    await h.start();
    await vi.waitFor(() => expect(h.errors('emit')).toBeGreaterThan(0), WAIT);
    h.ctx.failWith(undefined);
    await h.waitForLines(['x', 'y']);
  });

  it('does not trust a checkpoint whose inode now holds other content', async () => {
    writeFileSync(h.path('app.log'), text(['new content', 'more']));
    const st = statSync(h.path('app.log'), { bigint: true });
    const other = Buffer.from('old content that was here\n');
    h.store.state = {
      version: 1,
      files: [{ path: h.path('app.log'), origin: h.path('app.log'), dev: `${st.dev}`, ino: `${st.ino}`, fpLen: other.length, fp: fingerprintOf(other), offset: 12 }],
    };
    await h.start();
    await h.waitForLines(['new content', 'more']);
  });

  it('continues a checkpointed file found at another matched path, and reads the new file at the old path', async () => {
    writeFileSync(h.path('app.log'), text(numbered(0, 10)));
    await h.start();
    await h.waitForLines(numbered(0, 10));
    await h.stop();
    appendFileSync(h.path('app.log'), text(numbered(10, 12)));
    renameSync(h.path('app.log'), h.path('app-1.log'));
    writeFileSync(h.path('app.log'), text(numbered(12, 15, 'new')));
    await h.start();
    await vi.waitFor(() => expect(h.lines()).toEqual([...numbered(0, 12), ...numbered(12, 15, 'new')]), WAIT);
  });

  it('drains a file renamed out of the patterns while stopped', async () => {
    writeFileSync(h.path('app.log'), text(numbered(0, 5)));
    await h.start();
    await h.waitForLines(numbered(0, 5));
    await h.stop();
    appendFileSync(h.path('app.log'), text(numbered(5, 8)));
    renameSync(h.path('app.log'), h.path('app.log.old'));
    await h.start();
    await h.waitForLines(numbered(0, 8));
    await vi.waitFor(() => expect(h.entries()).toEqual([]), WAIT);
  });

  it('reads the tail of a file truncated by copytruncate while stopped from its copy', async () => {
    writeFileSync(h.path('app.log'), text(numbered(0, 5)));
    await h.start();
    await h.waitForLines(numbered(0, 5));
    await h.stop();
    appendFileSync(h.path('app.log'), text(numbered(5, 9)));
    copyFileSync(h.path('app.log'), h.path('app.log.1'));
    truncateSync(h.path('app.log'), 0);
    appendFileSync(h.path('app.log'), text(numbered(9, 11, 'after')));
    await h.start();
    await vi.waitFor(() => expect(h.lines()).toEqual([...numbered(0, 9), ...numbered(9, 11, 'after')]), WAIT);
  });

  it('a copy seen before a stop and a truncation while stopped: the copy continues the file, no line twice', async () => {
    await h.start({ filePatterns: [h.path('app.log*')] });
    writeFileSync(h.path('app.log'), text(numbered(0, 10)));
    await h.waitForLines(numbered(0, 10));
    appendFileSync(h.path('app.log'), text(numbered(10, 12)));
    copyFileSync(h.path('app.log'), h.path('app.log.1'));
    await h.waitForMessage('new file starts like a tailed file; waiting to see whether it is its copy');
    await h.stop();
    expect(h.entries().find((e) => e.path === h.path('app.log.1'))).toMatchObject({ offset: 0, fresh: true });
    truncateSync(h.path('app.log'), 0);
    appendFileSync(h.path('app.log'), text(numbered(12, 15, 'new')));
    await h.start({ filePatterns: [h.path('app.log*')] });
    await vi.waitFor(() => expect(h.lines()).toEqual([...numbered(0, 12), ...numbered(12, 15, 'new')]), WAIT);
    expect(new Set(h.records().map((r) => r.FilePath))).toEqual(new Set([h.path('app.log')]));
  });

  it('a checkpoint it does not understand is damage: logged, counted, and files are read from their beginning despite startAt end', async () => {
    h.store.state = { version: 99, files: 'nope' };
    writeFileSync(h.path('app.log'), text(['old']));
    await h.start({ startAt: 'end' });
    await h.waitForMessage('checkpoint damaged and no usable backup; reading every file from its beginning');
    const line = h.logs.find((l) => l.msg === 'checkpoint damaged and no usable backup; reading every file from its beginning');
    expect(line).toMatchObject({ level: 50, positions: 'beginning', reason: expect.stringContaining('version') as unknown });
    expect(h.ctx.metrics.errors.get({ ...LABELS, error_type: 'OMA_ERR_CHECKPOINT_CORRUPT', stage: 'checkpoint' })).toBe(1);
    appendFileSync(h.path('app.log'), text(['new']));
    await h.waitForLines(['old', 'new']);
    expect(h.store.state).toMatchObject({ version: 1 });
  });

  it('a damaged checkpoint with a usable backup resumes from the backup: older positions, records sent again, none lost', async () => {
    writeFileSync(h.path('app.log'), text(numbered(0, 100)));
    await h.start({ maxBatchRecords: 10 });
    await h.waitForLines(numbered(0, 100));
    // The backup is the state of an earlier save: rewind it to line 90 to tell it apart.
    const backup = structuredClone(h.store.state) as { files: FileEntry[] };
    backup.files[0]!.offset = 90 * 11;
    await h.stop();
    h.store.previous = backup;
    h.store.state = { version: 1, files: [{ path: 'truncated' }] };
    appendFileSync(h.path('app.log'), text(numbered(100, 120)));
    await h.start({ startAt: 'end' });
    await vi.waitFor(() => expect(h.lines().slice(100)).toEqual(numbered(90, 120)), WAIT);
    expect(h.logs.find((l) => l.level === 50)).toMatchObject({
      msg: 'checkpoint damaged; resuming from the previous checkpoint, records after it are sent again',
      positions: 'backup',
    });
    expect(h.ctx.metrics.errors.get({ ...LABELS, error_type: 'OMA_ERR_CHECKPOINT_CORRUPT', stage: 'checkpoint' })).toBe(1);
  });

  it('saves positions after each emitted batch: at most one batch behind when the next one is emitted', async () => {
    const all = numbered(0, 400);
    writeFileSync(h.path('app.log'), text(all));
    const lags: number[] = [];
    const emit = h.ctx.emit.bind(h.ctx);
    h.ctx.emit = async (batch, signal) => {
      const emittedBefore = h.ctx.emitted.reduce((n, b) => n + b.records.length, 0);
      const saved = (h.entries()[0]?.offset ?? 0) / 11;
      lags.push(emittedBefore - saved);
      // an emit that takes a while, as a queue's fsync does
      await new Promise((r) => setImmediate(r));
      await emit(batch, signal);
    };
    await h.start({ maxBatchRecords: 20 });
    await h.waitForLines(all);
    expect(lags.length).toBeGreaterThanOrEqual(20);
    // records emitted but not yet in the saved positions: at most the previous batch
    expect(Math.max(...lags)).toBeLessThanOrEqual(20);
  });

  it('prunes checkpoints of files gone for good', async () => {
    writeFileSync(h.path('app.log'), text(['a']));
    await h.start();
    await h.waitForLines(['a']);
    await h.stop();
    expect(h.entries()).toHaveLength(1);
    unlinkSync(h.path('app.log'));
    await h.start();
    await vi.waitFor(() => expect(h.entries()).toEqual([]), WAIT);
  });
});

describe('custom_log source: rotation', () => {
  it('rename + create: drains the renamed file through its handle, then reads the new file; releases the old one', async () => {
    await h.start({ filePatterns: [h.path('app.log')] });
    writeFileSync(h.path('app.log'), text(numbered(0, 50)));
    await h.waitForLines(numbered(0, 50));
    appendFileSync(h.path('app.log'), text(numbered(50, 60)));
    renameSync(h.path('app.log'), h.path('app.log.1'));
    // the writer still has the old file open for a moment
    appendFileSync(h.path('app.log.1'), text(numbered(60, 70)));
    writeFileSync(h.path('app.log'), text(numbered(70, 80)));
    await h.waitForLines(numbered(0, 80));
    expect(new Set(h.records().map((r) => r.FilePath))).toEqual(new Set([h.path('app.log')]));
    await h.waitForMessage('file drained and released');
    await vi.waitFor(() => expect(h.entries().map((e) => e.path)).toEqual([h.path('app.log')]), WAIT);
  });

  it('a renamed file that still matches the patterns is the same file: not read twice', async () => {
    await h.start({ filePatterns: [h.path('app.log*')] });
    writeFileSync(h.path('app.log'), text(numbered(0, 20)));
    await h.waitForLines(numbered(0, 20));
    renameSync(h.path('app.log'), h.path('app.log.1'));
    appendFileSync(h.path('app.log.1'), text(numbered(20, 25)));
    writeFileSync(h.path('app.log'), text(numbered(25, 30)));
    await h.waitForLines(numbered(0, 30));
    await h.waitForMessage('file renamed; continuing at its new path');
    await settle();
    expect(h.lines()).toEqual(numbered(0, 30));
  });

  it('copytruncate: reads the unread tail from the copy, then the truncated file from 0', async () => {
    // A big file and a held emit leave most of it unread when the copy and truncation happen.
    const before = numbered(0, 2000);
    writeFileSync(h.path('app.log'), text(before));
    h.ctx.hold();
    await h.start({ filePatterns: [h.path('app.log')], readBufferBytes: 4096, maxBatchRecords: 50 });
    await settle();
    copyFileSync(h.path('app.log'), h.path('app.log.1'));
    truncateSync(h.path('app.log'), 0);
    writeFileSync(h.path('app.log'), text(numbered(2000, 2100, 'new')));
    h.ctx.release();
    await h.waitForLines([...before, ...numbered(2000, 2100, 'new')]);
    await h.waitForMessage('file truncated; reading the rest from its copy');
  });

  it('copytruncate with a copy that matches the patterns: the copy is recognised, not read again', async () => {
    await h.start({ filePatterns: [h.path('app.log*')] });
    writeFileSync(h.path('app.log'), text(numbered(0, 30)));
    await h.waitForLines(numbered(0, 30));
    appendFileSync(h.path('app.log'), text(numbered(30, 40)));
    copyFileSync(h.path('app.log'), h.path('app.log.1'));
    // the copy is seen before the truncation
    await h.waitForMessage('new file starts like a tailed file; waiting to see whether it is its copy');
    truncateSync(h.path('app.log'), 0);
    appendFileSync(h.path('app.log'), text(numbered(40, 50, 'new')));
    await h.waitForLines([...numbered(0, 40), ...numbered(40, 50, 'new')]);
    await settle();
    expect(h.lines()).toHaveLength(50);
  });

  it('a file that merely starts like another one is read once it stops growing', async () => {
    await h.start({ filePatterns: [h.path('*.log')] });
    writeFileSync(h.path('app.log'), text(numbered(0, 5)));
    await h.waitForLines(numbered(0, 5));
    copyFileSync(h.path('app.log'), h.path('backup.log'));
    await vi.waitFor(() => expect(h.lines()).toEqual([...numbered(0, 5), ...numbered(0, 5)]), WAIT);
    expect(h.records().slice(5).every((r) => r.FilePath === h.path('backup.log'))).toBe(true);
  });

  it('a new file that starts like a tailed one but outgrows it is read without waiting', async () => {
    await h.start({ filePatterns: [h.path('*.log')], rotateWaitMs: 60_000 });
    writeFileSync(h.path('app.log'), text(numbered(0, 5)));
    await h.waitForLines(numbered(0, 5));
    writeFileSync(h.path('other.log'), text(numbered(0, 8)));
    await vi.waitFor(() => expect(h.lines()).toEqual([...numbered(0, 5), ...numbered(0, 8)]), WAIT);
    await h.waitForMessage('new file starts like a tailed file; waiting to see whether it is its copy');
  });

  it('truncation without a copy: counted, then the file is read from the start', async () => {
    await h.start({ filePatterns: [h.path('app.log')] });
    writeFileSync(h.path('app.log'), text(numbered(0, 10)));
    await h.waitForLines(numbered(0, 10));
    truncateSync(h.path('app.log'), 0);
    appendFileSync(h.path('app.log'), text(['fresh']));
    await h.waitForLines([...numbered(0, 10), 'fresh']);
    expect(h.ctx.metrics.errors.get({ ...LABELS, error_type: 'file_truncated', stage: 'read' })).toBe(1);
  });

  it('a deleted file is drained through its handle, then released', async () => {
    const all = numbered(0, 2000);
    writeFileSync(h.path('app.log'), text(all));
    h.ctx.hold();
    await h.start({ readBufferBytes: 4096, maxBatchRecords: 50 });
    await settle();
    unlinkSync(h.path('app.log'));
    h.ctx.release();
    await h.waitForLines(all);
    await h.waitForMessage('file drained and released');
    await vi.waitFor(() => expect(h.entries()).toEqual([]), WAIT);
  });
});

describe('custom_log source: fast rotations and backlogs', () => {
  /** Whether this file system reports birth times (statx btime on Linux). */
  const birthTimes = ((): boolean => {
    const dir = mkdtempSync(join(tmpdir(), 'oma-btime-'));
    try {
      writeFileSync(join(dir, 'f'), '');
      return statSync(join(dir, 'f')).birthtimeMs > 0;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();

  it('reads a generation that was at the path for less than a scan interval, in order, before the new file', async () => {
    await h.start({ filePatterns: [h.path('app.log')], scanIntervalMs: 200 });
    writeFileSync(h.path('app.log'), text(numbered(0, 20)));
    await h.waitForLines(numbered(0, 20));
    // Two rotations with no scan in between: the middle generation never matches when a scan looks.
    renameSync(h.path('app.log'), h.path('app.log.1'));
    writeFileSync(h.path('app.log'), text(numbered(20, 40)));
    renameSync(h.path('app.log'), h.path('app.log.2'));
    writeFileSync(h.path('app.log'), text(numbered(40, 60)));
    await h.waitForLines(numbered(0, 60));
    expect(new Set(h.records().map((r) => r.FilePath))).toEqual(new Set([h.path('app.log')]));
    expect(h.logs.find((l) => l.msg === 'rotated generation found; reading it')).toMatchObject({ path: h.path('app.log.2') });
    // Both rotated files are drained and released; nothing is read twice.
    await vi.waitFor(() => expect(h.entries().map((e) => e.path)).toEqual([h.path('app.log')]), WAIT);
    await settle();
    expect(h.lines()).toEqual(numbered(0, 60));
  });

  it('reads every generation rotated away while stopped, oldest first, then the new file', async () => {
    await h.start({ filePatterns: [h.path('app.log')] });
    writeFileSync(h.path('app.log'), text(numbered(0, 10)));
    await h.waitForLines(numbered(0, 10));
    await h.stop();
    appendFileSync(h.path('app.log'), text(numbered(10, 15)));
    renameSync(h.path('app.log'), h.path('app.log-1'));
    writeFileSync(h.path('app.log'), text(numbered(15, 25)));
    renameSync(h.path('app.log'), h.path('app.log-2'));
    writeFileSync(h.path('app.log'), text(numbered(25, 30)));
    renameSync(h.path('app.log'), h.path('app.log_3'));
    writeFileSync(h.path('app.log'), text(numbered(30, 35)));
    await h.start({ filePatterns: [h.path('app.log')] });
    await h.waitForLines(numbered(0, 35));
    await vi.waitFor(() => expect(h.entries().map((e) => e.path)).toEqual([h.path('app.log')]), WAIT);
    // Restarting once more reads nothing again.
    await h.stop();
    await h.start({ filePatterns: [h.path('app.log')] });
    await settle();
    expect(h.lines()).toEqual(numbered(0, 35));
  });

  it('never takes old generations, generations already read or their copies for missed ones', async () => {
    writeFileSync(h.path('app.log.0'), text(['ancient']));
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(h.path('app.log.0'), hourAgo, hourAgo);
    writeFileSync(h.path('app.log.9.gz'), text(['compressed']));
    writeFileSync(h.path('app.log'), text(['before start']));
    await h.start({ filePatterns: [h.path('app.log')], startAt: 'end' });
    appendFileSync(h.path('app.log'), text(['a1']));
    await h.waitForLines(['a1']);
    renameSync(h.path('app.log'), h.path('app.log.1'));
    writeFileSync(h.path('app.log'), text(['b1']));
    await h.waitForLines(['a1', 'b1']);
    await h.waitForMessage('file drained and released');
    appendFileSync(h.path('app.log'), text(['b2']));
    // A copy of the generation already read, made after the current file's last write; files not named
    // like a rotation of it.
    copyFileSync(h.path('app.log.1'), h.path('app.log.1.bak'));
    writeFileSync(h.path('app.logger'), text(['unrelated']));
    writeFileSync(h.path('other.log.1'), text(['unrelated']));
    renameSync(h.path('app.log'), h.path('app.log.2'));
    writeFileSync(h.path('app.log'), text(['c1']));
    await h.waitForLines(['a1', 'b1', 'b2', 'c1']);
    await h.waitForMessage('file drained and released');
    await settle();
    expect(h.lines()).toEqual(['a1', 'b1', 'b2', 'c1']);
  });

  it.runIf(birthTimes)('never takes a file created before the current one was first seen, even if modified later', async () => {
    writeFileSync(h.path('app.log.0'), text(['ancient']));
    await h.start({ filePatterns: [h.path('app.log')], startAt: 'end' });
    // The old file is clearly older than the current one (file timestamps are coarse).
    await vi.waitFor(() => expect(Date.now() - statSync(h.path('app.log.0')).birthtimeMs).toBeGreaterThan(200), WAIT);
    writeFileSync(h.path('app.log'), text(['a1']));
    await h.waitForLines(['a1']);
    // Modified after the current file, but it existed before the source first saw that file.
    const later = new Date(Date.now() + 60_000);
    utimesSync(h.path('app.log.0'), later, later);
    renameSync(h.path('app.log'), h.path('app.log.1'));
    writeFileSync(h.path('app.log'), text(['b1']));
    await h.waitForLines(['a1', 'b1']);
    await h.waitForMessage('file drained and released');
    await settle();
    expect(h.lines()).toEqual(['a1', 'b1']);
  });

  it.runIf(birthTimes)('reads a generation that came and went before any file at its path was seen, before the current one', async () => {
    writeFileSync(h.path('app.log.1'), text(['ancient'])); // an old rotation: created before the start
    await vi.waitFor(() => expect(Date.now() - statSync(h.path('app.log.1')).birthtimeMs).toBeGreaterThan(200), WAIT);
    await h.start({ filePatterns: [h.path('app.log')], scanIntervalMs: 200 });
    writeFileSync(h.path('app.log'), text(numbered(0, 10)));
    renameSync(h.path('app.log'), h.path('app.log.2'));
    writeFileSync(h.path('app.log'), text(numbered(10, 20)));
    await h.waitForLines(numbered(0, 20));
    await settle();
    expect(h.lines()).toEqual(numbered(0, 20));
  });

  it.runIf(birthTimes)('reads the generations of a log that appeared and rotated while stopped, before its current file', async () => {
    writeFileSync(h.path('app.log.0'), text(['ancient'])); // an old rotation: created before the last save
    await vi.waitFor(() => expect(Date.now() - statSync(h.path('app.log.0')).birthtimeMs).toBeGreaterThan(200), WAIT);
    await h.start({ filePatterns: [h.path('app.log')] });
    await h.stop();
    writeFileSync(h.path('app.log'), text(numbered(0, 10)));
    renameSync(h.path('app.log'), h.path('app.log.1'));
    writeFileSync(h.path('app.log'), text(numbered(10, 20)));
    await h.start({ filePatterns: [h.path('app.log')] });
    await h.waitForLines(numbered(0, 20));
    await settle();
    expect(h.lines()).toEqual(numbered(0, 20));
  });

  it('keeps scanning while an emit waits: a rotation during a backlog is noticed before the backlog is read', async () => {
    writeFileSync(h.path('app.log'), text(numbered(0, 2000)));
    h.ctx.hold();
    await h.start({ filePatterns: [h.path('app.log')], readBufferBytes: 4096, maxBatchRecords: 50 });
    await settle();
    renameSync(h.path('app.log'), h.path('app.log.1'));
    writeFileSync(h.path('app.log'), text(numbered(0, 10, 'mid')));
    await h.waitForMessage('file rotated away or removed; draining it');
    renameSync(h.path('app.log'), h.path('app.log.2'));
    writeFileSync(h.path('app.log'), text(numbered(0, 10, 'new')));
    await vi.waitFor(() => expect(h.logs.filter((l) => l.msg === 'file rotated away or removed; draining it')).toHaveLength(2), WAIT);
    expect(h.lines()).toEqual([]);
    h.ctx.release();
    await h.waitForLines([...numbered(0, 2000), ...numbered(0, 10, 'mid'), ...numbered(0, 10, 'new')]);
  });
});

describe('custom_log source: never crashes', () => {
  it('counts directories and unreadable paths matching a pattern once, and keeps reading the rest', async () => {
    mkdirSync(h.path('dir.log'));
    symlinkSync(h.path('loop.log'), h.path('loop.log'));
    writeFileSync(h.path('ok.log'), text(['fine']));
    await h.start();
    await h.waitForLines(['fine']);
    await settle();
    expect(h.ctx.metrics.errors.get({ ...LABELS, error_type: 'EISDIR', stage: 'scan' })).toBe(1);
    expect(h.ctx.metrics.errors.get({ ...LABELS, error_type: 'ELOOP', stage: 'scan' })).toBe(1);
    appendFileSync(h.path('ok.log'), text(['still']));
    await h.waitForLines(['fine', 'still']);
  });

  it('a reader loop that keeps failing is reported to the pipeline (ctx.fail), which restarts the source', async () => {
    writeFileSync(h.path('ok.log'), text(['fine']));
    const source = await h.start();
    await h.waitForLines(['fine']);
    const boom = new Error('unexpected state');
    vi.spyOn(source as unknown as { readRound(): Promise<boolean> }, 'readRound').mockRejectedValue(boom);
    await vi.waitFor(() => expect(h.ctx.failures).toEqual([boom]), WAIT);
    expect(h.errors('loop')).toBe(5);
    expect(h.messages).toContain('custom log reader keeps failing; handing it back to the pipeline to restart');
  });

  it.skipIf(process.getuid?.() === 0)('counts a file it may not open (root may open anything)', async () => {
    writeFileSync(h.path('secret.log'), text(['hidden']), { mode: 0o000 });
    writeFileSync(h.path('ok.log'), text(['fine']));
    await h.start();
    await h.waitForLines(['fine']);
    expect(h.ctx.metrics.errors.get({ ...LABELS, error_type: 'EACCES', stage: 'open' })).toBe(1);
  });

  it('survives files that vanish and reappear between scans', async () => {
    await h.start();
    for (let i = 0; i < 20; i++) {
      writeFileSync(h.path(`flash-${i}.log`), text([`f${i}`]));
      if (i % 2 === 0) unlinkSync(h.path(`flash-${i}.log`));
      await new Promise((r) => setTimeout(r, 5));
    }
    writeFileSync(h.path('final.log'), text(['end']));
    await vi.waitFor(() => expect(h.lines()).toContain('end'), WAIT);
    expect(h.lines().filter((l) => l !== 'end').every((l) => /^f\d+$/.test(l))).toBe(true);
  });
});
