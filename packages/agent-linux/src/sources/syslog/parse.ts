/**
 * Syslog message parsing straight from the received bytes: RFC 5424, RFC 3164 with the variants real
 * senders use, and what fits neither. The result is a set of offsets into the frame (no string is made
 * for a field), written into a `ParsedSyslog` the caller reuses for every message.
 */

export const FORMAT_RFC3164 = 1;
export const FORMAT_RFC5424 = 2;
/** Neither format: the text after the PRI (or the whole frame) is the message. */
export const FORMAT_UNPARSED = 3;
/** Nothing but line ends or NULs. */
export const DROP_EMPTY = -1;
/** Binary noise: too many NULs, control characters or bytes that are not UTF-8. */
export const DROP_BINARY = -2;

export type ParseResult = typeof FORMAT_RFC3164 | typeof FORMAT_RFC5424 | typeof FORMAT_UNPARSED | typeof DROP_EMPTY | typeof DROP_BINARY;

/** Facility and severity of a message without a PRI, as rsyslog assigns them: user.notice. */
export const DEFAULT_PRI = 13;
/** Longest 3164 tag taken as a tag (RFC 3164 says 32; senders write longer ones, rsyslog keeps up to 511). */
export const MAX_TAG_BYTES = 511;

/** Where the fields of one parsed message are in its frame; reused for every message. */
export class ParsedSyslog {
  /** Facility * 8 + severity (DEFAULT_PRI when the frame has none). */
  pri = DEFAULT_PRI;
  /** The message's own time in ms since the epoch (UTC); NaN when it carries none. */
  timeMs = Number.NaN;
  /** Host name from the message; `hostStart` -1 when it has none. */
  hostStart = -1;
  hostEnd = -1;
  /** Program (3164 tag, 5424 APP-NAME); `appStart` -1 when none. */
  appStart = -1;
  appEnd = -1;
  /** Process id when the message has a numeric one, else -1. */
  pid = -1;
  /** RFC 5424 structured data (kept in SyslogMessage in front of the message); `sdStart` -1 when none. */
  sdStart = -1;
  sdEnd = -1;
  msgStart = 0;
  msgEnd = 0;

  reset(): void {
    this.pri = DEFAULT_PRI;
    this.timeMs = Number.NaN;
    this.hostStart = this.hostEnd = -1;
    this.appStart = this.appEnd = -1;
    this.pid = -1;
    this.sdStart = this.sdEnd = -1;
    this.msgStart = this.msgEnd = 0;
  }
}

const SP = 0x20;
const HALF_YEAR_MS = 183 * 86_400_000;
const DAY_MS = 86_400_000;

/**
 * Parses the frame `buf[start, end)` into `out`. Trailing line ends and NULs are not part of the message.
 * `nowMs` places an RFC 3164 time stamp (which has no year) in the year that puts it nearest to now.
 */
export function parseSyslog(buf: Buffer, start: number, end: number, nowMs: number, out: ParsedSyslog): ParseResult {
  out.reset();
  while (end > start) {
    const c = buf[end - 1]!;
    if (c !== 0x0a && c !== 0x0d && c !== 0) break;
    end--;
  }
  if (end === start) return DROP_EMPTY;
  if (isBinary(buf, start, end)) return DROP_BINARY;

  let p = start;
  if (buf[p] === 0x3c /* < */) {
    let v = 0;
    let q = p + 1;
    while (q < end && q - p <= 3 && isDigit(buf[q]!)) v = v * 10 + buf[q++]! - 0x30;
    if (q > p + 1 && q < end && buf[q] === 0x3e /* > */ && v <= 191) {
      out.pri = v;
      p = q + 1;
    }
  }
  out.msgEnd = end;
  if (p === start) {
    // No PRI: not syslog as either RFC writes it.
    out.msgStart = start;
    return FORMAT_UNPARSED;
  }
  if (p + 1 < end && buf[p] === 0x31 /* 1 */ && buf[p + 1] === SP && parse5424(buf, p + 2, end, out)) return FORMAT_RFC5424;
  if (parse3164(buf, p, end, nowMs, out)) return FORMAT_RFC3164;
  const pri = out.pri;
  out.reset();
  out.pri = pri;
  out.msgStart = p;
  out.msgEnd = end;
  return FORMAT_UNPARSED;
}

