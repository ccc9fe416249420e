import type { FileHandle } from 'node:fs/promises';
import { maxEscapedBytes, writeEscapedUtf8 } from '../../encoding/json-escape.js';
import { W3CIISLOG } from '../../model/tables.js';
import type { RecordEncoder, RecordFormat } from '../custom_log/record-format.js';

/**
 * W3C extended log format (https://www.w3.org/TR/WD-logfile.html) as IIS writes it, parsed line by line
 * into W3CIISLog rows (docs/iis-logs.md).
 *
 * - Directives start with `#`: `#Software`, `#Version`, `#Date` and `#Fields` are read (a later
 *   `#Fields` replaces the header: IIS writes a new directive block after a restart or a change of the
 *   logged fields); other directives (`#Remark`, `#Start-Date`, `#End-Date`) are skipped.
 * - A data line holds one value per field of the header, separated by single spaces; `-` means empty
 *   (the column is left out of the row).
 * - `date` + `time` (UTC) make TimeGenerated; when the header has no `date` (or `time`), the `#Date`
 *   directive gives it.
 * - IIS writes a space inside a value as `+`: it is turned back into a space in the text fields
 *   (`cs-uri-stem`, `cs-username`, `cs(User-Agent)`, `cs(Referer)`, `cs(Cookie)`); `cs-uri-stem` also has
 *   its percent-encoding decoded. `cs-uri-query` stays as written: decoding it would merge an encoded `&`
 *   or `=` with the separators.
 * - Fields W3CIISLog has no column for are ignored (reported once each); lines whose value count does
 *   not match the header or whose date or time is not valid are dropped (reported, counted).
 */

/** Why a data line is dropped. */
export type W3cDropReason = 'no_header' | 'field_count' | 'bad_date';

/** How values of a field are written. */
const enum Kind {
  Skip,
  Date,
  Time,
  Text,
  Number,
}

/** How a text value is decoded. */
const enum Decode {
  None,
  /** `+` is a space. */
  Plus,
  /** `+` is a space and `%XX` a byte. */
  PlusPercent,
}

/** W3C field names (lowercase) to W3CIISLog columns. */
export const W3C_FIELD_COLUMNS: Readonly<Record<string, string>> = {
  's-sitename': 'sSiteName',
  's-computername': 'sComputerName',
  's-ip': 'sIP',
  's-port': 'sPort',
  'cs-method': 'csMethod',
  'cs-uri-stem': 'csUriStem',
  'cs-uri-query': 'csUriQuery',
  'cs-username': 'csUserName',
  'c-ip': 'cIP',
  'cs(user-agent)': 'csUserAgent',
  'cs(referer)': 'csReferer',
  'cs-host': 'csHost',
  'cs(cookie)': 'csCookie',
  'cs-version': 'csVersion',
  'sc-status': 'scStatus',
  'sc-substatus': 'scSubStatus',
  'sc-win32-status': 'scWin32Status',
  'cs-bytes': 'csBytes',
  'sc-bytes': 'scBytes',
  'time-taken': 'TimeTaken',
};

/** Fields whose `+` IIS wrote for a space. */
const PLUS_FIELDS = new Set(['cs-username', 'cs(user-agent)', 'cs(referer)', 'cs(cookie)']);
/** Fields that are also percent-decoded. */
const PERCENT_FIELDS = new Set(['cs-uri-stem']);

const COLUMN_TYPES = new Map(W3CIISLOG.columns.map((c) => [c.name, c.type]));

/** Digits of a number column kept at most (larger values are left out rather than rounded). */
const MAX_NUMBER_DIGITS = 15;

const SPACE = 0x20;
const HASH = 0x23;
const DASH = 0x2d;
const PLUS = 0x2b;
const PERCENT = 0x25;
const ZERO = 0x30;

interface Field {
  readonly name: string;
  readonly kind: Kind;
  readonly decode: Decode;
  /** `,"<column>":"` for text, `,"<column>":` for numbers. */
  readonly key: Buffer;
}

/** A `#Fields` header, compiled. */
export interface W3cHeader {
  /** Field names as written. */
  readonly names: readonly string[];
  readonly fields: readonly Field[];
  /** Bytes a row adds besides its escaped values: keys, quotes, TimeGenerated, Computer. */
  readonly overhead: number;
  readonly dateAt: number;
  readonly timeAt: number;
}

