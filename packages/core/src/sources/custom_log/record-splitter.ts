import { utf8Boundary } from '../../encoding/json-escape.js';
import type { TimestampParser } from './timestamp-formats.js';

/**
 * Receives one finished record: a single line as bytes, `src[start, start + bytes)` (no string is made
 * for it), or a multi-line record as its text (`src` a string, `start` 0). The bytes are only valid
 * during the call (the buffer is reused). `timeMs` is the record-start timestamp, undefined when the
 * record has none (TimeGenerated is then the collection time). `bytes` is the record's size in UTF-8
 * (invalid sequences in a line are replaced when it is encoded), `end` the file offset just after it,
 * `cutBytes` how many of its bytes were cut at the size limit (0: none; the newlines between the lines
 * of a multi-line record count). Returns false to ask the splitter to stop after the current line (the
 * caller's batch is full).
 */
export type RecordSink = (src: Buffer | string, start: number, timeMs: number | undefined, bytes: number, end: number, cutBytes: number) => boolean;

export interface RecordSplitterOptions {
  /** Longest record kept, in bytes; longer ones are cut on a UTF-8 character boundary. */
  readonly maxRecordBytes: number;
  /** When set, records start at lines this parser accepts and extend over the lines that follow. */
  readonly recordStart?: TimestampParser;
}

const LF = 0x0a;
const CR = 0x0d;
/** Room kept past the limit in a partial line: a byte-order mark, a CR and the byte that tells a cut is needed. */
const CARRY_SLACK = 5;

function hasBom(buf: Buffer, s: number, len: number): boolean {
  return len >= 3 && buf[s] === 0xef && buf[s + 1] === 0xbb && buf[s + 2] === 0xbf;
}

/**
 * Turns the bytes of one file into records, chunk by chunk, tracking file offsets so that the caller can
 * checkpoint exactly: `safeOffset` is the first byte not yet part of a record handed to the sink (a
 * partial last line or an open multi-line record lies after it).
 *
 * Lines end at LF; a CR before it is dropped; a UTF-8 byte-order mark at offset 0 is skipped; invalid
 * UTF-8 decodes to U+FFFD. Empty lines outside a multi-line record are skipped. A line or record longer
 * than `maxRecordBytes` is truncated and the rest of it is consumed without producing records.
 */
export class RecordSplitter {
  private readonly max: number;
  private readonly recordStart: TimestampParser | undefined;

  /** Offset just after the last complete line seen. */
  private consumed: number;

  // Partial last line: its first bytes (at most max + CARRY_SLACK), total length, first offset, last byte.
  private carry: Buffer | undefined;
  private carryTotal = 0;
  private carryStart = 0;
  private carryLast = -1;

  // Open multi-line record.
  private pStart = -1;
  private pParts: string[] = [];
  private pBytes = 0;
  private pTime = 0;
  /** Bytes of the open record cut at the size limit. */
  private pCut = 0;
  private pFull = false;

  constructor(opts: RecordSplitterOptions, startOffset = 0) {
    this.max = opts.maxRecordBytes;
    this.recordStart = opts.recordStart;
    this.consumed = startOffset;
  }

  /** First file offset not covered by records already handed to the sink. */
  get safeOffset(): number {
    if (this.pStart >= 0) return this.pStart;
    if (this.carry !== undefined) return this.carryStart;
    return this.consumed;
  }

  /** Offset just after the last byte pushed. */
  get endOffset(): number {
    return this.carry !== undefined ? this.carryStart + this.carryTotal : this.consumed;
  }

  /** True when a partial line or an open multi-line record waits for more data. */
  get hasPending(): boolean {
    return this.carry !== undefined || this.pStart >= 0;
  }

  /**
   * Splits `buf[start, end)`, which sits at file offset `offset` and must directly follow the bytes
   * pushed before. Returns the index it stopped at: `end`, or earlier when the sink returned false.
   */
  push(buf: Buffer, start: number, end: number, offset: number, sink: RecordSink): number {
    const view = end === buf.length ? buf : buf.subarray(0, end);
    const base = offset - start;
    let pos = start;
    while (pos < end) {
      const nl = view.indexOf(LF, pos);
      if (nl < 0) {
        this.appendCarry(buf, pos, end, base + pos);
        return end;
      }
      const lineEnd = base + nl + 1;
      let more: boolean;
      if (this.carry !== undefined) {
        more = this.finishCarried(buf, pos, nl, lineEnd, sink);
      } else {
        const lineStart = base + pos;
        let s = pos;
        let len = nl - pos;
        if (len > 0 && buf[nl - 1] === CR) len--;
        if (lineStart === 0 && hasBom(buf, s, len)) {
          s += 3;
          len -= 3;
        }
        this.consumed = lineEnd;
        more = this.line(buf, s, len, lineStart, lineEnd, sink);
      }
      pos = nl + 1;
      if (!more) return pos;
    }
    return end;
  }

