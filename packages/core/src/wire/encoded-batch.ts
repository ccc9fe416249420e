/**
 * Records of one table in their wire form, encoded once: JSON objects (UTF-8) separated by commas, the
 * inside of a JSON array. A sink posts these bytes as they are (`[` + data + `]`), several batches per
 * request; `ends` marks where each record ends so that a request can be split between records.
 *
 * Record `i` spans `data[i === 0 ? 0 : ends[i - 1] + 1, ends[i])` (the byte after a record is its comma).
 */
export interface EncodedBatch {
  readonly table: string;
  /** Records in `data`. */
  readonly count: number;
  readonly data: Buffer;
  /** Offset just after each record in `data` (`count` entries, increasing). */
  readonly ends: Uint32Array;
  /**
   * The same records already laid out as a queue entry (a frame) of the given wire format, around the
   * data: queued as they are, without a copy.
   */
  readonly frame?: { readonly format: number; readonly bytes: Buffer };
}

/** True for an encoded batch (as opposed to a batch of record objects). */
export function isEncodedBatch(b: object): b is EncodedBatch {
  return 'ends' in b;
}

/** First byte of record `i` in `batch.data`. */
export function recordStart(ends: Uint32Array, i: number): number {
  return i === 0 ? 0 : ends[i - 1]! + 1;
}

/** The records `[from, to)` of `batch` as their own batch: a view over the same bytes (no copy of the data). */
export function sliceBatch(batch: EncodedBatch, from: number, to: number): EncodedBatch {
  if (from === 0 && to === batch.count) return batch;
  const base = recordStart(batch.ends, from);
  const ends = new Uint32Array(to - from);
  for (let i = from; i < to; i++) ends[i - from] = batch.ends[i]! - base;
  return { table: batch.table, count: to - from, data: batch.data.subarray(base, batch.ends[to - 1]), ends };
}

/** Each record of `batch` as its JSON text (for dead letters and re-encoding: not a hot path). */
export function recordTexts(batch: EncodedBatch): string[] {
  const out: string[] = new Array<string>(batch.count);
  for (let i = 0; i < batch.count; i++) out[i] = batch.data.toString('utf8', recordStart(batch.ends, i), batch.ends[i]);
  return out;
}

import { frameRoom, writeFrameHead } from './frame.js';

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** The parts of the JSON array of these batches' records, in order, for a stream or a concatenation. */
export function jsonArrayParts(batches: readonly EncodedBatch[]): Buffer[] {
  const parts: Buffer[] = [OPEN];
  batches.forEach((b, i) => {
    if (i > 0) parts.push(COMMA);
    if (b.data.length > 0) parts.push(b.data);
  });
  parts.push(CLOSE);
  return parts;
}

const MIN_CAPACITY = 4096;

/**
 * Builds an `EncodedBatch` record by record into one growing buffer. Writers reserve room first
 * (`reserve`), then write at `pos` directly; `endRecord` closes a record. The finished batch's data is a
 * view over the builder's buffer: a builder is used for one batch.
 */
export class EncodedBatchBuilder {
  buf: Buffer;
  /** Where the next byte goes in `buf` (the data start at `start`). */
  pos: number;
  private ends: Uint32Array;
  private n = 0;
  /** Offset of the data in `buf`: room kept in front for the frame's header and record offsets. */
  private readonly start: number;

  /**
   * `buffer`, when given, is written into (and replaced by a larger one if it fills up). `frame`, when
   * given, keeps room in front of the data so that `finishFrame` can lay the batch out as a queue entry
   * in place: for at most `maxRecords` records.
   */
  constructor(
    readonly table: string,
    capacity = 64 * 1024,
    expectedRecords = 256,
    buffer?: Buffer,
    private readonly frame?: { readonly maxRecords: number },
  ) {
    this.start = frame ? frameRoom(table, frame.maxRecords) : 0;
    this.buf = buffer ?? Buffer.allocUnsafe(Math.max(MIN_CAPACITY, this.start + capacity));
    if (this.buf.length < this.start + MIN_CAPACITY) this.buf = Buffer.allocUnsafe(this.start + Math.max(MIN_CAPACITY, capacity));
    this.pos = this.start;
    this.ends = new Uint32Array(Math.max(16, expectedRecords));
  }

  /** Records written so far. */
  get count(): number {
    return this.n;
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.pos - this.start;
  }

  /** Makes room for `n` more bytes at `pos`. */
  reserve(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Starts a record: writes the comma that separates it from the previous one. */
  beginRecord(): void {
    if (this.n > 0) {
      this.reserve(1);
      this.buf[this.pos++] = 0x2c;
    }
  }

  /** Ends the record begun last. */
  endRecord(): void {
    if (this.n === this.ends.length) {
      const next = new Uint32Array(this.ends.length * 2);
      next.set(this.ends);
      this.ends = next;
    }
    this.ends[this.n++] = this.pos - this.start;
  }

  /** Drops the record begun last (and its comma): used when a record turns out not to be encodable. */
  abandonRecord(): void {
    this.pos = this.start + (this.n === 0 ? 0 : this.ends[this.n - 1]!);
  }

  /** Appends bytes as they are. */
  bytesOf(src: Buffer, start = 0, end = src.length): void {
    const n = end - start;
    this.reserve(n);
    if (n <= 32) {
      const b = this.buf;
      let p = this.pos;
      for (let i = start; i < end; i++) b[p++] = src[i]!;
      this.pos = p;
    } else {
      src.copy(this.buf, this.pos, start, end);
      this.pos += n;
    }
  }

  /** Appends a string as UTF-8, as it is (no escaping: JSON text). */
  text(s: string): void {
    this.reserve(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  finish(): EncodedBatch {
    return { table: this.table, count: this.n, data: this.buf.subarray(this.start, this.pos), ends: this.ends.subarray(0, this.n) };
  }

  /**
   * The batch, with its frame as a queue entry of wire format `format` laid out in place in front of the
   * data (see frame.ts). Only for a builder made with `frame`, and at most its `maxRecords` records.
   */
  finishFrame(format: number): EncodedBatch {
    const batch = this.finish();
    if (!this.frame || this.n > this.frame.maxRecords) return batch;
    return { ...batch, frame: { format, bytes: writeFrameHead(this.buf, this.start, format, batch) } };
  }
}