/** What the parser reports. */
export interface W3cEvents {
  /** A data line was dropped. */
  dropped(file: FileRef, reason: W3cDropReason, detail: Record<string, unknown>): void;
  /** A header names a field W3CIISLog has no column for (called for every such header). */
  unknownField(file: FileRef, name: string): void;
  /** The header of a file could not be read again on resume. */
  resumeFailed(file: FileRef, err: unknown): void;
}

export interface FileRef {
  readonly origin: string;
  readonly path: string;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Compiles a `#Fields:` list; `unknown` receives each field without a column. */
export function compileHeader(names: readonly string[], computerJson: string, unknown: (name: string) => void): W3cHeader {
  let dateAt = -1;
  let timeAt = -1;
  // `{"TimeGenerated":"YYYY-MM-DDTHH:MM:SS.fffZ","Computer":<computer>` and the closing brace.
  let overhead = `{"TimeGenerated":"0000-00-00T00:00:00.000Z","Computer":${computerJson}}`.length;
  const fields = names.map((name, i): Field => {
    const lower = name.toLowerCase();
    if (lower === 'date') {
      if (dateAt < 0) dateAt = i;
      return { name, kind: Kind.Date, decode: Decode.None, key: Buffer.alloc(0) };
    }
    if (lower === 'time') {
      if (timeAt < 0) timeAt = i;
      return { name, kind: Kind.Time, decode: Decode.None, key: Buffer.alloc(0) };
    }
    const column = W3C_FIELD_COLUMNS[lower];
    if (column === undefined) {
      unknown(name);
      return { name, kind: Kind.Skip, decode: Decode.None, key: Buffer.alloc(0) };
    }
    const type = COLUMN_TYPES.get(column);
    const numeric = type === 'int' || type === 'long';
    const key = Buffer.from(numeric ? `,"${column}":` : `,"${column}":"`);
    overhead += key.length + (numeric ? 0 : 1);
    const decode = PERCENT_FIELDS.has(lower) ? Decode.PlusPercent : PLUS_FIELDS.has(lower) ? Decode.Plus : Decode.None;
    return { name, kind: numeric ? Kind.Number : Kind.Text, decode, key };
  });
  return { names, fields, overhead, dateAt, timeAt };
}

/** Reads `n` digits at `p`; -1 when one is not a digit. */
function digits(b: Buffer, p: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = b[p + i]! - ZERO;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** True when `b[p, e)` is `YYYY-MM-DD` and a real date. */
function validDate(b: Buffer, p: number, e: number): boolean {
  if (e - p !== 10 || b[p + 4] !== DASH || b[p + 7] !== DASH) return false;
  const y = digits(b, p, 4);
  const m = digits(b, p + 5, 2);
  const d = digits(b, p + 8, 2);
  if (y < 0 || m < 1 || m > 12 || d < 1 || d > 31) return false;
  return new Date(Date.UTC(y, m - 1, d)).getUTCDate() === d;
}

/** True when `b[p, e)` is `HH:MM:SS` or `HH:MM:SS.f…` (a fraction of up to 7 digits) and a real time. */
function validTime(b: Buffer, p: number, e: number): boolean {
  const n = e - p;
  if (n < 8 || b[p + 2] !== 0x3a || b[p + 5] !== 0x3a) return false;
  const h = digits(b, p, 2);
  const mi = digits(b, p + 3, 2);
  const s = digits(b, p + 6, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return false;
  if (n === 8) return true;
  if (b[p + 8] !== 0x2e || n > 16 || n === 9) return false;
  return digits(b, p + 9, n - 9) >= 0;
}

/** Parses the directive line `text` (`#Name: value`); undefined for a line that is not one. */
export function parseDirective(text: string): { name: string; value: string } | undefined {
  const m = /^#([A-Za-z-]+):\s*(.*?)\s*$/s.exec(text);
  return m ? { name: m[1]!.toLowerCase(), value: m[2]! } : undefined;
}

/** The per-file W3C parser: directive state and the encoding of data lines into W3CIISLog rows. */
export class W3cEncoder implements RecordEncoder {
  header: W3cHeader | undefined;
  software: string | undefined;
  version: string | undefined;
  /** `YYYY-MM-DD` and `HH:MM:SS` of the last `#Date` directive, for headers without date or time. */
  private directiveDate: Buffer | undefined;
  private directiveTime: Buffer | undefined;
  /** Start and end of each value of the line being encoded. */
  private bounds = new Int32Array(64);
  private scratch = Buffer.allocUnsafe(4096);
  /** The last date checked, as its 10 bytes (valid ones only). */
  private readonly lastDate = Buffer.alloc(10);
  private lastDateSet = false;
  private readonly head: Buffer;
  private readonly computerPart: Buffer;

  constructor(
    private readonly file: FileRef,
    private readonly computer: string,
    private readonly events: W3cEvents,
    private readonly maxLineBytes: number,
  ) {
    this.head = Buffer.from('{"TimeGenerated":"');
    this.computerPart = Buffer.from(`Z","Computer":${JSON.stringify(computer)}`);
  }

  maxBytes(bytes: number): number {
    return (this.header?.overhead ?? 0) + maxEscapedBytes(bytes);
  }

  encode(src: Buffer | string, start: number, bytes: number, _timeMs: number, cutBytes: number, out: Buffer, pos: number): number {
    const b = typeof src === 'string' ? Buffer.from(src) : src;
    const s = typeof src === 'string' ? 0 : start;
    const e = s + bytes;
    if (b[s] === HASH) {
      // A cut directive is not trusted: the header stays as it was.
      if (cutBytes === 0) this.directive(b.toString('utf8', s, e));
      return -1;
    }
    // A cut line was counted as line_truncated already; its values are incomplete.
    if (cutBytes > 0) return -1;
    return this.dataLine(b, s, e, out, pos);
  }

  /** Applies a directive line. */
  directive(text: string): void {
    const d = parseDirective(text);
    if (!d) return;
    switch (d.name) {
      case 'fields': {
        const names = d.value.split(/\s+/).filter((x) => x.length > 0);
        this.header = compileHeader(names, JSON.stringify(this.computer), (name) => this.events.unknownField(this.file, name));
        if (this.bounds.length < names.length * 2) this.bounds = new Int32Array(names.length * 2);
        break;
      }
      case 'date': {
        const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})/.exec(d.value);
        this.directiveDate = m ? Buffer.from(m[1]!) : undefined;
        this.directiveTime = m ? Buffer.from(m[2]!) : undefined;
        break;
      }
      case 'software':
        this.software = d.value;
        break;
      case 'version':
        this.version = d.value;
        break;
      default:
        break;
    }
  }

  private dataLine(b: Buffer, s: number, e: number, out: Buffer, at: number): number {
    const h = this.header;
    if (!h) {
      this.events.dropped(this.file, 'no_header', {});
      return -1;
    }
    const n = h.fields.length;
    const bounds = this.bounds;
    let p = s;
    let count = 0;
    for (;;) {
      let sp = p;
      while (sp < e && b[sp] !== SPACE) sp++;
      if (count < n) {
        bounds[2 * count] = p;
        bounds[2 * count + 1] = sp;
      }
      count++;
      if (sp >= e) break;
      p = sp + 1;
    }
    if (count !== n) {
      this.events.dropped(this.file, 'field_count', { expected: n, got: count });
      return -1;
    }
    // TimeGenerated
    let dateSrc: Buffer;
    let ds: number;
    let de: number;
    if (h.dateAt >= 0) {
      dateSrc = b;
      ds = bounds[2 * h.dateAt]!;
      de = bounds[2 * h.dateAt + 1]!;
    } else if (this.directiveDate) {
      dateSrc = this.directiveDate;
      ds = 0;
      de = 10;
    } else {
      this.events.dropped(this.file, 'bad_date', {});
      return -1;
    }
    let timeSrc: Buffer;
    let ts: number;
    let te: number;
    if (h.timeAt >= 0) {
      timeSrc = b;
      ts = bounds[2 * h.timeAt]!;
      te = bounds[2 * h.timeAt + 1]!;
    } else if (this.directiveTime) {
      timeSrc = this.directiveTime;
      ts = 0;
      te = 8;
    } else {
      this.events.dropped(this.file, 'bad_date', {});
      return -1;
    }
    if (!this.checkDate(dateSrc, ds, de) || !validTime(timeSrc, ts, te)) {
      this.events.dropped(this.file, 'bad_date', {});
      return -1;
    }
    let pos = copyBytes(this.head, 0, this.head.length, out, at);
    pos = copyBytes(dateSrc, ds, de, out, pos);
    out[pos++] = 0x54; // T
    pos = copyBytes(timeSrc, ts, ts + 8, out, pos);
    // Milliseconds: the first three digits of a fraction, padded.
    out[pos++] = 0x2e;
    for (let i = 0; i < 3; i++) {
      const at9 = ts + 9 + i;
      out[pos++] = te - ts > 8 && at9 < te ? timeSrc[at9]! : ZERO;
    }
    pos = copyBytes(this.computerPart, 0, this.computerPart.length, out, pos);
    const fields = h.fields;
    for (let i = 0; i < n; i++) {
      const f = fields[i]!;
      if (f.kind < Kind.Text) continue;
      const vs = bounds[2 * i]!;
      const ve = bounds[2 * i + 1]!;
      if (ve === vs || (ve - vs === 1 && b[vs] === DASH)) continue;
      if (f.kind === Kind.Number) {
        pos = writeNumber(b, vs, ve, f.key, out, pos);
        continue;
      }
      pos = copyBytes(f.key, 0, f.key.length, out, pos);
      pos = this.writeText(b, vs, ve, f.decode, out, pos);
      out[pos++] = 0x22;
    }
    out[pos++] = 0x7d;
    return pos;
  }

  private checkDate(b: Buffer, s: number, e: number): boolean {
    if (e - s !== 10) return false;
    if (this.lastDateSet) {
      const last = this.lastDate;
      let same = true;
      for (let i = 0; i < 10 && same; i++) same = b[s + i] === last[i];
      if (same) return true;
    }
    if (!validDate(b, s, e)) return false;
    b.copy(this.lastDate, 0, s, e);
    this.lastDateSet = true;
    return true;
  }

  /**
   * Writes a text value as JSON string contents: printable ASCII that needs no escape (and `+` as a
   * space where decoded) byte by byte; a value with anything else goes the general way.
   */
  private writeText(b: Buffer, s: number, e: number, decode: Decode, out: Buffer, pos: number): number {
    let p = pos;
    for (let i = s; i < e; i++) {
      let c = b[i]!;
      if (c === PLUS && decode !== Decode.None) c = SPACE;
      else if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c || (c === PERCENT && decode === Decode.PlusPercent)) {
        return decode === Decode.None ? writeEscapedUtf8(b, s, e, out, pos) : this.writeDecoded(b, s, e, decode, out, pos);
      }
      out[p++] = c;
    }
    return p;
  }

