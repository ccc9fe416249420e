import { crc32c } from './crc32c.js';

/**
 * On-disk record layout (little endian), one record per appended payload:
 *
 *   [u32 payloadLen][u32 crc32c][u64 seq][u64 appendedAtMs][u32 records][u32 reserved][payload]
 *
 * `records` is how many telemetry records the payload carries (a batch), so that everything the queue
 * counts or loses is counted in records. The CRC covers bytes 8..32 of the header (seq, time, count)
 * and the payload, so a damaged length shows up as a CRC mismatch or a record running past the end of
 * its segment.
 *
 * Segment files of this layout are named `<firstSeq>.v2.seg`. Files named `<firstSeq>.seg` hold the
 * first layout (a 24-byte header without the count); the queue converts them when it opens.
 */
export const RECORD_HEADER_BYTES = 32;

/** Largest payload length the header can describe. */
export const MAX_RECORD_PAYLOAD_BYTES = 0xffff_ffff;

/** Largest record count the header can describe. */
export const MAX_RECORD_COUNT = 0xffff_ffff;

const TWO_POW_32 = 0x1_0000_0000;

export interface RecordHeader {
  readonly payloadLen: number;
  readonly crc: number;
  readonly seq: number;
  readonly appendedAt: number;
  /** Telemetry records the payload carries (1 for records of the first layout). */
  readonly records: number;
}

/** How one version of the record layout is read; the scanner takes one. */
export interface RecordLayout {
  readonly headerBytes: number;
  decode(buf: Uint8Array, offset: number): RecordHeader;
  /** The CRC of the header bytes after the CRC field at `offset` of `buf`: continue it over the payload. */
  crcSeed(buf: Uint8Array, offset: number): number;
}

/** Builds the header for `payload` (and computes its CRC). */
export function encodeRecordHeader(seq: number, appendedAt: number, records: number, payload: Uint8Array): Buffer {
  const h = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  h.writeUInt32LE(payload.length, 0);
  h.writeUInt32LE(seq % TWO_POW_32, 8);
  h.writeUInt32LE(Math.floor(seq / TWO_POW_32), 12);
  h.writeUInt32LE(appendedAt % TWO_POW_32, 16);
  h.writeUInt32LE(Math.floor(appendedAt / TWO_POW_32), 20);
  h.writeUInt32LE(records, 24);
  h.writeUInt32LE(0, 28);
  h.writeUInt32LE(crc32c(payload, crc32c(h.subarray(8, RECORD_HEADER_BYTES))), 4);
  return h;
}

/** Reads a header at `offset` of `buf`; `withCount`: the current layout (else the first: 1 record). */
function decodeHeader(buf: Uint8Array, offset: number, withCount: boolean): RecordHeader {
  const dv = new DataView(buf.buffer, buf.byteOffset + offset, withCount ? RECORD_HEADER_BYTES : 24);
  return {
    payloadLen: dv.getUint32(0, true),
    crc: dv.getUint32(4, true),
    seq: dv.getUint32(8, true) + dv.getUint32(12, true) * TWO_POW_32,
    appendedAt: dv.getUint32(16, true) + dv.getUint32(20, true) * TWO_POW_32,
    records: withCount ? dv.getUint32(24, true) : 1,
  };
}

/** Reads the header at `offset` of `buf` (which must hold RECORD_HEADER_BYTES from there). */
export function decodeRecordHeader(buf: Uint8Array, offset: number): RecordHeader {
  return decodeHeader(buf, offset, true);
}

/** The CRC of the header's seq/time/count bytes at `offset` of `buf`: continue it over the payload. */
export function headerCrcSeed(buf: Uint8Array, offset: number): number {
  return crc32c(buf.subarray(offset + 8, offset + RECORD_HEADER_BYTES));
}

/** The current layout. */
export const RECORD_LAYOUT: RecordLayout = { headerBytes: RECORD_HEADER_BYTES, decode: decodeRecordHeader, crcSeed: headerCrcSeed };

/** The first layout: `[u32 payloadLen][u32 crc32c][u64 seq][u64 appendedAtMs][payload]`, no record count. */
export const V1_RECORD_LAYOUT: RecordLayout = {
  headerBytes: 24,
  decode: (buf, offset) => decodeHeader(buf, offset, false),
  crcSeed: (buf, offset) => crc32c(buf.subarray(offset + 8, offset + 24)),
};

const SEGMENT_NAME = /^(\d{20})\.v2\.seg$/;
const V1_SEGMENT_NAME = /^(\d{20})\.seg$/;

/** `00000000000000000042.v2.seg`: a segment is named by the sequence number of its first record. */
export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}.v2.seg`;
}

function firstSeqOf(re: RegExp, name: string): number | undefined {
  const m = re.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

/** The first sequence number encoded in a segment file name, or undefined for any other file. */
export function parseSegmentFileName(name: string): number | undefined {
  return firstSeqOf(SEGMENT_NAME, name);
}

/** The first sequence number of a segment file of the first layout (`<firstSeq>.seg`), or undefined. */
export function parseV1SegmentFileName(name: string): number | undefined {
  return firstSeqOf(V1_SEGMENT_NAME, name);
}
