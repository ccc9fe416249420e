import { bench, describe } from 'vitest';
import { textRecordFormat, W3cEncoder, type W3cEvents } from '../src/index.js';

/**
 * The W3C parser of `iis_log` on IIS 10 lines of the default fields (about 260 bytes each), each line
 * parsed and written as a W3CIISLog row into one output buffer, as the tail engine does:
 *
 * - w3c: `W3cEncoder.encode` straight from the line's bytes;
 * - text: the custom-log text row (RawData) of the same lines, for scale;
 * - naive: split into strings, an object per row, JSON.stringify.
 *
 * Every operation encodes LINES lines, so µs per line = mean (ms) × 1000 / LINES = mean (ms) / 10.
 */
const LINES = 10_000;
const FIELDS =
  'date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken';
const UA = 'Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/120.0.0.0+Safari/537.36';

function line(i: number): string {
  const s = String(i % 60).padStart(2, '0');
  const query = i % 3 === 0 ? `id=${i}&page=${i % 7}` : '-';
  const user = i % 5 === 0 ? 'CONTOSO\\alice' : '-';
  return `2026-12-03 08:${s}:${s} 10.0.0.4 GET /shop/item${i % 97}/details.aspx ${query} 443 ${user} 203.0.113.${i % 250} ${UA} https://www.example.com/shop?q=red+shoes ${i % 11 === 0 ? 404 : 200} 0 0 ${i % 900}`;
}

const lines = Array.from({ length: LINES }, (_, i) => line(i));
const src = Buffer.from(lines.join(''));
const starts = new Int32Array(LINES + 1);
for (let i = 0, p = 0; i < LINES; i++) {
  starts[i] = p;
  p += Buffer.byteLength(lines[i]!);
  starts[i + 1] = p;
}

const events: W3cEvents = {
  dropped: () => {
    throw new Error('dropped');
  },
  unknownField: () => {},
  resumeFailed: () => {},
};
const file = { origin: 'C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex261203.log', path: 'C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex261203.log' };
const w3c = new W3cEncoder(file, 'web01', events, 64 * 1024);
w3c.directive(`#Fields: ${FIELDS}`);
const text = textRecordFormat('web01').encoderFor(file);
const out = Buffer.allocUnsafe(64 * 1024 * 1024);

function run(enc: { maxBytes(n: number): number; encode(...a: Parameters<W3cEncoder['encode']>): number }): number {
  let pos = 0;
  for (let i = 0; i < LINES; i++) {
    const s = starts[i]!;
    const n = starts[i + 1]! - s;
    if (pos + enc.maxBytes(n) > out.length) pos = 0;
    pos = enc.encode(src, s, n, 1_796_000_000_000, 0, out, pos);
  }
  return pos;
}

const NAMES = FIELDS.split(' ');
const COLUMNS: Record<string, string> = {
  's-ip': 'sIP', 'cs-method': 'csMethod', 'cs-uri-stem': 'csUriStem', 'cs-uri-query': 'csUriQuery', 's-port': 'sPort', 'cs-username': 'csUserName',
  'c-ip': 'cIP', 'cs(User-Agent)': 'csUserAgent', 'cs(Referer)': 'csReferer', 'sc-status': 'scStatus', 'sc-substatus': 'scSubStatus',
  'sc-win32-status': 'scWin32Status', 'time-taken': 'TimeTaken',
};

function naive(): number {
  let pos = 0;
  for (let i = 0; i < LINES; i++) {
    const values = src.toString('utf8', starts[i], starts[i + 1]).split(' ');
    const row: Record<string, unknown> = { TimeGenerated: new Date(`${values[0]}T${values[1]}Z`).toISOString(), Computer: 'web01' };
    NAMES.forEach((n, k) => {
      const c = COLUMNS[n];
      const v = values[k]!;
      if (c === undefined || v === '-') return;
      row[c] = c === 'sPort' || c === 'TimeTaken' ? Number(v) : v.replaceAll('+', ' ');
    });
    if (pos > out.length - 4096) pos = 0;
    pos += out.write(JSON.stringify(row), pos);
  }
  return pos;
}

describe(`W3C lines into rows (${LINES} lines per op)`, () => {
  bench('w3c: W3cEncoder from bytes', () => void run(w3c));
  bench('text: custom-log RawData row', () => void run(text));
  bench('naive: split + object + JSON.stringify', () => void naive());
});
