import { describe, expect, it } from 'vitest';
import { seededRandom } from '../testing/prng.js';
import { maxEscapedBytes, utf8Boundary, writeEscapedString, writeEscapedUtf8 } from './json-escape.js';

/** What JSON.stringify makes of the decoded bytes, without its quotes, as UTF-8. */
function oracle(src: Buffer, start = 0, end = src.length): Buffer {
  return Buffer.from(JSON.stringify(src.toString('utf8', start, end)).slice(1, -1), 'utf8');
}

const SENTINEL = 0xa5;

/** Escapes src[start, end) at `pos` of a sentinel-filled buffer; checks nothing outside the output was written. */
function escape(src: Buffer, start = 0, end = src.length, pos = 0): Buffer {
  const out = Buffer.alloc(pos + maxEscapedBytes(end - start) + 8, SENTINEL);
  const after = writeEscapedUtf8(src, start, end, out, pos);
  expect(out.subarray(0, pos).every((b) => b === SENTINEL)).toBe(true);
  expect(out.subarray(after).every((b) => b === SENTINEL)).toBe(true);
  return out.subarray(pos, after);
}

function escapeString(s: string, pos = 0): Buffer {
  const out = Buffer.alloc(pos + maxEscapedBytes(s.length) + 8, SENTINEL);
  const after = writeEscapedString(s, out, pos);
  expect(out.subarray(0, pos).every((b) => b === SENTINEL)).toBe(true);
  expect(out.subarray(after).every((b) => b === SENTINEL)).toBe(true);
  return out.subarray(pos, after);
}

/** `bytes` placed at a given offset inside a larger buffer (so byteOffset and word alignment vary). */
function placed(bytes: Buffer | number[], offset: number): Buffer {
  const b = Buffer.from(bytes);
  const backing = Buffer.alloc(offset + b.length + 5, 0x80); // continuation bytes around it
  b.copy(backing, offset);
  return backing.subarray(offset, offset + b.length);
}