  /** Writes a value with `+` as space (and `%XX` decoded) as JSON string contents. */
  private writeDecoded(b: Buffer, s: number, e: number, decode: Decode, out: Buffer, pos: number): number {
    let plain = true;
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      if (c === PLUS || (c === PERCENT && decode === Decode.PlusPercent)) {
        plain = false;
        break;
      }
    }
    if (plain) return writeEscapedUtf8(b, s, e, out, pos);
    if (this.scratch.length < e - s) this.scratch = Buffer.allocUnsafe(Math.max(e - s, this.maxLineBytes));
    const t = this.scratch;
    let n = 0;
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      if (c === PLUS) {
        t[n++] = SPACE;
      } else if (c === PERCENT && decode === Decode.PlusPercent && i + 2 < e) {
        const hi = hexValue(b[i + 1]!);
        const lo = hexValue(b[i + 2]!);
        if (hi >= 0 && lo >= 0) {
          t[n++] = (hi << 4) | lo;
          i += 2;
        } else {
          t[n++] = c;
        }
      } else {
        t[n++] = c;
      }
    }
    return writeEscapedUtf8(t, 0, n, out, pos);
  }

  /**
   * Finds the header in force at `offset` (the last `#Fields` directive before it, and the directives
   * of its block) by reading the file backwards from there, and applies it.
   */
  async resume(fh: FileHandle, offset: number): Promise<void> {
    try {
      const at = await findLastDirective(fh, offset, FIELDS_MARK);
      if (at < 0) return;
      const lineBuf = Buffer.allocUnsafe(Math.min(offset, at + this.maxLineBytes + 1) - at);
      const line = await readText(fh, lineBuf, at);
      const nl = line.indexOf('\n');
      // The directives of its block before it (#Software, #Version, #Date), from a little before it; the
      // first line of that read is partial unless the read starts at the file's start.
      const from = Math.max(0, at - BLOCK_LOOKBACK);
      const before = (await readText(fh, Buffer.allocUnsafe(at - from), from)).split('\n');
      if (from > 0) before.shift();
      before.pop(); // the empty string after the newline that ends the last line
      let first = before.length;
      while (first > 0 && stripLine(before[first - 1]!).startsWith('#')) first--;
      for (let i = first; i < before.length; i++) this.directive(stripLine(before[i]!));
      this.directive(stripLine(nl < 0 ? line : line.slice(0, nl)));
    } catch (err) {
      this.events.resumeFailed(this.file, err);
    }
  }
}

