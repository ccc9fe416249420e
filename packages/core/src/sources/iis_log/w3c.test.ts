import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { W3CIISLOG } from '../../model/tables.js';
import { ALL_FIELDS_LINES, CHROME_UA, crlf, DEFAULT_LINES, header, IIS10_DEFAULT_FIELDS } from './samples.js';
import { W3C_FIELD_COLUMNS, W3cEncoder, type W3cDropReason, type W3cEvents } from './w3c.js';

class Recorder implements W3cEvents {
  readonly drops: Array<{ reason: W3cDropReason; detail: Record<string, unknown> }> = [];
  readonly unknown: string[] = [];
  readonly resumeErrors: unknown[] = [];
  dropped(_file: unknown, reason: W3cDropReason, detail: Record<string, unknown>): void {
    this.drops.push({ reason, detail });
  }
  unknownField(_file: unknown, name: string): void {
    this.unknown.push(name);
  }
  resumeFailed(_file: unknown, err: unknown): void {
    this.resumeErrors.push(err);
  }
}

const FILE = { origin: '/logs/W3SVC1/u_ex261203.log', path: '/logs/W3SVC1/u_ex261203.log' };

function encoder(ev = new Recorder()): { enc: W3cEncoder; ev: Recorder } {
  return { enc: new W3cEncoder(FILE, 'web01', ev, 64 * 1024), ev };
}

/** Feeds lines as the splitter hands them (bytes, no line end) and parses the rows written. */
function rows(enc: W3cEncoder, lines: readonly string[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const l of lines) {
    const src = Buffer.concat([Buffer.from('xx'), Buffer.from(l)]);
    const bytes = src.length - 2;
    const buf = Buffer.alloc(enc.maxBytes(bytes) + 8, 0x21);
    const end = enc.encode(src, 2, bytes, 0, 0, buf, 4);
    if (end < 0) continue;
    expect(end).toBeLessThanOrEqual(4 + enc.maxBytes(bytes));
    out.push(JSON.parse(buf.toString('utf8', 4, end)) as Record<string, unknown>);
  }
  return out;
}

