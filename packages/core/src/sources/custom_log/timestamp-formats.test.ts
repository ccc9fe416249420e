import { describe, expect, it } from 'vitest';
import { RECORD_START_FORMATS, offsetMinutesOf, timestampParser, type RecordStartFormat } from './timestamp-formats.js';

const NOW = Date.UTC(2024, 5, 15, 12, 0, 0); // 2024-06-15T12:00:00Z
const iso = (format: RecordStartFormat, line: string, now = NOW): string | undefined => {
  const t = timestampParser(format, () => now)(line);
  return t === undefined ? undefined : new Date(t).toISOString();
};

describe('timestampParser', () => {
  it('covers every reference format', () => {
    expect(RECORD_START_FORMATS).toHaveLength(9);
  });

  it('ISO 8601: zone-less times are UTC, offsets and fractions are applied', () => {
    expect(iso('ISO 8601', '2024-01-15T10:20:30 started')).toBe('2024-01-15T10:20:30.000Z');
    expect(iso('ISO 8601', '2024-01-15T10:20:30.1234Z x')).toBe('2024-01-15T10:20:30.123Z');
    expect(iso('ISO 8601', '2024-01-15T10:20:30+02:00 x')).toBe('2024-01-15T08:20:30.000Z');
    expect(iso('ISO 8601', '2024-01-15T10:20:30-0530 x')).toBe('2024-01-15T15:50:30.000Z');
    expect(iso('ISO 8601', '2024-01-15 10:20:30,5 x')).toBe('2024-01-15T10:20:30.500Z');
    expect(iso('ISO 8601', '2024-01-15T10:20 x')).toBe('2024-01-15T10:20:00.000Z');
    expect(iso('ISO 8601', ' 2024-01-15T10:20:30')).toBeUndefined();
    expect(iso('ISO 8601', '2024-13-15T10:20:30')).toBeUndefined();
    expect(iso('ISO 8601', '2023-02-29T10:20:30')).toBeUndefined();
    expect(iso('ISO 8601', '2024-02-29T10:20:30')).toBe('2024-02-29T10:20:30.000Z');
    expect(iso('ISO 8601', '2024-01-15T24:00:00')).toBeUndefined();
  });

  it('YYYY-MM-DD HH:MM:SS', () => {
    expect(iso('YYYY-MM-DD HH:MM:SS', '2024-01-15 10:20:30 msg')).toBe('2024-01-15T10:20:30.000Z');
    expect(iso('YYYY-MM-DD HH:MM:SS', '2024-01-15 10:20:30.250 msg')).toBe('2024-01-15T10:20:30.250Z');
    expect(iso('YYYY-MM-DD HH:MM:SS', '2024-01-15T10:20:30 msg')).toBeUndefined();
    expect(iso('YYYY-MM-DD HH:MM:SS', '2024-01-15 10:61:30')).toBeUndefined();
  });

  it('M/D/YYYY HH:MM:SS AM/PM: 12 AM is midnight, 12 PM noon', () => {
    expect(iso('M/D/YYYY HH:MM:SS AM/PM', '1/5/2024 3:04:05 PM x')).toBe('2024-01-05T15:04:05.000Z');
    expect(iso('M/D/YYYY HH:MM:SS AM/PM', '12/31/2023 12:00:00 AM x')).toBe('2023-12-31T00:00:00.000Z');
    expect(iso('M/D/YYYY HH:MM:SS AM/PM', '12/31/2023 12:30:00 pm')).toBe('2023-12-31T12:30:00.000Z');
    expect(iso('M/D/YYYY HH:MM:SS AM/PM', '1/5/2024 13:04:05 PM')).toBeUndefined();
    expect(iso('M/D/YYYY HH:MM:SS AM/PM', '1/5/2024 3:04:05')).toBeUndefined();
  });

  it('Mon DD, YYYY HH:MM:SS (with an optional AM/PM)', () => {
    expect(iso('Mon DD, YYYY HH:MM:SS', 'Jan 15, 2024 10:20:30 x')).toBe('2024-01-15T10:20:30.000Z');
    expect(iso('Mon DD, YYYY HH:MM:SS', 'Dec  1, 2023 23:59:59')).toBe('2023-12-01T23:59:59.000Z');
    expect(iso('Mon DD, YYYY HH:MM:SS', 'Jan 15, 2024 1:20:30 PM com.example.Main run')).toBe('2024-01-15T13:20:30.000Z');
    expect(iso('Mon DD, YYYY HH:MM:SS', 'Foo 15, 2024 10:20:30')).toBeUndefined();
  });

  it('yyMMdd HH:mm:ss and ddMMyy HH:mm:ss', () => {
    expect(iso('yyMMdd HH:mm:ss', '240115 10:20:30 [Note] x')).toBe('2024-01-15T10:20:30.000Z');
    expect(iso('yyMMdd HH:mm:ss', '240115  9:20:30 x')).toBe('2024-01-15T09:20:30.000Z');
    expect(iso('ddMMyy HH:mm:ss', '150124 10:20:30 x')).toBe('2024-01-15T10:20:30.000Z');
    expect(iso('ddMMyy HH:mm:ss', '320124 10:20:30 x')).toBeUndefined();
    expect(iso('yyMMdd HH:mm:ss', '241315 10:20:30 x')).toBeUndefined();
  });

  it('MMM d hh:mm:ss: current year, or the previous one when more than a day ahead', () => {
    expect(iso('MMM d hh:mm:ss', 'Jan  5 10:20:30 host app: x')).toBe('2024-01-05T10:20:30.000Z');
    expect(iso('MMM d hh:mm:ss', 'Jun 16 11:00:00 x')).toBe('2024-06-16T11:00:00.000Z'); // < 1 day ahead
    expect(iso('MMM d hh:mm:ss', 'Jun 17 12:00:01 x')).toBe('2023-06-17T12:00:01.000Z'); // > 1 day ahead
    const newYear = Date.UTC(2025, 0, 1, 0, 5);
    expect(iso('MMM d hh:mm:ss', 'Dec 31 23:59:59 x', newYear)).toBe('2024-12-31T23:59:59.000Z');
    expect(iso('MMM d hh:mm:ss', 'jan 5 10:20:30 x')).toBe('2024-01-05T10:20:30.000Z');
    expect(iso('MMM d hh:mm:ss', 'Jan 32 10:20:30 x')).toBeUndefined();
  });

  it('dd/MMM/yyyy:HH:mm:ss zzz: the offset is applied', () => {
    expect(iso('dd/MMM/yyyy:HH:mm:ss zzz', '15/Jan/2024:10:20:30 +0100 "GET /"')).toBe('2024-01-15T09:20:30.000Z');
    expect(iso('dd/MMM/yyyy:HH:mm:ss zzz', '15/Jan/2024:10:20:30 -05:00')).toBe('2024-01-15T15:20:30.000Z');
    expect(iso('dd/MMM/yyyy:HH:mm:ss zzz', '15/Jan/2024:10:20:30 GMT')).toBe('2024-01-15T10:20:30.000Z');
    expect(iso('dd/MMM/yyyy:HH:mm:ss zzz', '15/Jan/2024:10:20:30')).toBe('2024-01-15T10:20:30.000Z');
    expect(iso('dd/MMM/yyyy:HH:mm:ss zzz', '15/Jan/2024 10:20:30')).toBeUndefined();
  });

  it('yyyy-MM-ddTHH:mm:ssK: K is Z, an offset or nothing', () => {
    expect(iso('yyyy-MM-ddTHH:mm:ssK', '2024-01-15T10:20:30Z x')).toBe('2024-01-15T10:20:30.000Z');
    expect(iso('yyyy-MM-ddTHH:mm:ssK', '2024-01-15T10:20:30+02:00 x')).toBe('2024-01-15T08:20:30.000Z');
    expect(iso('yyyy-MM-ddTHH:mm:ssK', '2024-01-15T10:20:30 x')).toBe('2024-01-15T10:20:30.000Z');
    expect(iso('yyyy-MM-ddTHH:mm:ssK', '2024-01-15T10:20:30.5Z x')).toBe('2024-01-15T10:20:30.500Z');
    expect(iso('yyyy-MM-ddTHH:mm:ssK', '2024-01-15 10:20:30Z')).toBeUndefined();
  });

  it('a parser reused across lines gives each line its own time (year-less ones follow the clock)', () => {
    const parse = timestampParser('YYYY-MM-DD HH:MM:SS', () => NOW);
    expect(parse('2024-01-15 10:20:30 a')).toBe(Date.UTC(2024, 0, 15, 10, 20, 30));
    expect(parse('2024-01-15 10:20:30 b')).toBe(Date.UTC(2024, 0, 15, 10, 20, 30));
    expect(parse('2024-01-15 10:20:31 c')).toBe(Date.UTC(2024, 0, 15, 10, 20, 31));
    expect(parse('no time')).toBeUndefined();
    let now = NOW;
    const syslog = timestampParser('MMM d hh:mm:ss', () => now);
    expect(new Date(syslog('Jan  5 10:20:30 x')!).getUTCFullYear()).toBe(2024);
    now = Date.UTC(2025, 5, 1);
    expect(new Date(syslog('Jan  5 10:20:30 x')!).getUTCFullYear()).toBe(2025);
  });

  it('offsets', () => {
    expect(offsetMinutesOf('+05:30')).toBe(330);
    expect(offsetMinutesOf('-08')).toBe(-480);
    expect(offsetMinutesOf('+2500')).toBeUndefined();
  });
});
