import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { AgentError, SYSLOG, validateRecord, type JournalBinding, type LogRecord } from '@oma/core';
import { FakeJournal, MemoryCheckpointStore, testSourceContext, type JournalTestEntry, type TestSourceContext } from '@oma/core/testing';
import { journaldConfigSchema, type JournaldConfig } from './config.js';
import { JournaldSource } from './journald.js';

const T0 = 1_700_000_000_000_000;
const DIR = '/journal';

function entry(i: number, fields: Record<string, string | Uint8Array> = {}): JournalTestEntry {
  return { realtimeUs: T0 + i * 1000, fields: { MESSAGE: `m${i}`, PRIORITY: '6', ...fields } };
}

class Harness {
  readonly fake = new FakeJournal();
  readonly store = new MemoryCheckpointStore();
  readonly logs: Array<Record<string, unknown>> = [];
  readonly ctx: TestSourceContext;
  source: JournaldSource | undefined;

  constructor() {
    const log = pino({ level: 'debug' }, { write: (line: string) => this.logs.push(JSON.parse(line) as Record<string, unknown>) });
    this.ctx = testSourceContext({ id: 'j', type: 'journald', checkpoints: this.store, log });
  }

  config(over: Record<string, unknown> = {}): JournaldConfig {
    return journaldConfigSchema.parse({ directory: DIR, startAt: 'head', waitTimeoutMs: 20, ...over });
  }

  async start(over: Record<string, unknown> = {}, binding: () => JournalBinding = () => this.fake, reopenAfterEntries?: number): Promise<JournaldSource> {
    this.source = new JournaldSource(this.config(over), this.ctx, binding, { reopenAfterEntries });
    await this.source.start();
    return this.source;
  }

  async stop(): Promise<void> {
    await this.source?.stop(AbortSignal.timeout(5000));
    this.source = undefined;
  }

  records(): LogRecord[] {
    return this.ctx.emitted.flatMap((b) => b.records);
  }

  messages(): string[] {
    return this.records().map((r) => r.SyslogMessage as string);
  }

  async saved(): Promise<string | undefined> {
    return (await this.store.load()).state.cursor as string | undefined;
  }

  counter(name: 'errors' | 'recordsDropped', labels: Record<string, string>): number {
    return this.ctx.metrics[name].get({ ...this.ctx.labels, ...labels });
  }
}