describe('W3C parser', () => {
  it('maps the IIS 10 default fields to W3CIISLog columns: types, - as empty, + and percent decoding where IIS encodes', () => {
    const { enc, ev } = encoder();
    expect(rows(enc, DEFAULT_LINES)).toEqual([
      {
        TimeGenerated: '2026-12-03T08:00:01.000Z',
        Computer: 'web01',
        sIP: '10.0.0.4',
        csMethod: 'GET',
        csUriStem: '/default.aspx',
        sPort: 443,
        cIP: '203.0.113.7',
        csUserAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
        csReferer: 'https://www.example.com/start?q=a b',
        scStatus: '200',
        scSubStatus: '0',
        scWin32Status: '0',
        TimeTaken: 46,
      },
      {
        TimeGenerated: '2026-12-03T08:00:02.000Z',
        Computer: 'web01',
        sIP: '10.0.0.4',
        csMethod: 'POST',
        csUriStem: '/api/orders',
        // The query stays as written: decoding %26 would make it a separator.
        csUriQuery: 'id=42&note=%26x',
        sPort: 443,
        csUserName: 'CONTOSO\\alice',
        cIP: '203.0.113.8',
        csUserAgent: 'curl/8.4.0',
        scStatus: '500',
        scSubStatus: '19',
        scWin32Status: '64',
        TimeTaken: 1203,
      },
      {
        TimeGenerated: '2026-12-03T08:00:03.000Z',
        Computer: 'web01',
        sIP: '10.0.0.4',
        csMethod: 'GET',
        csUriStem: '/my docs/café.html',
        sPort: 80,
        cIP: '2001:db8::1',
        scStatus: '404',
        scSubStatus: '0',
        scWin32Status: '2',
        TimeTaken: 15,
      },
    ]);
    expect(enc.software).toBe('Microsoft Internet Information Services 10.0');
    expect(enc.version).toBe('1.0');
    expect(ev.drops).toEqual([]);
    expect(ev.unknown).toEqual([]);
  });

  it('maps every field IIS can log, with bytes as numbers', () => {
    const { enc } = encoder();
    expect(rows(enc, ALL_FIELDS_LINES)).toEqual([
      {
        TimeGenerated: '2026-12-03T09:15:27.000Z',
        Computer: 'web01',
        sSiteName: 'W3SVC2',
        sComputerName: 'WEB01',
        sIP: '10.0.0.5',
        csMethod: 'GET',
        csUriStem: '/shop/cart',
        sPort: 443,
        cIP: '198.51.100.23',
        csVersion: 'HTTP/2',
        csUserAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
        csCookie: 'ASP.NET_SessionId=abc123; theme=dark',
        csReferer: 'https://shop.example.com/',
        csHost: 'shop.example.com',
        scStatus: '200',
        scSubStatus: '0',
        scWin32Status: '0',
        scBytes: 5120,
        csBytes: 734,
        TimeTaken: 12,
      },
    ]);
  });

  it('has a column of the right type for every W3CIISLog column but TimeGenerated and Computer', () => {
    const mapped = new Set(Object.values(W3C_FIELD_COLUMNS));
    const columns = W3CIISLOG.columns.map((c) => c.name).filter((c) => c !== 'TimeGenerated' && c !== 'Computer');
    expect([...mapped].sort()).toEqual(columns.sort());
  });

  it('follows a #Fields change mid-file', () => {
    const { enc } = encoder();
    const r = rows(enc, [
      ...DEFAULT_LINES.slice(0, 5),
      ...header('2026-12-03 10:00:00', 'date time cs-method cs-uri-stem sc-status sc-bytes'),
      '2026-12-03 10:00:05 GET /after-restart 304 140',
    ]);
    expect(r).toHaveLength(2);
    expect(r[1]).toEqual({ TimeGenerated: '2026-12-03T10:00:05.000Z', Computer: 'web01', csMethod: 'GET', csUriStem: '/after-restart', scStatus: '304', scBytes: 140 });
  });

  it('takes the date from #Date when the header has no date field, and keeps fractions of seconds', () => {
    const { enc } = encoder();
    const r = rows(enc, ['#Date: 2026-02-28 00:00:00', '#Fields: time cs-uri-stem', '23:59:59.5 /a', '00:00:01.12345 /b']);
    expect(r.map((x) => x.TimeGenerated)).toEqual(['2026-02-28T23:59:59.500Z', '2026-02-28T00:00:01.123Z']);
  });

  it('drops malformed lines and reports why: no header yet, value count, bad dates and times; never throws', () => {
    const { enc, ev } = encoder();
    const good = `2026-12-03 08:00:01 10.0.0.4 GET / - 443 - 203.0.113.7 ${CHROME_UA} - 200 0 0 46`;
    const r = rows(enc, [
      good,
      ...header('2026-12-03 08:00:00'),
      '2026-12-03 08:00:01 10.0.0.4 GET / - 443',
      `${good} extra`,
      good.replace('2026-12-03', '2026-02-30'),
      good.replace('2026-12-03', '26-12-03xx'),
      good.replace('08:00:01', '24:00:01'),
      good.replace('08:00:01', '08:0a:01'),
      good,
      good.replace(' 46', ' 4x6').replace(' 443 ', ' 0443 '),
    ]);
    expect(ev.drops.map((d) => d.reason)).toEqual(['no_header', 'field_count', 'field_count', 'bad_date', 'bad_date', 'bad_date', 'bad_date']);
    expect(ev.drops[1]!.detail).toEqual({ expected: 15, got: 7 });
    expect(r).toHaveLength(2);
    // A number that is not one is left out; leading zeros are dropped.
    expect(r[1]).not.toHaveProperty('TimeTaken');
    expect(r[1]!.sPort).toBe(443);
  });

  it('ignores unknown fields, reporting them with each header', () => {
    const { enc, ev } = encoder();
    const r = rows(enc, ['#Fields: date time cs(X-Forwarded-For) s-event cs-uri-stem', '2026-12-03 08:00:01 192.0.2.1 Log /x']);
    expect(r).toEqual([{ TimeGenerated: '2026-12-03T08:00:01.000Z', Computer: 'web01', csUriStem: '/x' }]);
    expect(ev.unknown).toEqual(['cs(X-Forwarded-For)', 's-event']);
  });

  it('escapes values as JSON and decodes percent sequences only where valid', () => {
    const { enc } = encoder();
    const r = rows(enc, ['#Fields: date time cs-uri-stem cs(User-Agent)', '2026-12-03 08:00:01 /a%2/%zz/%22q%5C/%00/%e2%9c%93 "quoted"+\\back']);
    expect(r[0]!.csUriStem).toBe('/a%2/%zz/"q\\/\u0000/✓');
    expect(r[0]!.csUserAgent).toBe('"quoted" \\back');
  });
});