/** A line as the splitter gives it: no byte-order mark, no CR. */
function stripLine(l: string): string {
  return l.replace(/^\ufeff/, '').replace(/\r$/, '');
}

async function readText(fh: FileHandle, buf: Buffer, position: number): Promise<string> {
  const { bytesRead } = await fh.read(buf, 0, buf.length, position);
  return buf.toString('utf8', 0, bytesRead);
}

/** Bytes read before a `#Fields` directive found on resume, for the rest of its directive block. */
const BLOCK_LOOKBACK = 4096;
/** Chunk size of the backwards search on resume. */
const SEARCH_CHUNK = 64 * 1024;
const FIELDS_MARK = Buffer.from('#Fields:');

/**
 * Offset of the start of the last line before `offset` that begins with `mark` (after a byte-order mark
 * at the file's start); -1 when there is none.
 */
export async function findLastDirective(fh: FileHandle, offset: number, mark: Buffer): Promise<number> {
  const buf = Buffer.allocUnsafe(SEARCH_CHUNK + mark.length + 1);
  let hi = offset;
  while (hi > 0) {
    const lo = Math.max(0, hi - SEARCH_CHUNK);
    // The chunk plus the mark's length past `hi`, so that a mark straddling `hi` is found; the byte
    // before `lo` tells whether `lo` starts a line.
    const from = Math.max(0, lo - 1);
    const to = Math.min(offset, hi + mark.length);
    const { bytesRead } = await fh.read(buf, 0, to - from, from);
    const view = buf.subarray(0, bytesRead);
    // Marks at [lo, hi): those before lo are the next chunk's.
    for (let i = view.lastIndexOf(mark); i >= 0 && from + i >= lo; i = i > 0 ? view.lastIndexOf(mark, i - 1) : -1) {
      const abs = from + i;
      if (abs >= offset) continue;
      if (abs === 0 || (abs === 3 && isBom(view, i - 3)) || (i > 0 && view[i - 1] === 0x0a)) return abs;
    }
    hi = lo;
  }
  return -1;
}