/**
 * True for binary noise: more than a quarter of the bytes are NULs, control characters other than tab,
 * line feed, carriage return and escape, or bytes of ill-formed UTF-8.
 */
export function isBinary(buf: Buffer, start: number, end: number): boolean {
  let bad = 0;
  let high = false;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x20) {
      if (c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x1b) bad++;
    } else if (c >= 0x80) {
      high = true;
    }
  }
  if (high) bad += invalidUtf8Bytes(buf, start, end);
  return bad * 4 > end - start;
}

/** Bytes of `buf[start, end)` that are not part of a well-formed UTF-8 sequence. */
function invalidUtf8Bytes(buf: Buffer, start: number, end: number): number {
  let bad = 0;
  let i = start;
  while (i < end) {
    const c = buf[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let len = 0;
    let min = 0x80;
    let max = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c === 0xe0) min = 0xa0;
      if (c === 0xed) max = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c === 0xf0) min = 0x90;
      if (c === 0xf4) max = 0x8f;
    }
    if (len === 0 || i + len > end) {
      bad++;
      i++;
      continue;
    }
    const b1 = buf[i + 1]!;
    let ok = b1 >= min && b1 <= max;
    for (let k = 2; ok && k < len; k++) ok = (buf[i + k]! & 0xc0) === 0x80;
    if (ok) {
      i += len;
    } else {
      bad++;
      i++;
    }
  }
  return bad;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Reads `n` digits at `p` as a number, or -1. */
function digits(buf: Buffer, p: number, n: number, end: number): number {
  if (p + n > end) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = buf[p + i]!;
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + c - 0x30;
  }
  return v;
}

/** A printable US-ASCII character other than space (what RFC 5424 header fields hold). */
function isPrintUsAscii(c: number): boolean {
  return c > SP && c < 0x7f;
}

/** Where a time stamp parser stopped, and the time it read (ms since the epoch, UTC). */
let tsEnd = 0;
let tsMs = 0;

/**
 * An RFC 3339 time stamp at `p` (`2024-01-15T10:20:30.123456+01:00`, `...Z`); fractions beyond
 * milliseconds are cut. Sets tsEnd/tsMs and returns true, or returns false.
 */
function rfc3339(buf: Buffer, p: number, end: number): boolean {
  const y = digits(buf, p, 4, end);
  if (y < 0 || buf[p + 4] !== 0x2d) return false;
  const mo = digits(buf, p + 5, 2, end);
  if (mo < 1 || mo > 12 || buf[p + 7] !== 0x2d) return false;
  const d = digits(buf, p + 8, 2, end);
  const t = buf[p + 10];
  if (d < 1 || d > 31 || (t !== 0x54 && t !== 0x74)) return false;
  const h = digits(buf, p + 11, 2, end);
  if (h < 0 || h > 23 || buf[p + 13] !== 0x3a) return false;
  const mi = digits(buf, p + 14, 2, end);
  if (mi < 0 || mi > 59 || buf[p + 16] !== 0x3a) return false;
  const s = digits(buf, p + 17, 2, end);
  if (s < 0 || s > 60) return false;
  let q = p + 19;
  let ms = 0;
  if (q < end && buf[q] === 0x2e) {
    q++;
    const f0 = q;
    let scale = 100;
    while (q < end && isDigit(buf[q]!)) {
      if (scale >= 1) ms += (buf[q]! - 0x30) * scale;
      scale /= 10;
      q++;
    }
    if (q === f0) return false;
    ms = Math.floor(ms);
  }
  if (q >= end) return false;
  const z = buf[q]!;
  let offsetMin = 0;
  if (z === 0x5a || z === 0x7a) {
    q++;
  } else if (z === 0x2b || z === 0x2d) {
    const oh = digits(buf, q + 1, 2, end);
    const om = digits(buf, q + 4, 2, end);
    if (oh < 0 || oh > 23 || buf[q + 3] !== 0x3a || om < 0 || om > 59) return false;
    offsetMin = (z === 0x2d ? -1 : 1) * (oh * 60 + om);
    q += 6;
  } else {
    return false;
  }
  tsMs = Date.UTC(y, mo - 1, d, h, mi, Math.min(s, 59), ms) - offsetMin * 60_000;
  tsEnd = q;
  return true;
}