  /** Hands over a partial last line and an open multi-line record as they are (the wait is over). */
  flush(sink: RecordSink): void {
    if (this.carry !== undefined) {
      const head = this.carry;
      const start = this.carryStart;
      const end = start + this.carryTotal;
      let len = this.carryTotal - (this.carryLast === CR ? 1 : 0);
      let s = 0;
      if (start === 0 && hasBom(head, 0, len)) {
        s = 3;
        len -= 3;
      }
      this.carry = undefined;
      this.consumed = end;
      this.line(head, s, len, start, end, sink);
    }
    if (this.pStart >= 0) this.emitPending(this.consumed, sink);
  }

  private appendCarry(buf: Buffer, pos: number, end: number, startOffset: number): void {
    const cap = this.max + CARRY_SLACK;
    if (this.carry === undefined) {
      this.carryStart = startOffset;
      this.carryTotal = 0;
      this.carry = Buffer.from(buf.subarray(pos, Math.min(end, pos + cap)));
    } else if (this.carry.length < cap) {
      const take = Math.min(end - pos, cap - this.carry.length);
      this.carry = Buffer.concat([this.carry, buf.subarray(pos, pos + take)]);
    }
    this.carryTotal += end - pos;
    this.carryLast = buf[end - 1]!;
  }

  private finishCarried(buf: Buffer, pos: number, nl: number, lineEnd: number, sink: RecordSink): boolean {
    const head = this.carry!;
    const segment = nl - pos;
    const lastByte = segment > 0 ? buf[nl - 1] : this.carryLast;
    let len = this.carryTotal + segment - (lastByte === CR ? 1 : 0);
    const take = Math.min(segment, Math.max(0, this.max + CARRY_SLACK - head.length));
    const line = take > 0 ? Buffer.concat([head, buf.subarray(pos, pos + take)]) : head;
    const start = this.carryStart;
    let s = 0;
    if (start === 0 && hasBom(line, 0, len)) {
      s = 3;
      len -= 3;
    }
    this.carry = undefined;
    this.consumed = lineEnd;
    return this.line(line, s, len, start, lineEnd, sink);
  }

  /** One line of `len` bytes at `buf[s]` (only the first max + 1 of them need to be present). */
  private line(buf: Buffer, s: number, len: number, start: number, end: number, sink: RecordSink): boolean {
    let bytes = len;
    let cut = 0;
    if (len > this.max) {
      bytes = utf8Boundary(buf, s, this.max);
      cut = len - bytes;
    }
    const recordStart = this.recordStart;
    if (recordStart === undefined) {
      // One line, one record: handed over as bytes.
      return bytes === 0 ? true : sink(buf, s, undefined, bytes, end, cut);
    }
    const text = bytes === 0 ? '' : buf.toString('utf8', s, s + bytes);
    const t = bytes === 0 ? undefined : recordStart(text);
    if (t !== undefined) {
      const more = this.pStart >= 0 ? this.emitPending(start, sink) : true;
      this.pStart = start;
      this.pParts = [text];
      this.pBytes = bytes;
      this.pTime = t;
      this.pCut = cut;
      this.pFull = cut > 0;
      return more;
    }
    if (this.pStart >= 0) {
      this.appendPending(text, bytes, cut);
      return true;
    }
    // Before the first record start: every line is a record of its own.
    return bytes === 0 ? true : sink(buf, s, undefined, bytes, end, cut);
  }

  /** Adds a line of `bytes` bytes kept (and `cut` more cut off) to the open record. */
  private appendPending(text: string, bytes: number, cut: number): void {
    if (this.pFull) {
      this.pCut += 1 + bytes + cut;
      return;
    }
    const room = this.max - this.pBytes - 1;
    if (bytes <= room) {
      this.pParts.push(text);
      this.pBytes += 1 + bytes;
      if (cut > 0) {
        this.pCut += cut;
        this.pFull = true;
      }
      return;
    }
    this.pFull = true;
    if (room <= 0) {
      this.pCut += 1 + bytes + cut;
      return;
    }
    const encoded = Buffer.from(text, 'utf8');
    const kept = utf8Boundary(encoded, 0, room);
    this.pParts.push(encoded.toString('utf8', 0, kept));
    this.pBytes += 1 + kept;
    this.pCut += bytes - kept + cut;
  }

  private emitPending(end: number, sink: RecordSink): boolean {
    const parts = this.pParts;
    let n = parts.length;
    let bytes = this.pBytes;
    // Blank lines between records belong to neither: drop them from the end of this one.
    while (n > 1 && parts[n - 1] === '') {
      n--;
      bytes--;
    }
    const text = n === 1 ? parts[0]! : parts.slice(0, n).join('\n');
    this.pStart = -1;
    this.pParts = [];
    return sink(text, 0, this.pTime, bytes, end, this.pCut);
  }
}
