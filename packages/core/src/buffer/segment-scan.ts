import type { FileHandle } from 'node:fs/promises';
import { crc32c } from './crc32c.js';
import { readFully } from './fs-util.js';
import { RECORD_LAYOUT, type RecordLayout } from './record-format.js';
import { RECORD_ACKED, RECORD_LIVE, RecordIndex } from './record-index.js';
import type { SeqRange } from './ledger.js';

const CHUNK_BYTES = 1024 * 1024;
const TWO_POW_32 = 0x1_0000_0000;

/** Windowed positional reads over one file; memory stays at one chunk whatever the record sizes. */
class ChunkReader {
  private readonly buf = Buffer.allocUnsafe(CHUNK_BYTES);
  private start = 0;
  private len = 0;

  constructor(private readonly fh: FileHandle, private readonly size: number) {}

  /** `n` bytes at `pos` (n <= CHUNK_BYTES), or undefined past the end of the file. */
  async view(pos: number, n: number): Promise<Buffer | undefined> {
    if (pos + n > this.size) return undefined;
    if (pos < this.start || pos + n > this.start + this.len) {
      this.start = pos;
      this.len = await readFully(this.fh, this.buf, 0, Math.min(CHUNK_BYTES, this.size - pos), pos);
      if (this.len < n) return undefined;
    }
    return this.buf.subarray(pos - this.start, pos - this.start + n);
  }

  /** CRC-32C of `n` bytes at `pos`, continuing `seed`; undefined if the file ends first. */
  async crc(pos: number, n: number, seed: number): Promise<number | undefined> {
    let crc = seed;
    let done = 0;
    while (done < n) {
      const take = Math.min(CHUNK_BYTES, n - done);
      const v = await this.view(pos + done, take);
      if (!v) return undefined;
      crc = crc32c(v, crc);
      done += take;
    }
    return crc;
  }
}

interface ScannedRecord {
  readonly seq: number;
  readonly len: number;
  readonly time: number;
  readonly records: number;
}

export interface SegmentScan {
  /** The valid records (holes where records were lost inside the file). */
  readonly index: RecordIndex;
  /** Where the valid data ends; past it is a bad tail (when `tailBad`). */
  readonly validEnd: number;
  /** Last valid seq in the file (firstSeq - 1 when none). */
  readonly lastSeq: number;
  /** The file ends in bytes that are not a valid record (torn write, truncation, damage). */
  readonly tailBad: boolean;
  /** Seq ranges lost to damaged regions inside the file (valid records were found after them). */
  readonly lostInside: readonly SeqRange[];
}

/**
 * Validates every record of a segment: length inside the file, seq strictly following the previous
 * one (and at most `maxSeq`), CRC. On a bad record, it looks for the next valid record further on
 * (whose seq is plausible given the bytes skipped); records between are holes. Records with
 * seq <= `ackedThrough` are indexed as acknowledged.
 */
export async function scanSegment(
  fh: FileHandle,
  size: number,
  firstSeq: number,
  maxSeq: number,
  ackedThrough: number,
  layout: RecordLayout = RECORD_LAYOUT,
): Promise<SegmentScan> {
  const HEADER = layout.headerBytes;
  const reader = new ChunkReader(fh, size);
  const index = new RecordIndex(256);
  const lostInside: SeqRange[] = [];
  let pos = 0;
  let prevSeq = firstSeq - 1;

  /** Header fields of a valid record at `at` with a seq in [lo, hi], or undefined. */
  const validAt = async (at: number, lo: number, hi: number): Promise<ScannedRecord | undefined> => {
    const hb = await reader.view(at, HEADER);
    if (!hb) return undefined;
    const h = layout.decode(hb, 0);
    if (at + HEADER + h.payloadLen > size) return undefined;
    if (h.seq < lo || h.seq > hi || h.seq > maxSeq) return undefined;
    const seed = layout.crcSeed(hb, 0);
    const crc = await reader.crc(at + HEADER, h.payloadLen, seed);
    if (crc !== h.crc) return undefined;
    return { seq: h.seq, len: h.payloadLen, time: h.appendedAt, records: h.records };
  };

  const add = (at: number, rec: ScannedRecord): void => {
    while (firstSeq + index.count < rec.seq) index.pushHole();
    index.push(at, rec.len, rec.time, rec.records, rec.seq <= ackedThrough ? RECORD_ACKED : RECORD_LIVE);
    prevSeq = rec.seq;
  };

  while (pos < size) {
    // The next seq, or a later one right here: seqs whose appends were withdrawn or failed before they
    // were written leave a gap in the numbering but not in the bytes (the ledger knows those gaps).
    const rec = (await validAt(pos, prevSeq + 1, prevSeq + 1)) ?? (await validAt(pos, prevSeq + 2, maxSeq));
    if (rec) {
      if (rec.seq > prevSeq + 1) lostInside.push([prevSeq + 1, rec.seq - 1]);
      add(pos, rec);
      pos += HEADER + rec.len;
      continue;
    }
    const found = await resync(reader, size, pos, prevSeq, maxSeq, HEADER, validAt);
    if (!found) {
      return { index, validEnd: pos, lastSeq: prevSeq, tailBad: true, lostInside };
    }
    if (found.rec.seq > prevSeq + 1) lostInside.push([prevSeq + 1, found.rec.seq - 1]);
    add(found.at, found.rec);
    pos = found.at + HEADER + found.rec.len;
  }
  return { index, validEnd: pos, lastSeq: prevSeq, tailBad: false, lostInside };
}

/**
 * Finds the next valid record after a bad one at `badAt`. A record found `d` bytes further can follow
 * at most d / HEADER lost records, which bounds the seqs worth checking; the CRC is only
 * computed for positions passing that cheap test.
 */
async function resync(
  reader: ChunkReader,
  size: number,
  badAt: number,
  prevSeq: number,
  maxSeq: number,
  HEADER: number,
  validAt: (at: number, lo: number, hi: number) => Promise<ScannedRecord | undefined>,
): Promise<{ at: number; rec: ScannedRecord } | undefined> {
  let p = badAt + 1;
  while (p + HEADER <= size) {
    const span = Math.min(CHUNK_BYTES, size - p);
    const chunk = await reader.view(p, span);
    if (!chunk) return undefined;
    const last = chunk.length - HEADER;
    let candidate = -1;
    for (let k = 0; k <= last; k++) {
      const at = p + k;
      const len = chunk.readUInt32LE(k);
      if (at + HEADER + len > size) continue;
      const seq = chunk.readUInt32LE(k + 8) + chunk.readUInt32LE(k + 12) * TWO_POW_32;
      const hi = Math.min(maxSeq, prevSeq + 1 + Math.floor((at - badAt) / HEADER));
      if (seq > prevSeq && seq <= hi) {
        candidate = at;
        break;
      }
    }
    if (candidate < 0) {
      p += last + 1;
      continue;
    }
    const hi = Math.min(maxSeq, prevSeq + 1 + Math.floor((candidate - badAt) / HEADER));
    const rec = await validAt(candidate, prevSeq + 1, hi);
    if (rec) return { at: candidate, rec };
    p = candidate + 1;
  }
  return undefined;
}