/** Month (0 to 11) of a three-letter English month name at `p` (any case), or -1. */
function monthAt(buf: Buffer, p: number, end: number): number {
  if (p + 3 > end) return -1;
  const a = buf[p]! | 0x20;
  const b = buf[p + 1]! | 0x20;
  const c = buf[p + 2]! | 0x20;
  switch (a) {
    case 0x6a: // j
      return b === 0x61 && c === 0x6e ? 0 : b === 0x75 ? (c === 0x6e ? 5 : c === 0x6c ? 6 : -1) : -1;
    case 0x66: // f
      return b === 0x65 && c === 0x62 ? 1 : -1;
    case 0x6d: // m
      return b === 0x61 ? (c === 0x72 ? 2 : c === 0x79 ? 4 : -1) : -1;
    case 0x61: // a
      return b === 0x70 && c === 0x72 ? 3 : b === 0x75 && c === 0x67 ? 7 : -1;
    case 0x73: // s
      return b === 0x65 && c === 0x70 ? 8 : -1;
    case 0x6f: // o
      return b === 0x63 && c === 0x74 ? 9 : -1;
    case 0x6e: // n
      return b === 0x6f && c === 0x76 ? 10 : -1;
    case 0x64: // d
      return b === 0x65 && c === 0x63 ? 11 : -1;
    default:
      return -1;
  }
}

/** Local-time conversion, cached per hour: messages of one burst share it. */
let localKey = -1;
let localHourMs = 0;
function localMs(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  const key = ((y * 12 + mo) * 32 + d) * 24 + h;
  if (key !== localKey) {
    localKey = key;
    localHourMs = new Date(y, mo, d, h).getTime();
  }
  return localHourMs + mi * 60_000 + s * 1000 + ms;
}

/** The local calendar year of `nowMs`, cached per day. */
let yearDay = Number.NaN;
let yearOfDay = 0;
function localYear(nowMs: number): number {
  const day = Math.floor(nowMs / DAY_MS);
  if (day !== yearDay) {
    yearDay = day;
    yearOfDay = new Date(nowMs).getFullYear();
  }
  // Within a day of New Year the cached year may be the other one: nearestYear corrects it.
  return yearOfDay;
}

/**
 * A BSD time stamp at `p`: `Mmm dd hh:mm:ss` (day space- or zero-padded, or one digit), with what
 * Cisco devices add: a year after the day, milliseconds, a time zone (UTC/GMT are honoured, others read
 * as local time) and a colon after it. Local time; without a year the year nearest to `nowMs`.
 */
function bsdTime(buf: Buffer, p: number, end: number, nowMs: number): boolean {
  const mo = monthAt(buf, p, end);
  if (mo < 0 || buf[p + 3] !== SP) return false;
  let q = p + 4;
  if (buf[q] === SP) q++;
  let d = 0;
  const d0 = q;
  while (q < end && q - d0 < 2 && isDigit(buf[q]!)) d = d * 10 + buf[q++]! - 0x30;
  if (q === d0 || d < 1 || d > 31 || buf[q] !== SP) return false;
  q++;
  let year = -1;
  if (q + 4 < end && buf[q + 4] === SP) {
    year = digits(buf, q, 4, end);
    if (year < 0) return false;
    q += 5;
  }
  const h = digits(buf, q, 2, end);
  if (h < 0 || h > 23 || buf[q + 2] !== 0x3a) return false;
  const mi = digits(buf, q + 3, 2, end);
  if (mi < 0 || mi > 59 || buf[q + 5] !== 0x3a) return false;
  const s = digits(buf, q + 6, 2, end);
  if (s < 0 || s > 60) return false;
  q += 8;
  let ms = 0;
  if (q < end && buf[q] === 0x2e && q + 1 < end && isDigit(buf[q + 1]!)) {
    q++;
    let scale = 100;
    while (q < end && isDigit(buf[q]!)) {
      if (scale >= 1) ms += (buf[q]! - 0x30) * scale;
      scale /= 10;
      q++;
    }
    ms = Math.floor(ms);
  }
  let utc = false;
  // A time zone name (Cisco `... 18:46:11.123 UTC:`): upper-case letters followed by a colon.
  if (q + 1 < end && buf[q] === SP && buf[q + 1]! >= 0x41 && buf[q + 1]! <= 0x5a) {
    let z = q + 1;
    while (z < end && z - q <= 5 && buf[z]! >= 0x41 && buf[z]! <= 0x5a) z++;
    if (z < end && buf[z] === 0x3a) {
      const zone = buf.toString('latin1', q + 1, z);
      utc = zone === 'UTC' || zone === 'GMT' || zone === 'Z';
      q = z;
    }
  }
  if (q < end && buf[q] === 0x3a) q++;
  const sec = Math.min(s, 59);
  if (year >= 0) {
    tsMs = utc ? Date.UTC(year, mo, d, h, mi, sec, ms) : localMs(year, mo, d, h, mi, sec, ms);
  } else {
    const y = localYear(nowMs);
    let t = utc ? Date.UTC(y, mo, d, h, mi, sec, ms) : localMs(y, mo, d, h, mi, sec, ms);
    if (t - nowMs > HALF_YEAR_MS) t = utc ? Date.UTC(y - 1, mo, d, h, mi, sec, ms) : localMs(y - 1, mo, d, h, mi, sec, ms);
    else if (nowMs - t > HALF_YEAR_MS) t = utc ? Date.UTC(y + 1, mo, d, h, mi, sec, ms) : localMs(y + 1, mo, d, h, mi, sec, ms);
    tsMs = t;
  }
  tsEnd = q;
  return true;
}

