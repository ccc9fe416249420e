import { describe, expect, it } from 'vitest';
import { utf8Boundary } from '../../encoding/json-escape.js';
import { RecordSplitter, type RecordSink, type RecordSplitterOptions } from './record-splitter.js';
import { timestampParser } from './timestamp-formats.js';

interface Out {
  text: string;
  time: string | undefined;
  bytes: number;
  end: number;
  /** Bytes cut at the size limit. */
  cut: number;
}

function collector(limit = Infinity): { out: Out[]; sink: RecordSink } {
  const out: Out[] = [];
  return {
    out,
    sink: (src, start, ms, bytes, end, cut) => {
      // A line comes as bytes (valid only during the call), a multi-line record as text.
      const text = typeof src === 'string' ? src : src.toString('utf8', start, start + bytes);
      out.push({ text, time: ms === undefined ? undefined : new Date(ms).toISOString(), bytes, end, cut });
      return out.length < limit;
    },
  };
}

/** Feeds `data` to a splitter in chunks of `chunk` bytes (every split point is exercised by the callers). */
function split(data: Buffer | string, opts: RecordSplitterOptions, chunk = Infinity): { out: Out[]; s: RecordSplitter } {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const s = new RecordSplitter(opts);
  const { out, sink } = collector();
  for (let at = 0; at < buf.length; at += chunk) {
    const end = Math.min(buf.length, at + chunk);
    // Chunks arrive in a reused slab: copy into a bigger buffer with junk after the end.
    const slab = Buffer.alloc(end - at + 16, 0x0a);
    buf.copy(slab, 0, at, end);
    expect(s.push(slab, 0, end - at, at, sink)).toBe(end - at);
  }
  return { out, s };
}

const plain: RecordSplitterOptions = { maxRecordBytes: 1024 };

describe('RecordSplitter, one record per line', () => {
  it('splits lines, strips CR and a leading BOM, skips empty lines, tracks offsets', () => {
    const data = '\uFEFFfirst\r\nsecond\n\n\r\nthird\npart';
    for (const chunk of [1, 2, 3, 5, 1000]) {
      const { out, s } = split(data, plain, chunk);
      expect(out.map((o) => o.text)).toEqual(['first', 'second', 'third']);
      expect(out.map((o) => o.end)).toEqual([10, 17, 26]);
      expect(out.every((o) => o.time === undefined && o.cut === 0)).toBe(true);
      // "part" has no newline yet: the safe offset stays before it
      expect(s.safeOffset).toBe(26);
      expect(s.endOffset).toBe(30);
      expect(s.hasPending).toBe(true);
    }
  });

  it('flushes a partial last line on request, and later bytes start a new line', () => {
    const s = new RecordSplitter(plain);
    const { out, sink } = collector();
    s.push(Buffer.from('abc'), 0, 3, 0, sink);
    expect(out).toEqual([]);
    s.flush(sink);
    expect(out.map((o) => [o.text, o.end])).toEqual([['abc', 3]]);
    expect(s.safeOffset).toBe(3);
    expect(s.hasPending).toBe(false);
    s.push(Buffer.from('def\n'), 0, 4, 3, sink);
    expect(out.map((o) => o.text)).toEqual(['abc', 'def']);
    expect(s.safeOffset).toBe(7);
  });

  it('decodes invalid UTF-8 as U+FFFD', () => {
    const { out } = split(Buffer.from([0x61, 0xff, 0x62, 0xc3, 0x0a, 0xe2, 0x82, 0xac, 0x0a]), plain, 2);
    expect(out.map((o) => o.text)).toEqual(['a\uFFFDb\uFFFD', '€']);
  });

  it('starts a resumed file at its offset', () => {
    const s = new RecordSplitter(plain, 100);
    const { out, sink } = collector();
    expect(s.safeOffset).toBe(100);
    s.push(Buffer.from('x\ny'), 0, 3, 100, sink);
    expect(out.map((o) => o.end)).toEqual([102]);
    expect(s.safeOffset).toBe(102);
  });

  it('stops after the line at which the sink asks it to, and resumes from there', () => {
    const s = new RecordSplitter(plain);
    const { out, sink } = collector(2);
    const buf = Buffer.from('a\nb\nc\nd\n');
    const stop = s.push(buf, 0, buf.length, 0, sink);
    expect(stop).toBe(4);
    expect(out.map((o) => o.text)).toEqual(['a', 'b']);
    expect(s.safeOffset).toBe(4);
    const more = collector();
    expect(s.push(buf, stop, buf.length, stop, more.sink)).toBe(buf.length);
    expect(more.out.map((o) => o.text)).toEqual(['c', 'd']);
  });
});

