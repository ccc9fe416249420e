import type { EncodedBatch } from './encoded-batch.js';

/**
 * A queue entry: an encoded batch, stored as its destination's sink will send it (docs/architecture.md#queue-entries).
 *
 * ```
 * 0   u8   0x00 (marks a frame: an entry of an older version is JSON and starts with `{`)
 * 1   u8   version (1)
 * 2   u8   wire format code (see WireFormat.code)
 * 3   u8   0
 * 4   u32  records
 * 8   u32  data bytes D
 * 12  u16  table name bytes T
 * 14  table name (UTF-8)
 * 14+T      data: the records' JSON objects separated by commas (D bytes)
 * 14+T+D    u32 x records: offset just after each record in data
 * ```
 * Integers are little-endian.
 */
export const FRAME_VERSION = 1;
const HEADER = 14;

export interface Frame {
  readonly format: number;
  readonly batch: EncodedBatch;
}

export function frameBytes(batch: EncodedBatch): number {
  return HEADER + Buffer.byteLength(batch.table) + batch.data.length + 4 * batch.count;
}

/**
 * The queue entry of `batch` in wire format `format`. `into`, when given and large enough, is written
 * into and a view of it returned (the caller owns it and knows when the entry is no longer used).
 */
export function encodeFrame(format: number, batch: EncodedBatch, into?: Buffer): Buffer {
  const tableBytes = Buffer.byteLength(batch.table);
  if (tableBytes > 0xffff) throw new RangeError('table name too long');
  const size = HEADER + tableBytes + batch.data.length + 4 * batch.count;
  const out = into && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
  out[0] = 0;
  out[1] = FRAME_VERSION;
  out[2] = format;
  out[3] = 0;
  out.writeUInt32LE(batch.count, 4);
  out.writeUInt32LE(batch.data.length, 8);
  out.writeUInt16LE(tableBytes, 12);
  out.write(batch.table, HEADER, 'utf8');
  let p = HEADER + tableBytes;
  p += batch.data.copy(out, p);
  const ends = batch.ends;
  for (let i = 0; i < batch.count; i++, p += 4) out.writeUInt32LE(ends[i]!, p);
  return out;
}

/** True when `payload` is a frame (else an entry written by an older version, or garbage). */
export function isFrame(payload: Buffer): boolean {
  return payload.length >= HEADER && payload[0] === 0;
}

/**
 * The batch in a frame; its data is a view over `payload`. Throws a plain Error saying what is wrong
 * when the frame is malformed (the caller counts and drops it).
 */
export function decodeFrame(payload: Buffer): Frame {
  if (!isFrame(payload)) throw new Error('queued entry is not a frame');
  if (payload[1] !== FRAME_VERSION) throw new Error(`queued entry has frame version ${payload[1]}, expected ${FRAME_VERSION}`);
  const format = payload[2]!;
  const count = payload.readUInt32LE(4);
  const dataBytes = payload.readUInt32LE(8);
  const tableBytes = payload.readUInt16LE(12);
  const dataStart = HEADER + tableBytes;
  const endsStart = dataStart + dataBytes;
  if (endsStart + 4 * count !== payload.length) throw new Error('queued entry has an inconsistent frame length');
  const table = payload.toString('utf8', HEADER, dataStart);
  const ends = new Uint32Array(count);
  let prev = -1;
  for (let i = 0, p = endsStart; i < count; i++, p += 4) {
    const e = payload.readUInt32LE(p);
    // Records are at least `{}` and separated by one comma.
    if (e < prev + 3 || e > dataBytes) throw new Error('queued entry has inconsistent record offsets');
    ends[i] = e;
    prev = e;
  }
  if (count > 0 && ends[count - 1] !== dataBytes) throw new Error('queued entry has inconsistent record offsets');
  if (count === 0 && dataBytes !== 0) throw new Error('queued entry has data but no records');
  return { format, batch: { table, count, data: payload.subarray(dataStart, endsStart), ends } };
}
