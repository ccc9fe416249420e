/**
 * Record-start timestamp formats of custom text logs (the DCR `recordStartTimestampFormat` values).
 * A line that begins with such a timestamp starts a record; the timestamp becomes TimeGenerated.
 * Times without a zone or offset are taken as UTC (no time-zone conversion).
 */
export const RECORD_START_FORMATS = [
  'ISO 8601',
  'YYYY-MM-DD HH:MM:SS',
  'M/D/YYYY HH:MM:SS AM/PM',
  'Mon DD, YYYY HH:MM:SS',
  'yyMMdd HH:mm:ss',
  'ddMMyy HH:mm:ss',
  'MMM d hh:mm:ss',
  'dd/MMM/yyyy:HH:mm:ss zzz',
  'yyyy-MM-ddTHH:mm:ssK',
] as const;

export type RecordStartFormat = (typeof RECORD_START_FORMATS)[number];

/** Returns the time (ms since the epoch) of the timestamp a line starts with, or undefined. */
export type TimestampParser = (line: string) => number | undefined;

const DAY_MS = 86_400_000;
const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
const MONTH_INDEX: Readonly<Record<string, number>> = Object.fromEntries(
  MONTHS.split('|').map((m, i) => [m.toLowerCase(), i + 1]),
);
const FRACTION = '(?:[.,](\\d{1,9}))?';
const OFFSET = '(Z|z|[+-]\\d{2}(?::?\\d{2})?)';

/** Builds a UTC time from calendar fields; undefined when a field is out of range. */
export function utcTime(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  millis = 0,
  offsetMinutes = 0,
): number | undefined {
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined;
  if (day > daysInMonth(year, month)) return undefined;
  // A leap second (:60) is kept in the same minute rather than rolled over.
  let t = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59), millis);
  if (year < 100) {
    // Date.UTC maps years 0-99 to 1900-1999; set the year explicitly.
    const d = new Date(t);
    d.setUTCFullYear(year);
    t = d.getTime();
  }
  return t - offsetMinutes * 60_000;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29;
  return DAYS_IN_MONTH[month - 1]!;
}

function millisOf(fraction: string | undefined): number {
  if (!fraction) return 0;
  return Number(fraction.slice(0, 3).padEnd(3, '0'));
}