describe('journald source', () => {
  it('opens the journal again every so many entries, and reads on after the last entry with no gap or duplicate', async () => {
    const h = new Harness();
    h.fake.write(`${DIR}/a.journal`, Array.from({ length: 250 }, (_, i) => entry(i)));
    await h.start({ maxBatchRecords: 20 }, () => h.fake, 100);
    await vi.waitFor(() => expect(h.records()).toHaveLength(250));
    // Opened at start, then after 100 and 200 entries; the older readers are closed.
    expect(h.fake.opened).toHaveLength(3);
    h.fake.write(`${DIR}/a.journal`, [entry(250)]);
    await vi.waitFor(() => expect(h.records()).toHaveLength(251));
    await h.stop();
    expect(h.messages()).toEqual(Array.from({ length: 251 }, (_, i) => `m${i}`));
  });

  it('reads on with the open reader when opening the journal again fails', async () => {
    const h = new Harness();
    h.fake.write(`${DIR}/a.journal`, Array.from({ length: 60 }, (_, i) => entry(i)));
    let opens = 0;
    const binding: JournalBinding = {
      open: (o) => (++opens === 1 ? h.fake.open(o) : Promise.reject(new AgentError('OMA_ERR_NATIVE', 'sd_journal_open_directory: EMFILE'))),
    };
    await h.start({ maxBatchRecords: 10 }, () => binding, 25);
    await vi.waitFor(() => expect(h.records()).toHaveLength(60));
    await h.stop();
    expect(h.messages()).toEqual(Array.from({ length: 60 }, (_, i) => `m${i}`));
    expect(opens).toBeGreaterThan(1);
    expect(h.logs.some((l) => l.msg === 'journal not reopened; reading on with the open reader')).toBe(true);
  });

  it('maps journal fields to Syslog records', async () => {
    const h = new Harness();
    h.fake.write(`${DIR}/a.journal`, [
      entry(0, { PRIORITY: '3', SYSLOG_FACILITY: '4', SYSLOG_IDENTIFIER: 'sshd', _COMM: 'sshd-x', _PID: '1234', _HOSTNAME: 'web1', MESSAGE: 'Failed "password"\n' }),
      entry(1, { _TRANSPORT: 'kernel', PRIORITY: '2', MESSAGE: 'oops' }),
      entry(2, { _TRANSPORT: 'stdout', _COMM: 'app', SYSLOG_PID: '77', MESSAGE: Uint8Array.from([0x68, 0x69, 0xff, 0x00]) }),
      { realtimeUs: T0 + 3_000_999, fields: { SYSLOG_FACILITY: '23', PRIORITY: 'x' } },
    ]);
    await h.start();
    await vi.waitFor(() => expect(h.records()).toHaveLength(4));
    await h.stop();
    const [a, b, c, d] = h.records();
    expect(h.ctx.emitted[0]!.table).toBe('Syslog');
    for (const r of h.records()) expect(validateRecord(SYSLOG, r)).toEqual([]);
    expect(a).toEqual({
      TimeGenerated: '2023-11-14T22:13:20.000Z',
      EventTime: '2023-11-14T22:13:20.000Z',
      Computer: 'test-host',
      HostName: 'web1',
      Facility: 'auth',
      SeverityLevel: 'err',
      ProcessID: 1234,
      ProcessName: 'sshd',
      SyslogMessage: 'Failed "password"\n',
    });
    expect(b).toMatchObject({ Facility: 'kern', SeverityLevel: 'crit', SyslogMessage: 'oops' });
    expect(b).not.toHaveProperty('ProcessName');
    expect(b).not.toHaveProperty('HostName');
    // Binary MESSAGE: decoded as UTF-8, invalid bytes replaced by U+FFFD.
    expect(c).toMatchObject({ Facility: 'user', ProcessName: 'app', ProcessID: 77, SyslogMessage: 'hi\ufffd\u0000' });
    // No MESSAGE, an unusable PRIORITY (info), local7; the time to the millisecond.
    expect(d).toEqual({
      TimeGenerated: '2023-11-14T22:13:23.000Z',
      EventTime: '2023-11-14T22:13:23.000Z',
      Computer: 'test-host',
      Facility: 'local7',
      SeverityLevel: 'info',
    });
  });

  it('keeps entries at minPriority or more severe (no PRIORITY counts as info), counts the others, and saves the cursor past them', async () => {
    const h = new Harness();
    const all = Array.from({ length: 16 }, (_, i) => entry(i, { PRIORITY: String(i % 8) }));
    all.push({ realtimeUs: T0 + 99_000, fields: { MESSAGE: 'no priority' } });
    h.fake.write(`${DIR}/a.journal`, all);
    await h.start({ minPriority: 'warning' });
    await vi.waitFor(async () => expect(await h.saved()).toBe('fake;s=17'));
    await h.stop();
    expect(h.messages()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm8', 'm9', 'm10', 'm11', 'm12']);
    expect(h.counter('recordsDropped', { reason: 'filtered' })).toBe(7);

    const info = new Harness();
    info.fake.write(`${DIR}/a.journal`, all);
    await info.start({ minPriority: 'info' });
    await vi.waitFor(() => expect(info.messages()).toContain('no priority'));
    await info.stop();
  });

  it('saves the cursor only once the pipeline queued the batch', async () => {
    const h = new Harness();
    h.fake.write(`${DIR}/a.journal`, [entry(0), entry(1)]);
    h.ctx.hold();
    await h.start();
    await vi.waitFor(() => expect(h.fake.opened).toHaveLength(1));
    // The source waits in emit: nothing queued, nothing saved.
    await new Promise((r) => setImmediate(r));
    expect(h.ctx.emitted).toHaveLength(0);
    expect(await h.saved()).toBeUndefined();
    h.ctx.release();
    await vi.waitFor(async () => expect(await h.saved()).toBe('fake;s=2'));
    expect(h.messages()).toEqual(['m0', 'm1']);
    await h.stop();
  });

  it('resumes after its saved cursor across a restart: no gap, no duplicate', async () => {
    const h = new Harness();
    h.fake.write(`${DIR}/a.journal`, Array.from({ length: 25 }, (_, i) => entry(i)));
    await h.start({ maxBatchRecords: 10 });
    await vi.waitFor(async () => expect(await h.saved()).toBe('fake;s=25'));
    await h.stop();
    h.fake.write(`${DIR}/a.journal`, Array.from({ length: 5 }, (_, i) => entry(25 + i)));
    // A restart with startAt tail: the saved cursor wins.
    await h.start({ maxBatchRecords: 10, startAt: 'tail' });
    await vi.waitFor(() => expect(h.records()).toHaveLength(30));
    h.fake.write(`${DIR}/b.journal`, [entry(30)]);
    await vi.waitFor(() => expect(h.records()).toHaveLength(31));
    await h.stop();
    expect(h.messages()).toEqual(Array.from({ length: 31 }, (_, i) => `m${i}`));
    expect(h.ctx.emitted.slice(0, 3).map((b) => b.records.length)).toEqual([10, 10, 5]);
  });

  it('starts at the tail without a cursor by default, at the head when asked', async () => {
    const h = new Harness();
    h.fake.write(`${DIR}/a.journal`, [entry(0), entry(1)]);
    await h.start({ startAt: 'tail' });
    h.fake.write(`${DIR}/a.journal`, [entry(2)]);
    await vi.waitFor(() => expect(h.messages()).toEqual(['m2']));
    await h.stop();
  });

  it('falls back to startAt when the saved cursor is not a cursor of this journal', async () => {
    const h = new Harness();
    await h.store.save({ cursor: 'garbage' });
    h.fake.write(`${DIR}/a.journal`, [entry(0)]);
    await h.start({ startAt: 'head' });
    await vi.waitFor(() => expect(h.messages()).toEqual(['m0']));
    await h.stop();
    expect(h.logs.some((l) => l.msg === 'saved journal cursor not usable; starting over')).toBe(true);
    expect(h.counter('errors', { error_type: 'OMA_ERR_NATIVE', stage: 'seek' })).toBe(1);
  });

  it('asks the journal for the units and matches configured, and opens the location configured', async () => {
    const h = new Harness();
    h.fake.write(`${DIR}/a.journal`, [
      entry(0, { _SYSTEMD_UNIT: 'nginx.service', _TRANSPORT: 'stdout' }),
      entry(1, { _SYSTEMD_UNIT: 'cron.service', _TRANSPORT: 'stdout' }),
      entry(2, { _SYSTEMD_UNIT: 'ssh.service', _TRANSPORT: 'syslog' }),
      entry(3, { _SYSTEMD_UNIT: 'ssh.service', _TRANSPORT: 'stdout' }),
    ]);
    await h.start({ units: ['nginx', 'ssh.service'], matches: ['_TRANSPORT=stdout'] });
    await vi.waitFor(() => expect(h.messages()).toEqual(['m0', 'm3']));
    await h.stop();
    expect(h.fake.opened[0]!.matches).toEqual([['_SYSTEMD_UNIT=nginx.service', '_SYSTEMD_UNIT=ssh.service', '_TRANSPORT=stdout']]);
    const sys = new Harness();
    await sys.start({ directory: undefined, localOnly: true });
    await sys.stop();
    expect(sys.fake.opened[0]!.location).toEqual({ kind: 'system', localOnly: true });
    expect(journaldConfigSchema.safeParse({ directory: '/x', files: ['/y'] }).success).toBe(false);
    expect(journaldConfigSchema.safeParse({ matches: ['bad match'] }).success).toBe(false);
  });

  it('splits batches at maxBatchBytes', async () => {
    const h = new Harness();
    h.fake.write(`${DIR}/a.journal`, Array.from({ length: 40 }, (_, i) => entry(i, { MESSAGE: `${i}:${'x'.repeat(1000)}` })));
    await h.start({ maxBatchBytes: '8KiB' });
    await vi.waitFor(() => expect(h.records()).toHaveLength(40));
    await h.stop();
    expect(h.ctx.emitted.length).toBeGreaterThanOrEqual(5);
    for (const b of h.ctx.emitted) expect(JSON.stringify(b.records).length).toBeLessThanOrEqual(8 * 1024 + 2);
  });

  it('cuts fields longer than maxFieldBytes and counts them', async () => {
    const h = new Harness();
    h.fake.write(`${DIR}/a.journal`, [entry(0, { MESSAGE: 'y'.repeat(1000) })]);
    await h.start({ maxFieldBytes: 300 });
    await vi.waitFor(() => expect(h.records()).toHaveLength(1));
    await h.stop();
    expect(h.messages()[0]).toBe('y'.repeat(300));
    expect(h.counter('recordsDropped', { reason: 'field_truncated' })).toBe(1);
  });

  it('counts and logs a failed read, and reads on', async () => {
    const h = new Harness();
    h.fake.write(`${DIR}/a.journal`, [entry(0)]);
    h.fake.failNextRead('EBADMSG');
    await h.start();
    h.fake.write(`${DIR}/a.journal`, [entry(1)]);
    await vi.waitFor(() => expect(h.messages()).toEqual(['m0', 'm1']), { timeout: 5000 });
    await h.stop();
    expect(h.counter('errors', { error_type: 'OMA_ERR_NATIVE', stage: 'read' })).toBe(1);
    expect(h.logs.filter((l) => l.msg === 'journal read failed; reading on after a pause')).toHaveLength(1);
    expect(h.ctx.failures).toEqual([]);
  });

  it('logs and counts a journal file it cannot open, and reads the others', async () => {
    const h = new Harness();
    h.fake.write(`${DIR}/a.journal`, [entry(0)]);
    h.fake.write(`${DIR}/b.journal`, [entry(1)]);
    h.fake.damage(`${DIR}/b.journal`);
    await h.start();
    await vi.waitFor(() => expect(h.messages()).toEqual(['m0']));
    await h.stop();
    expect(h.logs.find((l) => l.msg === 'journal file unreadable; skipped')).toMatchObject({ level: 50, path: `${DIR}/b.journal` });
    expect(h.counter('errors', { error_type: 'OMA_ERR_NATIVE', stage: 'open' })).toBe(1);
  });

  it('on a host without journal support, says why once and stays idle without failing', async () => {
    for (const binding of [
      () => {
        throw new AgentError('OMA_ERR_NATIVE_LOAD', 'native addon journal is not built');
      },
      () => {
        const f = new FakeJournal();
        f.openError = new AgentError('OMA_ERR_NATIVE_LOAD', 'libsystemd.so.0 not found');
        return f;
      },
    ]) {
      const h = new Harness();
      await h.start({}, binding);
      await h.stop();
      expect(h.logs.filter((l) => l.msg === 'journal unavailable on this host; journald source idle')).toHaveLength(1);
      expect(h.ctx.failures).toEqual([]);
    }
    // Any other failure to open is a failed start (retried by the pipeline).
    const h = new Harness();
    h.fake.openError = new AgentError('OMA_ERR_NATIVE', 'journal open_directory failed: EACCES');
    await expect(h.start()).rejects.toMatchObject({ code: 'OMA_ERR_NATIVE' });
  });

  it('stops while the queue blocks, without saving what was not queued', async () => {
    const h = new Harness();
    h.fake.write(`${DIR}/a.journal`, [entry(0)]);
    h.ctx.hold();
    const src = await h.start();
    await vi.waitFor(() => expect(h.fake.opened).toHaveLength(1));
    await src.stop(AbortSignal.timeout(50));
    expect(h.ctx.emitted).toHaveLength(0);
    expect(await h.saved()).toBeUndefined();
    expect(h.fake.openReaders).toBe(0);
  });
});