describe('W3C parser: resume', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function resumed(text: string | Buffer, offset: (t: Buffer) => number): Promise<{ enc: W3cEncoder; ev: Recorder }> {
    dir = mkdtempSync(join(tmpdir(), 'oma-w3c-'));
    const path = join(dir, 'u_ex261203.log');
    const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
    writeFileSync(path, buf);
    const fh = await open(path, 'r');
    const made = encoder();
    try {
      await made.enc.resume(fh, offset(buf));
    } finally {
      await fh.close();
    }
    return made;
  }

  it('reads back the last #Fields before the position and the directives of its block', async () => {
    const later = 'date time cs-method cs-uri-stem sc-status';
    const text = crlf([...DEFAULT_LINES, ...header('2026-12-04 00:00:00', later), '2026-12-04 00:00:01 GET /x 200', ...header('2026-12-05 00:00:00', 'date time')]);
    // Resume just before the third header block: the second is in force.
    const { enc, ev } = await resumed(text, (b) => b.lastIndexOf('#Software'));
    expect(enc.header?.names).toEqual(later.split(' '));
    expect(rows(enc, ['2026-12-04 00:00:02 GET /y 200'])).toHaveLength(1);
    expect(ev.resumeErrors).toEqual([]);
  });

  it('finds a header far before the position (searching back chunk by chunk) and after a byte-order mark', async () => {
    const body = Array.from({ length: 3000 }, (_, i) => `2026-12-03 08:00:01 10.0.0.4 GET /page/${i} - 443 - 203.0.113.7 ${CHROME_UA} - 200 0 0 46`);
    const text = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(crlf([`#Fields: ${IIS10_DEFAULT_FIELDS}`, ...body]))]);
    const { enc } = await resumed(text, (b) => b.length);
    expect(enc.header?.names).toEqual(IIS10_DEFAULT_FIELDS.split(' '));
  });

  it('finds a header line starting anywhere around the boundaries of its 64 KiB search steps', async () => {
    const fields = 'date time cs-uri-stem';
    const tail = crlf(['2026-12-03 08:00:01 /x']);
    for (const gap of [65_536 - 12, 65_536 - 9, 65_536 - 8, 65_536 - 1, 65_536, 65_536 + 1, 131_072 - 5, 131_072 + 3]) {
      // `#Fields` line, then filler lines so that the position is `gap` bytes after the line's start.
      const head = `#Fields: ${fields}\r\n`;
      const fill = gap - head.length - tail.length;
      const filler = `${'#Remark: '.padEnd(fill - 2, 'x')}\r\n`;
      const text = `${crlf(['#Fields: date time'])}${head}${filler}${tail}`;
      const { enc } = await resumed(text, (b) => b.length);
      expect(enc.header?.names, `gap ${gap}`).toEqual(fields.split(' '));
      rmSync(dir!, { recursive: true, force: true });
    }
  });

  it('leaves the header unset when there is none before the position', async () => {
    const text = crlf(DEFAULT_LINES);
    const { enc } = await resumed(text, (b) => b.indexOf('#Fields'));
    expect(enc.header).toBeUndefined();
  });
});