describe('RecordSplitter, truncation', () => {
  const small: RecordSplitterOptions = { maxRecordBytes: 8 };

  it('keeps the first maxRecordBytes of a long line, consumes the rest of it and tells how many bytes it cut', () => {
    for (const chunk of [1, 3, 4, 7, 100]) {
      const { out } = split('0123456789abcdef\nshort\n12345678\n123456789\r\n', small, chunk);
      expect(out.map((o) => [o.text, o.cut])).toEqual([
        ['01234567', 8],
        ['short', 0],
        ['12345678', 0],
        ['12345678', 1],
      ]);
      expect(out.map((o) => o.end)).toEqual([17, 23, 32, 43]);
    }
  });

  it('a CR that would make the line one byte too long is not content', () => {
    const { out } = split('12345678\r\n', small, 3);
    expect(out.map((o) => [o.text, o.cut])).toEqual([['12345678', 0]]);
  });

  it('cuts on a UTF-8 character boundary', () => {
    // "aaaaaa€x": € is 3 bytes at offset 6..8; 8 bytes would split it
    for (const chunk of [1, 2, 5, 100]) {
      const { out } = split('aaaaaa€x\n', small, chunk);
      expect(out.map((o) => [o.text, o.bytes, o.cut])).toEqual([['aaaaaa', 6, 4]]);
    }
    const b = Buffer.from('ab€', 'utf8');
    expect(utf8Boundary(b, 0, 3)).toBe(2);
    expect(utf8Boundary(b, 0, 2)).toBe(2);
  });

  it('truncates a partial line that is flushed', () => {
    const s = new RecordSplitter(small);
    const { out, sink } = collector();
    const buf = Buffer.from('0123456789');
    s.push(buf, 0, buf.length, 0, sink);
    s.flush(sink);
    expect(out.map((o) => [o.text, o.cut, o.end])).toEqual([['01234567', 2, 10]]);
  });
});

describe('RecordSplitter, multi-line records', () => {
  const NOW = Date.UTC(2024, 5, 1);
  const ml: RecordSplitterOptions = { maxRecordBytes: 1024, recordStart: timestampParser('YYYY-MM-DD HH:MM:SS', () => NOW) };
  const log = [
    'preamble line',
    '',
    '2024-01-15 10:00:00 ERROR boom',
    'java.lang.Exception: x',
    '\tat a.b(C.java:1)',
    '',
    '2024-01-15 10:00:01 INFO next',
    '2024-01-15 10:00:02 INFO last',
    'tail of last',
  ].join('\n');

  it('joins continuation lines, takes the timestamp, leaves the last record open', () => {
    for (const chunk of [1, 7, 1000]) {
      const { out, s } = split(`${log}\n`, ml, chunk);
      expect(out.map((o) => [o.text, o.time])).toEqual([
        ['preamble line', undefined],
        ['2024-01-15 10:00:00 ERROR boom\njava.lang.Exception: x\n\tat a.b(C.java:1)', '2024-01-15T10:00:00.000Z'],
        ['2024-01-15 10:00:01 INFO next', '2024-01-15T10:00:01.000Z'],
      ]);
      // each record ends where the next one starts
      const starts = [log.indexOf('2024-01-15 10:00:00'), log.indexOf('2024-01-15 10:00:01'), log.indexOf('2024-01-15 10:00:02')];
      expect(out.map((o) => o.end)).toEqual([14, starts[1], starts[2]]);
      expect(s.safeOffset).toBe(starts[2]);
      expect(s.hasPending).toBe(true);
      const rest = collector();
      s.flush(rest.sink);
      expect(rest.out.map((o) => [o.text, o.end])).toEqual([['2024-01-15 10:00:02 INFO last\ntail of last', log.length + 1]]);
      expect(s.safeOffset).toBe(log.length + 1);
    }
  });

  it('flush also completes a partial line that is itself a record start', () => {
    const s = new RecordSplitter(ml);
    const { out, sink } = collector();
    const buf = Buffer.from('2024-01-15 10:00:00 a\n2024-01-15 10:00:01 b');
    s.push(buf, 0, buf.length, 0, sink);
    expect(out).toHaveLength(0);
    s.flush(sink);
    expect(out.map((o) => o.text)).toEqual(['2024-01-15 10:00:00 a', '2024-01-15 10:00:01 b']);
  });

  it('truncates a record that grows past the limit and skips its further lines', () => {
    const opts: RecordSplitterOptions = { ...ml, maxRecordBytes: 30 };
    const { out } = split('2024-01-15 10:00:00 start\nline two\nline three\nline four\n2024-01-15 10:00:01 x\n', opts, 4);
    // 55 bytes from the record start to the next one (newline excluded): 30 kept, 25 cut
    expect(out.map((o) => [o.text, o.cut])).toEqual([['2024-01-15 10:00:00 start\nline', 25]]);
    expect(Buffer.byteLength(out[0]!.text)).toBeLessThanOrEqual(30);
  });
});
