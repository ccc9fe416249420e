import { mkdtemp, open, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SYSLOG, validateRecord, type LogRecord } from '@oma/core';
import { MemoryCheckpointStore, testSourceContext, type JournalTestEntry, type TestSourceContext } from '@oma/core/testing';
import { canWriteJournals, writeJournal } from '../../native/journal-testing.js';
import { journaldConfigSchema } from './config.js';
import { JournaldSource } from './journald.js';

// Real journal files written by systemd-journal-remote, read through the journal addon.
const T0 = 1_700_000_000_000_000;
const UNITS = ['nginx.service', 'cron.service', 'ssh.service'];

function entries(n: number, from = 0): JournalTestEntry[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const fields: Record<string, string | Uint8Array> = {
      MESSAGE: `m${i}`,
      PRIORITY: String(i % 8),
      _SYSTEMD_UNIT: UNITS[i % 3]!,
      SYSLOG_IDENTIFIER: UNITS[i % 3]!.replace('.service', ''),
      _PID: String(1000 + (i % 3)),
      _HOSTNAME: 'host-a',
      _TRANSPORT: 'journal',
    };
    // Every 50th message is binary (length-prefixed in the export format), with a newline and a NUL.
    if (i % 50 === 7) fields.MESSAGE = Buffer.concat([Buffer.from(`m${i}`), Buffer.from([0x0a, 0x00, 0xc3])]);
    return { realtimeUs: T0 + i * 1000, fields };
  });
}

const messageOf = (i: number) => (i % 50 === 7 ? `m${i}\n\u0000\ufffd` : `m${i}`);

