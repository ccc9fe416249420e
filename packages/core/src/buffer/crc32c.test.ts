import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';

/** Bit-at-a-time reference implementation (slow, obviously correct). */
function reference(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of buf) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pseudoRandomBytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

describe('crc32c', () => {
  it('matches the published check values', () => {
    expect(crc32c(Buffer.from('123456789', 'ascii'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    // RFC 3720 B.4: 32 bytes of 0x00..0x1f.
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('agrees with the bitwise reference for every length, alignment and both code paths', () => {
    const data = pseudoRandomBytes(700, 42);
    for (let start = 0; start < 8; start++) {
      for (let len = 0; len + start <= 300; len += 7) {
        const view = data.subarray(start, start + len);
        expect(crc32c(view)).toBe(reference(view));
      }
    }
  });

  it('continues a checksum across buffers through the seed', () => {
    const data = pseudoRandomBytes(100_000, 7);
    const whole = crc32c(data);
    expect(whole).toBe(reference(data));
    for (const cut of [0, 1, 3, 64, 65_537, 99_999, 100_000]) {
      expect(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut)))).toBe(whole);
    }
  });
});
