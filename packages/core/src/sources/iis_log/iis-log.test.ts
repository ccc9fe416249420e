import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryCheckpointStore } from '../../checkpoint/checkpoint-store.js';
import { coreComponents } from '../../builtins.js';
import type { Source } from '../../pipeline/component.js';
import { FakeClock } from '../../testing/fake-clock.js';
import { testSourceContext, type TestSourceContext } from '../../testing/index.js';
import { defaultLogDirectories, iisLogConfigSchema, iisLogConfigSchemaFor, iisLogSource, tailConfig } from './index.js';
import { ALL_FIELDS_LINES, CHROME_UA, crlf, DEFAULT_LINES, header } from './samples.js';

const WAIT = { timeout: 10_000, interval: 20 };
const LABELS = { component_id: 'iis', component_type: 'iis_log' };

class Harness {
  readonly dir = mkdtempSync(join(tmpdir(), 'oma-iislog-'));
  readonly store = new MemoryCheckpointStore();
  readonly clock = new FakeClock(Date.UTC(2026, 11, 3, 12));
  readonly logs: Array<Record<string, unknown>> = [];
  ctx: TestSourceContext;
  source: Source | undefined;

  constructor() {
    this.ctx = this.newContext();
  }

  private newContext(): TestSourceContext {
    const log = pino({ level: 'debug' }, { write: (line: string) => void this.logs.push(JSON.parse(line) as Record<string, unknown>) });
    return testSourceContext({ id: 'iis', type: 'iis_log', checkpoints: this.store, log, clock: this.clock });
  }

  /** A site's log folder, W3SVC<id>. */
  site(id: number): string {
    const d = join(this.dir, `W3SVC${id}`);
    mkdirSync(d, { recursive: true });
    return d;
  }

  async start(options: Record<string, unknown> = {}): Promise<Source> {
    const config = iisLogConfigSchema.parse({
      logDirectories: [join(this.dir, 'W3SVC*')],
      startAt: 'beginning',
      scanIntervalMs: 40,
      pollIntervalMs: 15,
      rotateWaitMs: 150,
      ...options,
    });
    this.source = iisLogSource.create(config, this.ctx);
    await this.source.start();
    return this.source;
  }

  async stop(): Promise<void> {
    const s = this.source;
    this.source = undefined;
    await s?.stop(AbortSignal.timeout(10_000));
  }

  /** Stops, and starts again on the saved positions with a fresh context (a restart of the agent). */
  async restart(options: Record<string, unknown> = {}): Promise<void> {
    await this.stop();
    const before = this.ctx.emitted;
    this.ctx = this.newContext();
    this.ctx.emitted.push(...before);
    await this.start(options);
  }

  rows(): Array<Record<string, unknown>> {
    return this.ctx.emitted.flatMap((b) => b.records as Array<Record<string, unknown>>);
  }

  stems(): unknown[] {
    return this.rows().map((r) => r.csUriStem);
  }

  dropped(reason?: string): number {
    return this.ctx.metrics.recordsDropped.sum(reason ? { ...LABELS, reason } : LABELS);
  }
}

/** A data line of the default fields. */
const hit = (time: string, stem: string, date = '2026-12-03'): string =>
  `${date} ${time} 10.0.0.4 GET ${stem} - 443 - 203.0.113.7 ${CHROME_UA} - 200 0 0 46`;

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(async () => {
  h.ctx.release();
  await h.stop();
  rmSync(h.dir, { recursive: true, force: true });
});

describe('iis_log config', () => {
  it('requires logDirectories where IIS has no default folders, with the reason', () => {
    const r = iisLogConfigSchemaFor('linux').safeParse({});
    expect(r.success).toBe(false);
    expect(r.error?.issues).toEqual([expect.objectContaining({ path: ['logDirectories'], message: expect.stringMatching(/required on this platform/) })]);
    expect(iisLogConfigSchemaFor('linux').safeParse({ logDirectories: ['/srv/iis/W3SVC1'] }).success).toBe(true);
  });

  it('defaults on Windows to every site folder under C:\\inetpub\\logs\\LogFiles, u_ex*.log and ex*.log, table W3CIISLog', () => {
    const c = iisLogConfigSchemaFor('win32').parse({});
    expect(c).toMatchObject({ table: 'W3CIISLog', filePatterns: ['u_ex*.log', 'ex*.log'], startAt: 'end' });
    expect(c.logDirectories).toBeUndefined();
    expect(defaultLogDirectories('win32')).toEqual(['C:\\inetpub\\logs\\LogFiles\\W3SVC*']);
    expect(tailConfig(c, 'win32').filePatterns).toEqual([
      join('C:\\inetpub\\logs\\LogFiles\\W3SVC*', 'u_ex*.log'),
      join('C:\\inetpub\\logs\\LogFiles\\W3SVC*', 'ex*.log'),
    ]);
  });

  it('rejects other tables and unknown keys, and describes every option', () => {
    const schema = iisLogConfigSchemaFor('win32');
    expect(schema.safeParse({ table: 'Iis_CL' }).success).toBe(false);
    expect(schema.safeParse({ partialLineFlushMs: 10 }).success).toBe(false);
    for (const [key, s] of Object.entries(schema.shape)) expect(s.description, key).toBeTruthy();
  });

  it('is a core component with its DCR kind and output table', () => {
    const def = coreComponents().find((c) => c.type === 'iis_log');
    expect(def?.kind).toBe('source');
    expect(iisLogSource.dcr?.kind).toBe('iisLogs');
    expect(iisLogSource.outputTables?.(iisLogConfigSchemaFor('win32').parse({}))).toEqual(['W3CIISLog']);
  });
});

