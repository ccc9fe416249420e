import { EncodedBatchBuilder, SYSLOG, decodeJsonRecords, validateRecord } from '@oma/core';
import { describe, expect, it } from 'vitest';
import { SyslogEncoder, makePeer } from './encode.js';
import { ParsedSyslog, parseSyslog } from './parse.js';

function encode(frames: Array<string | Buffer>, receivedMs: number[], peer = makePeer('192.0.2.7', '192.0.2.7')) {
  const enc = new SyslogEncoder('collector "1"');
  const w = new EncodedBatchBuilder('Syslog');
  const m = new ParsedSyslog();
  frames.forEach((f, i) => {
    const b = typeof f === 'string' ? Buffer.from(f) : f;
    parseSyslog(b, 0, b.length, receivedMs[i]!, m);
    enc.write(w, b, m, receivedMs[i]!, peer, b.length);
  });
  return decodeJsonRecords(w.finish());
}

describe('Syslog record encoding', () => {
  it('writes valid JSON for quotes, backslashes, control characters and invalid UTF-8, as JSON.stringify would', () => {
    const bad = Buffer.concat([Buffer.from('<14>1 - h"x a\\b 123456 - - q"\\\t\u0001 '), Buffer.from([0xff, 0xc3]), Buffer.from(' é')]);
    const [r] = encode([bad], [Date.UTC(2024, 5, 15, 10, 0, 0, 7)]);
    expect(validateRecord(SYSLOG, r!)).toEqual([]);
    expect(r).toMatchObject({
      TimeGenerated: '2024-06-15T10:00:00.007Z',
      Computer: 'collector "1"',
      CollectorHostName: 'collector "1"',
      HostName: 'h"x',
      HostIP: '192.0.2.7',
      ProcessName: 'a\\b',
      ProcessID: 123456,
      SyslogMessage: 'q"\\\t\u0001 \ufffd\ufffd é',
    });
  });

  it('writes each record with its own times across days, milliseconds and peers', () => {
    const day1 = Date.UTC(2024, 11, 31, 23, 59, 59, 999);
    const day2 = Date.UTC(2025, 0, 1, 0, 0, 0, 1);
    const rs = encode(
      ['<14>1 2024-12-31T23:59:59.5Z h a 0 - - one', '<14>1 2025-01-01T00:00:00.25Z h a 9 - - two', 'no header'],
      [day1, day2, day2],
    );
    expect(rs.map((r) => [r.TimeGenerated, r.EventTime, r.ProcessID])).toEqual([
      ['2024-12-31T23:59:59.999Z', '2024-12-31T23:59:59.500Z', 0],
      ['2025-01-01T00:00:00.001Z', '2025-01-01T00:00:00.250Z', 9],
      ['2025-01-01T00:00:00.001Z', '2025-01-01T00:00:00.001Z', undefined],
    ]);
    expect(rs[2]).toMatchObject({ HostName: '192.0.2.7', Facility: 'user', SeverityLevel: 'notice', SyslogMessage: 'no header' });
  });
});
