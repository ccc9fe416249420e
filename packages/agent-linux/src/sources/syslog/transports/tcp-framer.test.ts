import { describe, expect, it } from 'vitest';
import { TcpFramer } from './tcp-framer.js';

/** Runs `stream` through a framer in the given chunk sizes and records what it reports. */
function frame(stream: Buffer | string, chunkSizes: number[] | number = 1 << 20, maxMessageBytes = 64) {
  const bytes = typeof stream === 'string' ? Buffer.from(stream) : stream;
  const events: string[] = [];
  const f = new TcpFramer(maxMessageBytes, {
    frame: (buf, start, end) => events.push(`frame:${buf.toString('latin1', start, end)}`),
    truncated: () => events.push('truncated'),
    framingError: () => events.push('framing_error'),
    incomplete: () => events.push('incomplete'),
  });
  let p = 0;
  let i = 0;
  while (p < bytes.length) {
    const n = typeof chunkSizes === 'number' ? chunkSizes : chunkSizes[i++ % chunkSizes.length]!;
    // A copy, so that a frame reported as a view of an earlier chunk would show if it were kept.
    f.push(Buffer.from(bytes.subarray(p, p + n)));
    p += n;
  }
  f.finish();
  return events;
}

describe('TCP framing', () => {
  const lf = '<13>Jun 15 10:00:00 h a: one\n<13>Jun 15 10:00:01 h a: two\r\n<13>Jun 15 10:00:02 h a: three\n';
  const octet = '28 <13>Jun 15 10:00:00 h a: one28 <13>Jun 15 10:00:01 h a: two30 <13>Jun 15 10:00:02 h a: three';
  const expected = ['frame:<13>Jun 15 10:00:00 h a: one', 'frame:<13>Jun 15 10:00:01 h a: two\r', 'frame:<13>Jun 15 10:00:02 h a: three'];

  it('splits LF-framed streams, whatever the chunks', () => {
    for (const size of [1, 2, 3, 7, 29, 1000]) expect(frame(lf, size, 200)).toEqual(expected);
  });

  it('splits octet-counted streams, whatever the chunks', () => {
    const want = expected.map((e) => e.replace('\r', ''));
    for (const size of [1, 2, 3, 7, 29, 1000]) expect(frame(octet, size, 200)).toEqual(want);
  });

  it('tolerates line ends between octet-counted frames (senders that add one)', () => {
    expect(frame('3 abc\n3 def\r\n', 1)).toEqual(['frame:abc', 'frame:def']);
  });

  it('takes a zero length as an empty frame', () => {
    expect(frame('0 3 abc', 1)).toEqual(['frame:', 'frame:abc']);
  });

  it('cuts a long line at maxMessageBytes and skips the rest of it', () => {
    const long = `${'x'.repeat(100)}\nshort\n`;
    for (const size of [1, 5, 64, 1000]) expect(frame(long, size, 64)).toEqual(['truncated', `frame:${'x'.repeat(64)}`, 'frame:short']);
  });

  it('cuts a long octet-counted frame and skips the rest of it', () => {
    const s = `100 ${'y'.repeat(100)}5 hello`;
    for (const size of [1, 3, 64, 1000]) expect(frame(s, size, 64)).toEqual(['truncated', `frame:${'y'.repeat(64)}`, 'frame:hello']);
  });

  it('re-syncs at the next line after a broken octet count', () => {
    expect(frame('12x garbage here\n5 hello', 4)).toEqual(['framing_error', 'frame:hello']);
    expect(frame('1234567890123 too many digits\n<13>a line\n', 3)).toEqual(['framing_error', 'frame:<13>a line']);
  });

  it('delivers a last line without LF at close, and drops a partial octet-counted frame', () => {
    expect(frame('one\ntwo', 2)).toEqual(['frame:one', 'frame:two']);
    expect(frame('3 abc10 hal', 2)).toEqual(['frame:abc', 'incomplete']);
    expect(frame('3 abc12', 2)).toEqual(['frame:abc', 'incomplete']);
  });

  it('keeps the framing of the connection: a later line that starts with a digit is a line', () => {
    expect(frame('<13>x\n2024 is a year\n', 5)).toEqual(['frame:<13>x', 'frame:2024 is a year']);
  });
});