/** A character a host name (or an IPv4/IPv6 address) may hold. */
function isHostChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || isDigit(c) || c === 0x2e || c === 0x2d || c === 0x5f || c === 0x3a || c === 0x25;
}

/**
 * RFC 3164 after the PRI: `[seq: ][*|.]TIMESTAMP [HOSTNAME ][TAG[[PID]]: ]MSG`. The host name is
 * missing when the word after the time stamp ends in `:`, holds `[` or a character no host name has, or
 * is the last word. A tag is a word ending in `:` or `[pid]:`; without one the message starts there.
 */
function parse3164(buf: Buffer, p: number, end: number, nowMs: number, out: ParsedSyslog): boolean {
  // Cisco sequence number: `123: `.
  if (isDigit(buf[p]!)) {
    let q = p;
    while (q < end && isDigit(buf[q]!)) q++;
    if (q + 1 < end && buf[q] === 0x3a && buf[q + 1] === SP) p = q + 2;
  }
  // Cisco clock markers: `*` not synchronised, `.` synchronised before.
  if (p < end && (buf[p] === 0x2a || buf[p] === 0x2e)) p++;
  if (!(isDigit(buf[p]!) ? rfc3339(buf, p, end) : bsdTime(buf, p, end, nowMs))) return false;
  out.timeMs = tsMs;
  p = tsEnd;
  if (p < end) {
    if (buf[p] !== SP) return false;
    p++;
  }
  // Host name.
  let q = p;
  let hostLike = true;
  while (q < end && buf[q] !== SP) {
    if (!isHostChar(buf[q]!)) hostLike = false;
    q++;
  }
  if (hostLike && q > p && q < end && buf[q - 1] !== 0x3a) {
    out.hostStart = p;
    out.hostEnd = q;
    p = q + 1;
  }
  // Tag.
  q = p;
  const limit = Math.min(end, p + MAX_TAG_BYTES);
  while (q < limit) {
    const c = buf[q]!;
    if (c === SP || c === 0x5b || c === 0x3a) break;
    q++;
  }
  if (q > p && q < end) {
    const c = buf[q]!;
    if (c === 0x3a) {
      out.appStart = p;
      out.appEnd = q;
      p = q + 1;
    } else if (c === 0x5b) {
      let r = q + 1;
      let pid = 0;
      let numeric = true;
      while (r < end && buf[r] !== 0x5d && buf[r] !== SP && r - q <= 32) {
        if (!isDigit(buf[r]!)) numeric = false;
        else pid = pid * 10 + buf[r]! - 0x30;
        r++;
      }
      if (r + 1 <= end && buf[r] === 0x5d && (r + 1 === end || buf[r + 1] === 0x3a || buf[r + 1] === SP)) {
        out.appStart = p;
        out.appEnd = q;
        if (numeric && r > q + 1 && pid <= 0x7fffffff) out.pid = pid;
        p = r + 1;
        if (p < end && buf[p] === 0x3a) p++;
      }
    }
    if (out.appStart >= 0 && p < end && buf[p] === SP) p++;
  }
  out.msgStart = p;
  out.msgEnd = end;
  return true;
}