/** Minutes east of UTC for `Z`, `UTC`, `GMT`, `+hh`, `+hhmm` or `+hh:mm`; undefined when malformed. */
export function offsetMinutesOf(zone: string | undefined): number | undefined {
  if (zone === undefined || zone === '') return 0;
  const z = zone.toUpperCase();
  if (z === 'Z' || z === 'UTC' || z === 'GMT') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (!m) return undefined;
  const hours = Number(m[2]);
  const minutes = Number(m[3] ?? '0');
  if (hours > 23 || minutes > 59) return undefined;
  return (m[1] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

function monthOf(name: string): number {
  return MONTH_INDEX[name.slice(0, 3).toLowerCase()] ?? 0;
}

/** 12-hour clock to 24-hour: 12 AM is 0, 12 PM is 12. Undefined for hours outside 1-12. */
function hour24(hour: number, meridiem: string): number | undefined {
  if (hour < 1 || hour > 12) return undefined;
  const pm = meridiem.toUpperCase() === 'PM';
  return (hour % 12) + (pm ? 12 : 0);
}

type Fields = RegExpExecArray;

function n(m: Fields, i: number): number {
  return Number(m[i]);
}

interface FormatSpec {
  readonly re: RegExp;
  readonly time: (m: Fields, now: () => number) => number | undefined;
}

const ISO_LIKE = (m: Fields): number | undefined => {
  const offset = offsetMinutesOf(m[8]);
  if (offset === undefined) return undefined;
  return utcTime(n(m, 1), n(m, 2), n(m, 3), n(m, 4), n(m, 5), m[6] === undefined ? 0 : n(m, 6), millisOf(m[7]), offset);
};

const SPECS: Readonly<Record<RecordStartFormat, FormatSpec>> = {
  // 2024-01-15T10:20:30.123+02:00, 2024-01-15 10:20:30Z, 2024-01-15T10:20
  'ISO 8601': {
    re: new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})[Tt ](\\d{2}):(\\d{2})(?::(\\d{2})${FRACTION})?${OFFSET}?`),
    time: ISO_LIKE,
  },
  // 2024-01-15 10:20:30 (optionally with a fraction)
  'YYYY-MM-DD HH:MM:SS': {
    re: new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2})${FRACTION}`),
    time: (m) => utcTime(n(m, 1), n(m, 2), n(m, 3), n(m, 4), n(m, 5), n(m, 6), millisOf(m[7])),
  },
  // 1/5/2024 3:04:05 PM
  'M/D/YYYY HH:MM:SS AM/PM': {
    re: new RegExp(`^(\\d{1,2})/(\\d{1,2})/(\\d{4}) (\\d{1,2}):(\\d{2}):(\\d{2})${FRACTION} ?([AaPp][Mm])`),
    time: (m) => {
      const h = hour24(n(m, 4), m[8]!);
      return h === undefined ? undefined : utcTime(n(m, 3), n(m, 1), n(m, 2), h, n(m, 5), n(m, 6), millisOf(m[7]));
    },
  },
  // Jan 15, 2024 10:20:30 (a trailing AM/PM, as java.util.logging writes it, is honoured)
  'Mon DD, YYYY HH:MM:SS': {
    re: new RegExp(`^(${MONTHS}) {1,2}(\\d{1,2}), (\\d{4}) (\\d{1,2}):(\\d{2}):(\\d{2})${FRACTION}(?: ([AaPp][Mm])\\b)?`, 'i'),
    time: (m) => {
      const h = m[8] === undefined ? n(m, 4) : hour24(n(m, 4), m[8]);
      return h === undefined ? undefined : utcTime(n(m, 3), monthOf(m[1]!), n(m, 2), h, n(m, 5), n(m, 6), millisOf(m[7]));
    },
  },
  // 240115 10:20:30 (MySQL); the hour may be space-padded
  'yyMMdd HH:mm:ss': {
    re: /^(\d{2})(\d{2})(\d{2}) {1,2}(\d{1,2}):(\d{2}):(\d{2})/,
    time: (m) => utcTime(2000 + n(m, 1), n(m, 2), n(m, 3), n(m, 4), n(m, 5), n(m, 6)),
  },
  // 150124 10:20:30
  'ddMMyy HH:mm:ss': {
    re: /^(\d{2})(\d{2})(\d{2}) {1,2}(\d{1,2}):(\d{2}):(\d{2})/,
    time: (m) => utcTime(2000 + n(m, 3), n(m, 2), n(m, 1), n(m, 4), n(m, 5), n(m, 6)),
  },
  // Jan  5 10:20:30 (syslog): no year, so the current one, or the previous one when that would be
  // more than a day in the future (a December line read in January)
  'MMM d hh:mm:ss': {
    re: new RegExp(`^(${MONTHS}) {1,2}(\\d{1,2}) (\\d{2}):(\\d{2}):(\\d{2})${FRACTION}`, 'i'),
    time: (m, now) => {
      const t = now();
      const year = new Date(t).getUTCFullYear();
      const month = monthOf(m[1]!);
      const at = (y: number): number | undefined => utcTime(y, month, n(m, 2), n(m, 3), n(m, 4), n(m, 5), millisOf(m[6]));
      const thisYear = at(year);
      if (thisYear !== undefined && thisYear <= t + DAY_MS) return thisYear;
      return at(year - 1);
    },
  },
  // 15/Jan/2024:10:20:30 +0100 (Apache, NCSA)
  'dd/MMM/yyyy:HH:mm:ss zzz': {
    re: new RegExp(`^(\\d{1,2})/(${MONTHS})/(\\d{4}):(\\d{2}):(\\d{2}):(\\d{2})${FRACTION}(?: ([+-]\\d{2}:?\\d{2}|Z|UTC|GMT))?`, 'i'),
    time: (m) => {
      const offset = offsetMinutesOf(m[8]);
      if (offset === undefined) return undefined;
      return utcTime(n(m, 3), monthOf(m[2]!), n(m, 1), n(m, 4), n(m, 5), n(m, 6), millisOf(m[7]), offset);
    },
  },
  // 2024-01-15T10:20:30+02:00, 2024-01-15T10:20:30Z, 2024-01-15T10:20:30 (.NET round-trip style)
  'yyyy-MM-ddTHH:mm:ssK': {
    re: new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2})(?::(\\d{2}))${FRACTION}${OFFSET}?`),
    time: ISO_LIKE,
  },
};

/**
 * Returns a parser for one format. `now` supplies the current time for formats without a year.
 * Lines that start with something shaped like the timestamp but holding an impossible date
 * (month 13, February 30) do not start a record.
 */
export function timestampParser(format: RecordStartFormat, now: () => number): TimestampParser {
  const spec = SPECS[format];
  const re = spec.re;
  // Consecutive lines often carry the same timestamp: remember the last one parsed.
  let lastText = '';
  let lastTime: number | undefined;
  return (line) => {
    const m = re.exec(line);
    if (!m) return undefined;
    // A year-less format depends on the current time as well: not cached.
    if (m[0] === lastText && format !== 'MMM d hh:mm:ss') return lastTime;
    lastText = m[0];
    lastTime = spec.time(m, now);
    return lastTime;
  };
}