function isBom(b: Buffer, p: number): boolean {
  return p >= 0 && b[p] === 0xef && b[p + 1] === 0xbb && b[p + 2] === 0xbf;
}

/** Copies `src[s, e)` to `out` at `pos` byte by byte (short runs: cheaper than a native copy). */
function copyBytes(src: Buffer, s: number, e: number, out: Buffer, pos: number): number {
  let p = pos;
  for (let i = s; i < e; i++) out[p++] = src[i]!;
  return p;
}

/** Writes `,"key":<digits>` for a value of digits (leading zeros dropped); nothing for another value. */
function writeNumber(b: Buffer, s: number, e: number, key: Buffer, out: Buffer, pos: number): number {
  let p = s;
  while (p < e - 1 && b[p] === ZERO) p++;
  if (e - p > MAX_NUMBER_DIGITS) return pos;
  for (let i = p; i < e; i++) {
    const c = b[i]! - ZERO;
    if (c < 0 || c > 9) return pos;
  }
  return copyBytes(b, p, e, out, copyBytes(key, 0, key.length, out, pos));
}

/** W3C lines into W3CIISLog rows, one `W3cEncoder` per file; partial lines wait for their newline. */
export function w3cRecordFormat(computer: string, events: W3cEvents, maxLineBytes: number): RecordFormat {
  return {
    flushPartialLines: false,
    encoderFor: (file) => new W3cEncoder(file, computer, events, maxLineBytes),
  };
}