describe.runIf(canWriteJournals())('journald source on real journal files', () => {
  let dir: string;
  const sources: JournaldSource[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oma-journald-'));
  });
  afterEach(async () => {
    for (const s of sources.splice(0)) await s.stop(AbortSignal.timeout(5000));
    await rm(dir, { recursive: true, force: true });
  });

  async function startSource(
    over: Record<string, unknown> = {},
    store = new MemoryCheckpointStore(),
    setUp?: (ctx: TestSourceContext) => void,
  ): Promise<{ ctx: TestSourceContext; src: JournaldSource; logs: Array<Record<string, unknown>> }> {
    const { NativeJournalBinding } = await import('../../native/journal.js');
    const logs: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) });
    const ctx = testSourceContext({ id: 'journal', type: 'journald', checkpoints: store, log });
    const config = journaldConfigSchema.parse({ directory: dir, startAt: 'head', waitTimeoutMs: 200, ...over });
    setUp?.(ctx);
    const src = new JournaldSource(config, ctx, () => new NativeJournalBinding());
    sources.push(src);
    await src.start();
    return { ctx, src, logs };
  }

  const records = (ctx: TestSourceContext): LogRecord[] => ctx.emitted.flatMap((b) => b.records);
  const messages = (ctx: TestSourceContext): string[] => records(ctx).map((r) => r.SyslogMessage as string);

  it('reads every entry of a directory in order, mapped to Syslog, binary messages included', async () => {
    await writeJournal(join(dir, 'a.journal'), entries(3000));
    const { ctx } = await startSource({ maxBatchRecords: 500 });
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(3000), { timeout: 20_000 });
    expect(messages(ctx)).toEqual(Array.from({ length: 3000 }, (_, i) => messageOf(i)));
    const r = records(ctx)[4]!;
    expect(validateRecord(SYSLOG, r)).toEqual([]);
    expect(r).toEqual({
      TimeGenerated: '2023-11-14T22:13:20.004Z',
      EventTime: '2023-11-14T22:13:20.004Z',
      Computer: 'test-host',
      HostName: 'host-a',
      Facility: 'user',
      SeverityLevel: 'warning',
      ProcessID: 1001,
      ProcessName: 'cron',
      SyslogMessage: 'm4',
    });
  });

  it('reads only the units asked for, at minPriority or more severe', async () => {
    await writeJournal(join(dir, 'a.journal'), entries(600));
    const { ctx } = await startSource({ units: ['ssh', 'cron.service'], minPriority: 'err' });
    const want = Array.from({ length: 600 }, (_, i) => i).filter((i) => i % 3 !== 0 && i % 8 <= 3);
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(want.length), { timeout: 20_000 });
    expect(messages(ctx)).toEqual(want.map(messageOf));
    expect(new Set(records(ctx).map((r) => r.ProcessName))).toEqual(new Set(['cron', 'ssh']));
  });

  it('resumes from its saved cursor after a restart, with no gap and no duplicate', async () => {
    await writeJournal(join(dir, 'a.journal'), entries(2000));
    const store = new MemoryCheckpointStore();
    // The queue takes 3 batches, then stops taking any: the source reads on while batches wait, and
    // those are given up at stop, their cursor not saved.
    const first = await startSource({ maxBatchRecords: 100 }, store, (ctx) => {
      const emit = ctx.emit.bind(ctx);
      let calls = 0;
      ctx.emit = (batch, signal) => {
        if (++calls === 4) ctx.hold();
        return emit(batch, signal);
      };
    });
    await vi.waitFor(() => expect(first.ctx.emitted).toHaveLength(3), { timeout: 20_000 });
    await vi.waitFor(async () => expect((await store.load()).state.cursor).toBeDefined());
    await first.src.stop(AbortSignal.timeout(100));
    const before = messages(first.ctx);
    expect(before).toHaveLength(300);
    await writeJournal(join(dir, 'a.journal'), entries(100, 2000));
    const second = await startSource({ maxBatchRecords: 100, startAt: 'tail' }, store);
    await vi.waitFor(() => expect(before.length + records(second.ctx).length).toBe(2100), { timeout: 20_000 });
    expect([...before, ...messages(second.ctx)]).toEqual(Array.from({ length: 2100 }, (_, i) => messageOf(i)));
  });

  it('waits for entries appended to the file it reads and for a new file in the directory (rotation)', async () => {
    await writeJournal(join(dir, 'system.journal'), entries(500));
    const { ctx } = await startSource({ maxBatchRecords: 200, waitTimeoutMs: 10_000 });
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(500), { timeout: 20_000 });
    await writeJournal(join(dir, 'system.journal'), entries(300, 500));
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(800), { timeout: 20_000 });
    // Rotation: the next entries go to a new file that appears in the directory.
    await writeJournal(join(dir, 'system@0001.journal'), entries(300, 800));
    await vi.waitFor(() => expect(records(ctx)).toHaveLength(1100), { timeout: 20_000 });
    expect(messages(ctx)).toEqual(Array.from({ length: 1100 }, (_, i) => messageOf(i)));
  });

  it('reads a file damaged at its tail up to the damage, logs and counts a file cut short, and keeps running', async () => {
    const damaged = join(dir, 'a.journal');
    await writeJournal(damaged, entries(2000));
    // Overwrite the last 3000 bytes written (the file is preallocated: its end is zeros).
    const fh = await open(damaged, 'r+');
    try {
      const buf = Buffer.alloc((await fh.stat()).size);
      await fh.read(buf, 0, buf.length, 0);
      let end = buf.length;
      while (end > 0 && buf[end - 1] === 0) end--;
      await fh.write(Buffer.alloc(3000, 0xa5), 0, 3000, end - 3000);
    } finally {
      await fh.close();
    }
    const cut = join(dir, 'b.journal');
    await writeJournal(cut, entries(100, 5000));
    await truncate(cut, Math.floor((await stat(cut)).size / 2));
    const { ctx, logs } = await startSource();
    await vi.waitFor(() => expect(records(ctx).length).toBeGreaterThan(1900), { timeout: 20_000 });
    // Whatever comes through is the file's entries in order, up to the damage.
    const got = messages(ctx);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => messageOf(i)));
    expect(got.length).toBeLessThan(2000);
    expect(logs.find((l) => l.msg === 'journal file unreadable; skipped')).toMatchObject({ path: cut, level: 50 });
    expect(ctx.metrics.errors.get({ ...ctx.labels, error_type: 'OMA_ERR_NATIVE', stage: 'open' })).toBe(1);
    // Still running: a new file in the directory is read.
    await writeJournal(join(dir, 'c.journal'), entries(3, 9000));
    await vi.waitFor(() => expect(messages(ctx).slice(-3)).toEqual(['m9000', 'm9001', 'm9002']), { timeout: 20_000 });
    expect(ctx.failures).toEqual([]);
  });
});