/**
 * Reads an RFC 5424 header field at `p` (NILVALUE `-`, or up to `max` printable characters) ending at a
 * space. Sets fieldEnd to its end (before the space); returns its start, -1 for NILVALUE, -2 for invalid.
 */
let fieldEnd = 0;
function headerField(buf: Buffer, p: number, end: number, max: number): number {
  let q = p;
  while (q < end && isPrintUsAscii(buf[q]!)) q++;
  if (q === p || q - p > max || q >= end || buf[q] !== SP) return -2;
  fieldEnd = q;
  return q === p + 1 && buf[p] === 0x2d ? -1 : p;
}

/**
 * RFC 5424 after `<PRI>1 `: `TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`. A numeric PROCID is
 * the process id; MSGID has no column and is not kept; a BOM at the start of MSG is removed.
 */
function parse5424(buf: Buffer, p: number, end: number, out: ParsedSyslog): boolean {
  if (buf[p] === 0x2d) {
    if (buf[p + 1] !== SP) return false;
    p += 2;
  } else {
    if (!rfc3339(buf, p, end) || buf[tsEnd] !== SP) return false;
    out.timeMs = tsMs;
    p = tsEnd + 1;
  }
  let s = headerField(buf, p, end, 255);
  if (s === -2) return false;
  if (s >= 0) {
    out.hostStart = s;
    out.hostEnd = fieldEnd;
  }
  p = fieldEnd + 1;
  s = headerField(buf, p, end, 48);
  if (s === -2) return false;
  if (s >= 0) {
    out.appStart = s;
    out.appEnd = fieldEnd;
  }
  p = fieldEnd + 1;
  s = headerField(buf, p, end, 128);
  if (s === -2) return false;
  if (s >= 0) {
    let pid = 0;
    let i = s;
    while (i < fieldEnd && isDigit(buf[i]!) && i - s < 10) pid = pid * 10 + buf[i++]! - 0x30;
    if (i === fieldEnd && pid <= 0x7fffffff) out.pid = pid;
  }
  p = fieldEnd + 1;
  s = headerField(buf, p, end, 32);
  if (s === -2) return false;
  p = fieldEnd + 1;
  // STRUCTURED-DATA: `-` or one or more `[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]`.
  if (p >= end) return false;
  if (buf[p] === 0x2d) {
    p++;
  } else if (buf[p] === 0x5b) {
    const sd = p;
    while (p < end && buf[p] === 0x5b) {
      p = sdElement(buf, p, end);
      if (p < 0) return false;
    }
    out.sdStart = sd;
    out.sdEnd = p;
  } else {
    return false;
  }
  if (p < end) {
    if (buf[p] !== SP) return false;
    p++;
  }
  if (p + 2 < end && buf[p] === 0xef && buf[p + 1] === 0xbb && buf[p + 2] === 0xbf) p += 3;
  out.msgStart = p;
  out.msgEnd = end;
  return true;
}

/** One SD-ELEMENT at `p` (at its `[`): returns the position after its `]`, or -1 when malformed. */
function sdElement(buf: Buffer, p: number, end: number): number {
  let q = p + 1;
  const id = q;
  while (q < end && isPrintUsAscii(buf[q]!) && buf[q] !== 0x3d && buf[q] !== 0x5d && buf[q] !== 0x22) q++;
  if (q === id || q >= end) return -1;
  for (;;) {
    const c = buf[q];
    if (c === 0x5d) return q + 1;
    if (c !== SP) return -1;
    q++;
    const name = q;
    while (q < end && isPrintUsAscii(buf[q]!) && buf[q] !== 0x3d && buf[q] !== 0x5d && buf[q] !== 0x22) q++;
    if (q === name || q + 1 >= end || buf[q] !== 0x3d || buf[q + 1] !== 0x22) return -1;
    q += 2;
    while (q < end && buf[q] !== 0x22) q += buf[q] === 0x5c ? 2 : 1;
    if (q >= end) return -1;
    q++;
  }
}
