import { crc32c } from './crc32c.js';

/**
 * On-disk record layout (little endian), one record per appended payload:
 *
 *   [u32 payloadLen][u32 crc32c][u64 seq][u64 appendedAtMs][payload]
 *
 * The CRC covers bytes 8..24 of the header (seq and time) and the payload, so a damaged length shows
 * up as a CRC mismatch or a record running past the end of its segment.
 */
export const RECORD_HEADER_BYTES = 24;

/** Largest payload length the header can describe. */
export const MAX_RECORD_PAYLOAD_BYTES = 0xffff_ffff;

const TWO_POW_32 = 0x1_0000_0000;

export interface RecordHeader {
  readonly payloadLen: number;
  readonly crc: number;
  readonly seq: number;
  readonly appendedAt: number;
}

/** Builds the header for `payload` (and computes its CRC). */
export function encodeRecordHeader(seq: number, appendedAt: number, payload: Uint8Array): Buffer {
  const h = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  h.writeUInt32LE(payload.length, 0);
  h.writeUInt32LE(seq % TWO_POW_32, 8);
  h.writeUInt32LE(Math.floor(seq / TWO_POW_32), 12);
  h.writeUInt32LE(appendedAt % TWO_POW_32, 16);
  h.writeUInt32LE(Math.floor(appendedAt / TWO_POW_32), 20);
  h.writeUInt32LE(crc32c(payload, crc32c(h.subarray(8, RECORD_HEADER_BYTES))), 4);
  return h;
}

/** Reads the header at `offset` of `buf` (which must hold RECORD_HEADER_BYTES from there). */
export function decodeRecordHeader(buf: Uint8Array, offset: number): RecordHeader {
  const dv = new DataView(buf.buffer, buf.byteOffset + offset, RECORD_HEADER_BYTES);
  return {
    payloadLen: dv.getUint32(0, true),
    crc: dv.getUint32(4, true),
    seq: dv.getUint32(8, true) + dv.getUint32(12, true) * TWO_POW_32,
    appendedAt: dv.getUint32(16, true) + dv.getUint32(20, true) * TWO_POW_32,
  };
}

/** The CRC of the header's seq/time bytes at `offset` of `buf`: continue it over the payload. */
export function headerCrcSeed(buf: Uint8Array, offset: number): number {
  return crc32c(buf.subarray(offset + 8, offset + RECORD_HEADER_BYTES));
}

const SEGMENT_NAME = /^(\d{20})\.seg$/;

/** `00000000000000000042.seg`: a segment is named by the sequence number of its first record. */
export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}.seg`;
}

/** The first sequence number encoded in a segment file name, or undefined for any other file. */
export function parseSegmentFileName(name: string): number | undefined {
  const m = SEGMENT_NAME.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}