describe('iis_log source', () => {
  it('reads every site folder into W3CIISLog rows: default fields and all fields', async () => {
    writeFileSync(join(h.site(1), 'u_ex261203.log'), crlf(DEFAULT_LINES));
    writeFileSync(join(h.site(2), 'u_ex261203.log'), crlf(ALL_FIELDS_LINES));
    await h.start();
    await vi.waitFor(() => expect(h.rows()).toHaveLength(4), WAIT);
    expect(h.ctx.emitted.every((b) => b.table === 'W3CIISLog')).toBe(true);
    expect(h.stems().sort()).toEqual(['/default.aspx', '/my docs/café.html', '/api/orders', '/shop/cart'].sort());
    const shop = h.rows().find((r) => r.csUriStem === '/shop/cart')!;
    expect(shop).toMatchObject({ sSiteName: 'W3SVC2', csCookie: 'ASP.NET_SessionId=abc123; theme=dark', scBytes: 5120, csBytes: 734, Computer: 'test-host' });
    expect(h.dropped()).toBe(0);
  });

  it('follows a new #Fields block written mid-file (an IIS restart with other fields)', async () => {
    const file = join(h.site(1), 'u_ex261203.log');
    writeFileSync(file, crlf([...header('2026-12-03 08:00:00'), hit('08:00:01', '/before')]));
    await h.start();
    await vi.waitFor(() => expect(h.stems()).toEqual(['/before']), WAIT);
    appendFileSync(file, crlf([...header('2026-12-03 09:00:00', 'date time cs-uri-stem sc-status sc-bytes'), '2026-12-03 09:00:01 /after 200 512']));
    await vi.waitFor(() => expect(h.stems()).toEqual(['/before', '/after']), WAIT);
    expect(h.rows()[1]).toEqual({ TimeGenerated: '2026-12-03T09:00:01.000Z', Computer: 'test-host', csUriStem: '/after', scStatus: '200', scBytes: 512 });
  });

  it('never sends a line appended in two writes before its newline, however long the wait', async () => {
    const file = join(h.site(1), 'u_ex261203.log');
    const line = hit('08:00:02', '/split');
    writeFileSync(file, crlf([...header('2026-12-03 08:00:00'), hit('08:00:01', '/first')]) + line.slice(0, 40));
    await h.start();
    await vi.waitFor(() => expect(h.stems()).toEqual(['/first']), WAIT);
    // Time passes (far beyond any flush delay) while the line is half written; another site's line
    // shows that the reader went round meanwhile.
    await h.clock.advance(3_600_000);
    writeFileSync(join(h.site(2), 'u_ex261203.log'), crlf([...header('2026-12-03 08:00:03'), hit('08:00:03', '/other')]));
    await vi.waitFor(() => expect(h.stems()).toEqual(['/first', '/other']), WAIT);
    expect(h.dropped()).toBe(0);
    appendFileSync(file, `${line.slice(40)}\r\n`);
    await vi.waitFor(() => expect(h.stems()).toEqual(['/first', '/other', '/split']), WAIT);
    expect(h.rows()[2]).toMatchObject({ TimeGenerated: '2026-12-03T08:00:02.000Z', TimeTaken: 46 });
    expect(h.dropped()).toBe(0);
  });

  it('reads the next day\'s new file with its own header after the current one', async () => {
    const site = h.site(1);
    writeFileSync(join(site, 'u_ex261203.log'), crlf([...header('2026-12-03 00:00:00'), hit('23:59:59', '/late')]));
    await h.start();
    await vi.waitFor(() => expect(h.stems()).toEqual(['/late']), WAIT);
    writeFileSync(join(site, 'u_ex261204.log'), crlf([...header('2026-12-04 00:00:00', 'date time cs-uri-stem time-taken'), '2026-12-04 00:00:00 /early 3']));
    appendFileSync(join(site, 'u_ex261203.log'), crlf([hit('23:59:59', '/last')]));
    await vi.waitFor(() => expect(h.stems().sort()).toEqual(['/early', '/last', '/late']), WAIT);
    expect(h.rows().find((r) => r.csUriStem === '/early')).toEqual({ TimeGenerated: '2026-12-04T00:00:00.000Z', Computer: 'test-host', csUriStem: '/early', TimeTaken: 3 });
    expect(h.dropped()).toBe(0);
  });

  it('after a restart in the middle of a file, parses what follows with the header written before', async () => {
    const file = join(h.site(1), 'u_ex261203.log');
    writeFileSync(file, crlf([...header('2026-12-03 08:00:00', 'date time cs-uri-stem sc-status'), '2026-12-03 08:00:01 /one 200']));
    await h.start();
    await vi.waitFor(() => expect(h.stems()).toEqual(['/one']), WAIT);
    await h.stop();
    appendFileSync(file, crlf(['2026-12-03 08:00:02 /two 404']));
    await h.restart();
    await vi.waitFor(() => expect(h.stems()).toEqual(['/one', '/two']), WAIT);
    expect(h.rows()[1]).toEqual({ TimeGenerated: '2026-12-03T08:00:02.000Z', Computer: 'test-host', csUriStem: '/two', scStatus: '404' });
    expect(h.dropped()).toBe(0);
  });

  it('with startAt end, parses lines written after the start with the header already in the file', async () => {
    const file = join(h.site(1), 'u_ex261203.log');
    writeFileSync(file, crlf([...header('2026-12-03 08:00:00'), hit('08:00:01', '/old')]));
    await h.start({ startAt: 'end' });
    await vi.waitFor(() => expect(h.logs.map((l) => l.msg)).toContain('tailing file'), WAIT);
    appendFileSync(file, crlf([hit('08:00:02', '/new')]));
    await vi.waitFor(() => expect(h.stems()).toEqual(['/new']), WAIT);
    expect(h.dropped()).toBe(0);
  });

  it('counts and reports malformed lines, and goes on with the next ones', async () => {
    const file = join(h.site(1), 'u_ex261203.log');
    writeFileSync(
      file,
      crlf([
        ...header('2026-12-03 08:00:00'),
        hit('08:00:01', '/ok1'),
        '2026-12-03 08:00:02 10.0.0.4 GET /short',
        hit('08:00:03', '/bad-date', '2026-13-03'),
        hit('08:00:04', '/ok2'),
      ]),
    );
    await h.start();
    await vi.waitFor(() => expect(h.stems()).toEqual(['/ok1', '/ok2']), WAIT);
    expect(h.dropped('w3c_field_count')).toBe(1);
    expect(h.dropped('w3c_bad_date')).toBe(1);
    const warnings = h.logs.filter((l) => l.msg === 'W3C log line malformed; dropped');
    expect(warnings.map((w) => w.reason)).toEqual(['field_count', 'bad_date']);
    expect(warnings[0]).toMatchObject({ path: file, expected: 15, got: 5 });
  });

  it('reads a UTF-8 file with a byte-order mark', async () => {
    const file = join(h.site(1), 'u_ex261203.log');
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(crlf(['#Fields: date time cs-uri-stem', '2026-12-03 08:00:01 /über']))]));
    await h.start();
    await vi.waitFor(() => expect(h.stems()).toEqual(['/über']), WAIT);
    expect(h.dropped()).toBe(0);
  });

  it('reports a field without a W3CIISLog column once', async () => {
    writeFileSync(join(h.site(1), 'u_ex261203.log'), crlf(['#Fields: date time cs(X-Forwarded-For) cs-uri-stem', '2026-12-03 08:00:01 192.0.2.1 /a']));
    writeFileSync(join(h.site(2), 'u_ex261203.log'), crlf(['#Fields: date time cs(X-Forwarded-For) cs-uri-stem', '2026-12-03 08:00:01 192.0.2.1 /b']));
    await h.start();
    await vi.waitFor(() => expect(h.stems().sort()).toEqual(['/a', '/b']), WAIT);
    expect(h.logs.filter((l) => l.msg === 'W3C field has no W3CIISLog column; ignored').map((l) => l.field)).toEqual(['cs(X-Forwarded-For)']);
  });
});
