/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table driven, slice-by-8.
 *
 * Node ships no CRC-32C (`zlib.crc32` is the IEEE polynomial), so this is the checksum of the durable
 * queue's records. Pass a previous result as `seed` to continue over several buffers:
 * `crc32c(b, crc32c(a))` equals `crc32c(a + b)`.
 */

const POLY = 0x82f63b78;

/** TABLE[k * 256 + n]: the CRC register after byte n followed by k zero bytes. */
const TABLE = buildTable();

/** Word reads through an Int32Array view assume little-endian memory; other hosts read bytes. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function buildTable(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

/** CRC-32C of `buf`, continuing from `seed` (a previous result; 0 to start). */
export function crc32c(buf: Uint8Array, seed = 0): number {
  const t = TABLE;
  const len = buf.length;
  let crc = ~seed | 0;
  let i = 0;
  // Every table index below is masked to 0..255 (plus a constant table offset), so the non-null
  // assertions cannot be wrong; they keep the hot loop free of fallback branches.
  if (LITTLE_ENDIAN && len >= 64) {
    // Byte steps up to a 4-byte boundary, then 8 bytes per step read as two 32-bit words.
    while (((buf.byteOffset + i) & 3) !== 0) {
      crc = t[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
      i++;
    }
    const pairs = (len - i) >>> 3;
    const w = new Int32Array(buf.buffer, buf.byteOffset + i, pairs * 2);
    for (let j = 0; j < w.length; j += 2) {
      const a = crc ^ w[j]!;
      const b = w[j + 1]!;
      crc =
        t[1792 + (a & 0xff)]! ^
        t[1536 + ((a >>> 8) & 0xff)]! ^
        t[1280 + ((a >>> 16) & 0xff)]! ^
        t[1024 + (a >>> 24)]! ^
        t[768 + (b & 0xff)]! ^
        t[512 + ((b >>> 8) & 0xff)]! ^
        t[256 + ((b >>> 16) & 0xff)]! ^
        t[b >>> 24]!;
    }
    i += pairs * 8;
  } else {
    const end8 = len - (len & 7);
    while (i < end8) {
      const a = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
      crc =
        t[1792 + (a & 0xff)]! ^
        t[1536 + ((a >>> 8) & 0xff)]! ^
        t[1280 + ((a >>> 16) & 0xff)]! ^
        t[1024 + (a >>> 24)]! ^
        t[768 + buf[i + 4]!]! ^
        t[512 + buf[i + 5]!]! ^
        t[256 + buf[i + 6]!]! ^
        t[buf[i + 7]!]!;
      i += 8;
    }
  }
  while (i < len) {
    crc = t[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
    i++;
  }
  return ~crc >>> 0;
}