describe('writeEscapedUtf8', () => {
  it('escapes each control character as JSON.stringify does', () => {
    for (let c = 0; c < 0x20; c++) {
      const src = Buffer.from([0x61, c, 0x62]);
      expect(escape(src).toString('latin1'), `0x${c.toString(16)}`).toBe(JSON.stringify(`a${String.fromCharCode(c)}b`).slice(1, -1));
    }
    expect(escape(Buffer.from('\b\t\n\f\r\u0000\u001f\u000b')).toString()).toBe('\\b\\t\\n\\f\\r\\u0000\\u001f\\u000b');
  });

  it('escapes quotes and backslashes, leaves DEL, U+2028 and U+2029 as they are', () => {
    expect(escape(Buffer.from('say "hi" \\ bye')).toString()).toBe('say \\"hi\\" \\\\ bye');
    for (const s of ['\u007f', '\u2028', '\u2029', 'x\u2028y\u2029z\u007f']) {
      const src = Buffer.from(s);
      expect(escape(src)).toEqual(src);
      expect(escape(src)).toEqual(oracle(src));
    }
  });

  it('copies valid multi-byte characters, a 4-byte emoji among them, as they are', () => {
    for (const s of ['é', '€', '😀', 'a😀b', '\u0080\u07ff\u0800\uffff\u{10000}\u{10ffff}\ufffd', 'žluťoučký kůň 日本語 🦀']) {
      const src = Buffer.from(s);
      expect(escape(src)).toEqual(src);
    }
  });

  it('replaces each class of invalid sequence by U+FFFD as Buffer#toString does', () => {
    const R = '\ufffd';
    const cases: [string, number[], string][] = [
      ['overlong 2-byte (C0, C1 leads)', [0xc0, 0xaf, 0xc1, 0xbf], R.repeat(4)],
      ['overlong 3-byte', [0xe0, 0x80, 0xaf, 0xe0, 0x9f, 0xbf], R.repeat(6)],
      ['overlong 4-byte', [0xf0, 0x80, 0x80, 0xaf, 0xf0, 0x8f, 0xbf, 0xbf], R.repeat(8)],
      ['UTF-16 surrogates', [0xed, 0xa0, 0x80, 0xed, 0xbf, 0xbf], R.repeat(6)],
      ['above U+10FFFF (F4 90)', [0xf4, 0x90, 0x80, 0x80], R.repeat(4)],
      ['above U+10FFFF (F5..FF leads)', [0xf5, 0x80, 0xf8, 0xfe, 0xff], R.repeat(5)],
      ['truncated 2-byte before ASCII', [0xc3, 0x41], `${R}A`],
      ['truncated 3-byte (one U+FFFD for the maximal subpart)', [0xe2, 0x82, 0x41], `${R}A`],
      ['truncated 4-byte (one U+FFFD for the maximal subpart)', [0xf0, 0x9f, 0x98, 0x41], `${R}A`],
      ['truncated 4-byte after two bytes', [0xf0, 0x9f, 0x41], `${R}A`],
      ['truncated at the end of input', [0x61, 0xf0, 0x9f, 0x98], `a${R}`],
      ['lead byte then another lead', [0xe2, 0xe2, 0x82, 0xac], `${R}€`],
      ['stray continuation bytes', [0x61, 0x80, 0x62, 0xbf, 0xbf], `a${R}b${R}${R}`],
    ];
    for (const [name, bytes, expected] of cases) {
      const src = Buffer.from(bytes);
      // The oracle itself follows the WHATWG rule: the figures above are what Buffer#toString gives.
      expect(src.toString('utf8'), name).toBe(expected);
      expect(escape(src), name).toEqual(oracle(src));
      expect(escape(src).toString('utf8'), name).toBe(expected);
    }
  });

  it('writes nothing for empty input', () => {
    const out = Buffer.alloc(4, SENTINEL);
    expect(writeEscapedUtf8(Buffer.alloc(0), 0, 0, out, 2)).toBe(2);
    expect(writeEscapedUtf8(Buffer.from('abc'), 1, 1, out, 0)).toBe(0);
    expect(out.every((b) => b === SENTINEL)).toBe(true);
  });

  it('reads only src[start, end) and writes at pos', () => {
    const src = Buffer.from('xx€"ab😀yy');
    // end inside the emoji: its first bytes are a truncated sequence, what follows is not read.
    for (const [start, end] of [
      [2, 5],
      [3, 9],
      [5, 9],
      [3, 6],
      [0, src.length],
      [4, src.length - 1],
    ] as const) {
      for (const pos of [0, 1, 7]) {
        expect(escape(src, start, end, pos), `${start}..${end} at ${pos}`).toEqual(oracle(src, start, end));
      }
    }
  });

  it('escapes the same at every alignment, in long runs and short ones', () => {
    const line = '2026-11-21T10:00:00.000Z web-01 nginx[1000]: req=00000001 status=200 "GET /" \\ é 😀 \u0001 lorem ipsum dolor sit amet';
    for (let offset = 0; offset < 8; offset++) {
      const src = placed(Buffer.from(line), offset);
      for (let start = 0; start < 12; start++) {
        for (const end of [start, start + 3, start + 31, start + 32, start + 33, start + 64, src.length]) {
          if (end > src.length) continue;
          expect(escape(src, start, end), `offset ${offset} ${start}..${end}`).toEqual(oracle(src, start, end));
        }
      }
    }
  });

  it('finds a byte needing attention at every position of a long printable run', () => {
    for (const special of [0x00, 0x1f, 0x22, 0x5c, 0x80, 0xc3, 0xff]) {
      for (let at = 0; at < 80; at++) {
        const bytes = Buffer.alloc(80, 0x7e);
        bytes[at] = special;
        for (const offset of [0, 1, 2, 3]) {
          const src = placed(bytes, offset);
          expect(escape(src), `0x${special.toString(16)} at ${at}`).toEqual(oracle(src));
        }
      }
    }
  });

  it('matches JSON.stringify(buf.toString()) on random byte strings', () => {
    const rnd = seededRandom(0x5eed);
    const int = (n: number): number => Math.floor(rnd() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
    const encode = (cp: number): number[] => [...Buffer.from(String.fromCodePoint(cp))];
    const cont = (): number => 0x80 + int(0x40);
    const pieces: (() => number[])[] = [
      // printable ASCII, short and long runs
      () => Array.from({ length: 1 + int(5) }, () => 0x20 + int(0x5f)),
      () => Array.from({ length: 20 + int(100) }, () => pick([0x20, 0x41, 0x61, 0x7a, 0x30, 0x3d, 0x5b, 0x7e])),
      () => [int(0x20)],
      () => [pick([0x22, 0x5c, 0x7f])],
      // valid multi-byte characters, boundaries of each length included
      () => encode(0x80 + int(0x780)),
      () => encode(pick([0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x2028, 0x2029, 0x10000, 0x10ffff])),
      () => encode(0x800 + int(0xd000)),
      () => encode(0x10000 + int(0x100000)),
      // every class of invalid sequence
      () => [pick([0xc0, 0xc1]), cont()],
      () => [0xe0, 0x80 + int(0x20), cont()],
      () => [0xf0, 0x80 + int(0x10), cont(), cont()],
      () => [0xed, 0xa0 + int(0x20), cont()],
      () => [0xf4, 0x90 + int(0x30), cont(), cont()],
      () => [0xf5 + int(0x0b)],
      () => encode(0x80 + int(0x10ff80)).slice(0, -1),
      () => encode(0x800 + int(0x10f800)).slice(0, 1),
      () => [cont()],
      () => [int(256)],
    ];
    for (let iter = 0; iter < 3000; iter++) {
      const bytes: number[] = [];
      const count = int(30);
      for (let p = 0; p < count; p++) bytes.push(...pick(pieces)());
      const src = placed(bytes, int(8));
      const start = int(Math.min(4, src.length + 1));
      const end = start + int(src.length - start + 1);
      const pos = int(5);
      expect(escape(src, start, end, pos), `iteration ${iter}`).toEqual(oracle(src, start, end));
    }
  });

  it('refuses an output without maxEscapedBytes of room', () => {
    const src = Buffer.from('abc');
    expect(() => writeEscapedUtf8(src, 0, 3, Buffer.alloc(17), 0)).toThrow(RangeError);
    expect(() => writeEscapedUtf8(src, 0, 3, Buffer.alloc(20), 3)).toThrow(RangeError);
    expect(writeEscapedUtf8(src, 0, 3, Buffer.alloc(18), 0)).toBe(3);
  });
});

describe('maxEscapedBytes', () => {
  it('covers input made only of control characters', () => {
    const src = Buffer.alloc(10, 0x01);
    expect(maxEscapedBytes(10)).toBe(60);
    expect(escape(src).length).toBe(60);
  });
});

describe('writeEscapedString', () => {
  it('matches JSON.stringify on names, paths and strings that need escaping', () => {
    for (const s of [
      '',
      'web-01',
      'web-01.contoso.example.com',
      '/var/log/nginx/access.log',
      'C:\\Logs\\app "prod"\\today.log',
      'café/日本/ログ.txt',
      'tab\there\nline\u0000\u001f\u007f',
      '😀 and \u2028\u2029',
      'x'.repeat(33),
      'é'.repeat(40),
      `${'a'.repeat(40)}"`,
      `${'日本'.repeat(30)}\n`,
    ]) {
      expect(escapeString(s, 3), JSON.stringify(s)).toEqual(Buffer.from(JSON.stringify(s).slice(1, -1)));
    }
  });

  it('escapes lone surrogates as JSON.stringify does, keeps pairs', () => {
    for (const s of ['\ud800', '\udfff', 'a\ud83d', '\ude00b', '\ude00\ud83d', '\ud83d\ude00', `${'x'.repeat(40)}\udc00`, `${'y'.repeat(40)}\ud83d\ude00`]) {
      expect(escapeString(s), JSON.stringify(s)).toEqual(Buffer.from(JSON.stringify(s).slice(1, -1)));
    }
    expect(escapeString('\ud800x').toString()).toBe('\\ud800x');
  });

  it('matches JSON.stringify on random strings of UTF-16 code units', () => {
    const rnd = seededRandom(0xc0de);
    const int = (n: number): number => Math.floor(rnd() * n);
    const units = [
      () => 0x20 + int(0x5f),
      () => int(0x20),
      () => [0x22, 0x5c, 0x7f][int(3)]!,
      () => 0x80 + int(0x780),
      () => 0x800 + int(0xd000),
      () => 0xd800 + int(0x800), // surrogates, paired or not
      () => 0xe000 + int(0x2000),
    ];
    for (let iter = 0; iter < 3000; iter++) {
      const length = iter % 2 === 0 ? int(33) : 33 + int(100);
      const codes = Array.from({ length }, () => (rnd() < 0.7 ? 0x61 + int(26) : units[int(units.length)]!()));
      if (iter % 3 === 0) codes.push(0xd83d, 0xde00);
      const s = String.fromCharCode(...codes);
      expect(escapeString(s, int(5)), `iteration ${iter}`).toEqual(Buffer.from(JSON.stringify(s).slice(1, -1)));
    }
  });

  it('refuses an output without maxEscapedBytes(s.length) of room', () => {
    expect(() => writeEscapedString('abc', Buffer.alloc(17), 0)).toThrow(RangeError);
    expect(writeEscapedString('abc', Buffer.alloc(18), 0)).toBe(3);
  });
});

describe('utf8Boundary', () => {
  /** Byte offsets at which the characters of s start, and its byte length. */
  function boundaries(s: string): number[] {
    const out = [0];
    let at = 0;
    for (const ch of s) out.push((at += Buffer.byteLength(ch)));
    return out;
  }

  it('never splits a character, at every position, from any start', () => {
    const s = 'aé€😀b日本😀xž';
    const text = Buffer.from(s);
    for (const prefix of ['', 'q', 'qr', 'é']) {
      const src = Buffer.concat([Buffer.from(prefix), text]);
      const start = Buffer.byteLength(prefix);
      const marks = boundaries(s);
      for (let maxBytes = 0; maxBytes <= text.length + 2; maxBytes++) {
        const expected = Math.max(...marks.filter((m) => m <= maxBytes));
        const n = utf8Boundary(src, start, maxBytes);
        expect(n, `${prefix} ${maxBytes}`).toBe(expected);
        expect(src.toString('utf8', start, start + n)).toBe([...s].slice(0, marks.indexOf(n)).join(''));
      }
    }
  });

  it('cuts a long non-ASCII string at 64 KiB on a character boundary', () => {
    let s = '';
    while (Buffer.byteLength(s) < 100_000) s += 'žluťoučký kůň úpěl ďábelské ódy 日本語のログ 😀🦀 ';
    const src = Buffer.from(s);
    for (let start = 0; start < 8; start++) {
      const n = utf8Boundary(src, start, 65536);
      expect(n).toBeLessThanOrEqual(65536);
      expect(n).toBeGreaterThanOrEqual(65533);
      const startsChar = (src[start]! & 0xc0) !== 0x80;
      if (startsChar) {
        const kept = src.toString('utf8', start, start + n);
        expect(kept).not.toContain('\ufffd');
        expect(s.includes(kept)).toBe(true);
        expect((src[start + n]! & 0xc0) !== 0x80).toBe(true);
      }
    }
  });

  it('keeps what decodes as a prefix of the whole, on random bytes', () => {
    const rnd = seededRandom(0xb0b);
    const int = (n: number): number => Math.floor(rnd() * n);
    const alphabet = [0x41, 0x80, 0x9f, 0xa0, 0xbf, 0xc2, 0xc3, 0xdf, 0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
    for (let iter = 0; iter < 5000; iter++) {
      const src = Buffer.from(Array.from({ length: 1 + int(16) }, () => alphabet[int(alphabet.length)]!));
      const start = int(src.length);
      const maxBytes = int(src.length - start + 2);
      const n = utf8Boundary(src, start, maxBytes);
      const avail = src.length - start;
      expect(n).toBeLessThanOrEqual(Math.min(maxBytes, avail));
      expect(n).toBeGreaterThanOrEqual(Math.min(maxBytes, avail) - 3);
      expect(src.toString('utf8', start).startsWith(src.toString('utf8', start, start + n)), `iteration ${iter}`).toBe(true);
    }
  });

  it('cuts a malformed run where it is', () => {
    // Four continuation bytes in a row: no character to protect.
    const run = Buffer.from([0x61, 0x80, 0x80, 0x80, 0x80, 0x80]);
    expect(utf8Boundary(run, 0, 5)).toBe(5);
    // A complete character followed by a stray continuation byte is not cut.
    const stray = Buffer.from([0x61, 0xc3, 0xa9, 0x80]);
    expect(utf8Boundary(stray, 0, 3)).toBe(3);
    // Bytes that never start a character (F5..FF, C0, C1) are not treated as the start of one.
    expect(utf8Boundary(Buffer.from([0x61, 0xf5, 0x80, 0x80]), 0, 3)).toBe(3);
    expect(utf8Boundary(Buffer.from([0x61, 0xc0, 0x80]), 0, 2)).toBe(2);
    // A character cut by the limit is dropped whole, even when it is the first one.
    expect(utf8Boundary(Buffer.from('é'), 0, 1)).toBe(0);
  });
});
