/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the durable queue's records.
 *
 * Node ships no CRC-32C (`zlib.crc32` is the IEEE polynomial). `@node-rs/crc32` (SIMD, prebuilt for
 * the common platforms) is used when it loads and passes a self-check, for buffers of NATIVE_MIN_BYTES
 * or more; shorter ones, and every buffer when the native module is not usable, go through a
 * table-driven slice-by-8 implementation in JS. The choice is made once, when this module loads, and
 * never throws.
 * Pass a previous result as `seed` to continue over several buffers: `crc32c(b, crc32c(a))` equals
 * `crc32c(a + b)`.
 */

import { createRequire } from 'node:module';

/** CRC-32C of `buf`, continuing from `seed` (a previous result; 0 to start). */
export type Crc32cFunction = (buf: Uint8Array, seed?: number) => number;

/** Which implementation computes the queue's checksums. */
export type Crc32cImplementation = 'native' | 'js';

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

/** The JS implementation: CRC-32C of `buf`, continuing from `seed` (a previous result; 0 to start). */
export function crc32cJs(buf: Uint8Array, seed = 0): number {
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

/**
 * Below this length the JS implementation is as fast or faster: a call into the native module costs
 * ~90 ns, about what checksumming 128 bytes costs in JS (Node 20 on x64; bench/buffer.bench.ts). The
 * 16-byte header seeds of the queue's records stay in JS.
 */
export const NATIVE_MIN_BYTES = 128;

const CHECK_HEAD = Buffer.from('1234', 'ascii');
const CHECK_TAIL = Buffer.from('56789', 'ascii');
/** CRC-32C of "123456789". */
const CHECK_VALUE = 0xe3069283;

/**
 * The native implementation (for buffers of NATIVE_MIN_BYTES or more) when `load` returns a module
 * whose `crc32c` gives the check value, in one call and continued from a seed; the JS one otherwise
 * (the module is missing, has no binary for this platform, or computes something else).
 */
export function pickCrc32c(load: () => unknown): { fn: Crc32cFunction; implementation: Crc32cImplementation } {
  try {
    const loaded = (load() as { crc32c?: unknown } | undefined)?.crc32c;
    if (typeof loaded === 'function') {
      const native = loaded as Crc32cFunction;
      if (native(Buffer.concat([CHECK_HEAD, CHECK_TAIL])) === CHECK_VALUE && native(CHECK_TAIL, native(CHECK_HEAD)) === CHECK_VALUE) {
        const fn: Crc32cFunction = (buf, seed = 0) => (buf.length < NATIVE_MIN_BYTES ? crc32cJs(buf, seed) : native(buf, seed));
        return { fn, implementation: 'native' };
      }
    }
  } catch {
    // No usable native module: the JS implementation serves.
  }
  return { fn: crc32cJs, implementation: 'js' };
}

const picked = pickCrc32c(() => createRequire(import.meta.url)('@node-rs/crc32'));

/** CRC-32C of `buf`, continuing from `seed` (a previous result; 0 to start). */
export const crc32c: Crc32cFunction = picked.fn;

/**
 * Which implementation `crc32c` is: 'native' (`@node-rs/crc32` for buffers of NATIVE_MIN_BYTES or more,
 * JS below) or 'js' (the fallback, for every buffer).
 */
export function crc32cImplementation(): Crc32cImplementation {
  return picked.implementation;
}
