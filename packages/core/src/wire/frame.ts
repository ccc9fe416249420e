import { endianness } from 'node:os';
import type { EncodedBatch } from './encoded-batch.js';

/**
 * A queue entry: an encoded batch, stored as its destination's sink will send it (docs/architecture.md#encode-once).
 *
 * ```
 * 0   u8   0x00 (marks a frame: an entry of an older version is JSON and starts with `{`)
 * 1   u8   version (1)
 * 2   u8   wire format code (see WireFormat.code)
 * 3   u8   0
 * 4   u32  records N
 * 8   u32  data bytes D
 * 12  u16  table name bytes T
 * 14  table name (UTF-8), then 0 to 3 zero bytes so that what follows starts at a multiple of 4: E
 * E        u32 x N: offset just after each record in data
 * E+4N     data: the records' JSON objects separated by commas (D bytes)
 * ```
 * Integers are little-endian. The offsets are 4-byte aligned so that a reader can view them in place.
 */
export const FRAME_VERSION = 1;
const HEADER = 14;
const LITTLE_ENDIAN = endianness() === 'LE';

export interface Frame {
  readonly format: number;
  readonly batch: EncodedBatch;
}

function endsStart(tableBytes: number): number {
  return (HEADER + tableBytes + 3) & ~3;
}

export function frameBytes(batch: EncodedBatch): number {
  return frameRoom(batch.table, batch.count) + batch.data.length;
}

/**
 * The queue entry of `batch` in wire format `format`. `into`, when given and large enough, is written
 * into and a view of it returned (the caller owns it and knows when the entry is no longer used).
 */
export function encodeFrame(format: number, batch: EncodedBatch, into?: Buffer): Buffer {
  const dataStart = frameRoom(batch.table, batch.count);
  const size = dataStart + batch.data.length;
  const out = into && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
  out.set(batch.data, dataStart);
  return writeFrameHead(out, dataStart, format, batch);
}

/** Bytes in front of a frame's data for a table name and at most `maxRecords` records (a multiple of 4). */
export function frameRoom(table: string, maxRecords: number): number {
  return endsStart(Buffer.byteLength(table)) + 4 * maxRecords;
}

/**
 * Writes the head of a frame (header, table name, record offsets) into `buf` just before the batch's
 * data, which starts at `dataStart` (with at least `frameRoom` bytes in front of it), and returns the
 * frame: a view of `buf` from its head to the end of the data. No data is copied.
 */
export function writeFrameHead(buf: Buffer, dataStart: number, format: number, batch: EncodedBatch): Buffer {
  const tableBytes = Buffer.byteLength(batch.table);
  if (tableBytes > 0xffff) throw new RangeError('table name too long');
  const e = dataStart - 4 * batch.count;
  const h = e - endsStart(tableBytes);
  if (h < 0) throw new RangeError('no room for the frame head');
  buf[h] = 0;
  buf[h + 1] = FRAME_VERSION;
  buf[h + 2] = format;
  buf[h + 3] = 0;
  buf.writeUInt32LE(batch.count, h + 4);
  buf.writeUInt32LE(batch.data.length, h + 8);
  buf.writeUInt16LE(tableBytes, h + 12);
  buf.write(batch.table, h + HEADER, 'utf8');
  buf.fill(0, h + HEADER + tableBytes, e);
  const ends = batch.ends;
  for (let i = 0, p = e; i < batch.count; i++, p += 4) buf.writeUInt32LE(ends[i]!, p);
  return buf.subarray(h, dataStart + batch.data.length);
}

/** True when `payload` is a frame (else an entry written by an older version, or garbage). */
export function isFrame(payload: Buffer): boolean {
  return payload.length >= HEADER && payload[0] === 0;
}

/**
 * The batch in a frame; its data (and, where the platform allows, its record offsets) are views over
 * `payload`. Throws a plain Error saying what is wrong when the frame is malformed (the caller counts and
 * drops it).
 */
export function decodeFrame(payload: Buffer): Frame {
  if (!isFrame(payload)) throw new Error('queued entry is not a frame');
  if (payload[1] !== FRAME_VERSION) throw new Error(`queued entry has frame version ${payload[1]}, expected ${FRAME_VERSION}`);
  const format = payload[2]!;
  const count = payload.readUInt32LE(4);
  const dataBytes = payload.readUInt32LE(8);
  const tableBytes = payload.readUInt16LE(12);
  const e = endsStart(tableBytes);
  const dataStart = e + 4 * count;
  if (dataStart + dataBytes !== payload.length) throw new Error('queued entry has an inconsistent frame length');
  const table = payload.toString('utf8', HEADER, HEADER + tableBytes);
  let ends: Uint32Array;
  if (LITTLE_ENDIAN && (payload.byteOffset + e) % 4 === 0) {
    ends = new Uint32Array(payload.buffer, payload.byteOffset + e, count);
  } else {
    ends = new Uint32Array(count);
    for (let i = 0, p = e; i < count; i++, p += 4) ends[i] = payload.readUInt32LE(p);
  }
  let prev = -1;
  for (let i = 0; i < count; i++) {
    const end = ends[i]!;
    // Records are at least `{}` and separated by one comma.
    if (end < prev + 3 || end > dataBytes) throw new Error('queued entry has inconsistent record offsets');
    prev = end;
  }
  if (count > 0 && ends[count - 1] !== dataBytes) throw new Error('queued entry has inconsistent record offsets');
  if (count === 0 && dataBytes !== 0) throw new Error('queued entry has data but no records');
  return { format, batch: { table, count, data: payload.subarray(dataStart), ends } };
}
