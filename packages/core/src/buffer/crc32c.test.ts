import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../testing/prng.js';
import { NATIVE_MIN_BYTES, crc32c, crc32cImplementation, crc32cJs, pickCrc32c, type Crc32cFunction } from './crc32c.js';

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

/** Random bytes from the repo's seeded PRNG. */
function randomBytes(n: number, rand: () => number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** `@node-rs/crc32`'s own crc32c (every length), where it loads here. */
function loadNative(): Crc32cFunction | undefined {
  try {
    return (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: Crc32cFunction }).crc32c;
  } catch {
    return undefined;
  }
}
const native = loadNative();

const IMPLEMENTATIONS: Array<[string, Crc32cFunction]> = [
  ['in use', crc32c],
  ['js', crc32cJs],
  ...(native ? [['native', native] as [string, Crc32cFunction]] : []),
];

/** Platforms @node-rs/crc32 ships a prebuilt binary for, among those the agent supports. */
const PREBUILT = ['linux-x64', 'linux-arm64', 'win32-x64'];

describe.each(IMPLEMENTATIONS)('crc32c (%s)', (_name, crc) => {
  it('matches the published check values', () => {
    expect(crc(Buffer.from('123456789', 'ascii'))).toBe(0xe3069283);
    expect(crc(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    // RFC 3720 B.4: 32 bytes of 0x00..0x1f.
    expect(crc(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(crc(new Uint8Array(0))).toBe(0);
  });

  it('agrees with the bitwise reference for every length, alignment and both code paths', () => {
    const data = pseudoRandomBytes(700, 42);
    for (let start = 0; start < 8; start++) {
      for (let len = 0; len + start <= 300; len += 7) {
        const view = data.subarray(start, start + len);
        expect(crc(view)).toBe(reference(view));
      }
    }
  });

  it('continues a checksum across buffers through the seed', () => {
    const data = pseudoRandomBytes(100_000, 7);
    const whole = crc(data);
    expect(whole).toBe(reference(data));
    for (const cut of [0, 1, 3, 64, 65_537, 99_999, 100_000]) {
      expect(crc(data.subarray(cut), crc(data.subarray(0, cut)))).toBe(whole);
    }
  });
});

describe('crc32c implementations', () => {
  it('uses the native implementation where a prebuilt binary exists', () => {
    const expected = PREBUILT.includes(`${process.platform}-${process.arch}`) ? 'native' : 'js';
    expect(crc32cImplementation()).toBe(expected);
    expect(native !== undefined).toBe(expected === 'native');
  });

  it.each(IMPLEMENTATIONS)('%s: gives the published check values', (_name, fn) => {
    expect(fn(Buffer.from('123456789', 'ascii'))).toBe(0xe3069283);
    expect(fn(Buffer.from('123456789', 'ascii'), 0)).toBe(0xe3069283);
    expect(fn(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(fn(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(fn(new Uint8Array(0))).toBe(0);
    expect(fn(new Uint8Array(0), 0xe3069283)).toBe(0xe3069283);
  });

  it.skipIf(!native)('native and JS agree on random buffers of many lengths and offsets', () => {
    const nativeCrc = native!;
    const rand = seededRandom(20261203);
    const data = randomBytes(3 * 65_536 + 64, rand);
    const lengths = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 127, 137, 255, 256, 1023, 4096, 65_535, 65_536, 3 * 65_536];
    for (let k = 0; k < 200; k++) lengths.push(Math.floor(rand() * 10_000));
    for (const len of lengths) {
      for (const start of [0, 1, 2, 3, 5, 8, 13, 63]) {
        const view = data.subarray(start, start + len);
        const seed = Math.floor(rand() * 0x1_0000_0000);
        const js = crc32cJs(view, seed);
        expect(nativeCrc(view, seed)).toBe(js);
        expect(crc32c(view, seed)).toBe(js);
        expect(nativeCrc(view)).toBe(crc32cJs(view));
      }
    }
    // A view at an offset into a plain ArrayBuffer (not a Buffer pool slab).
    const ab = new ArrayBuffer(1000);
    const bytes = new Uint8Array(ab, 3, 500);
    bytes.set(data.subarray(0, 500));
    expect(nativeCrc(bytes)).toBe(crc32cJs(data.subarray(0, 500)));
  });

  it.each(IMPLEMENTATIONS)('%s: incremental updates over several buffers equal the one-shot result', (_name, fn) => {
    const rand = seededRandom(8);
    const data = randomBytes(200_000, rand);
    const whole = fn(data);
    expect(whole).toBe(crc32cJs(data));
    for (let trial = 0; trial < 50; trial++) {
      const cuts = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => Math.floor(rand() * data.length)).sort((a, b) => a - b);
      let crc = 0;
      let from = 0;
      for (const cut of [...cuts, data.length]) {
        crc = fn(data.subarray(from, cut), crc);
        from = cut;
      }
      expect(crc).toBe(whole);
    }
  });
});

describe('pickCrc32c', () => {
  it('takes a module whose crc32c passes the self-check, for buffers of NATIVE_MIN_BYTES or more', () => {
    const lengths: number[] = [];
    const picked = pickCrc32c(() => ({
      crc32c: (buf: Uint8Array, seed?: number) => {
        lengths.push(buf.length);
        return crc32cJs(buf, seed);
      },
    }));
    expect(picked.implementation).toBe('native');
    lengths.length = 0;
    const data = Buffer.alloc(NATIVE_MIN_BYTES, 7);
    expect(picked.fn(data.subarray(1), 5)).toBe(crc32cJs(data.subarray(1), 5));
    expect(lengths).toEqual([]);
    expect(picked.fn(data, 5)).toBe(crc32cJs(data, 5));
    expect(lengths).toEqual([NATIVE_MIN_BYTES]);
  });

  it('falls back to JS when the native module cannot be loaded, has no crc32c or computes something else', () => {
    const loaders: Array<() => unknown> = [
      () => {
        throw new Error('Cannot find native binding');
      },
      () => undefined,
      () => ({}),
      () => ({ crc32c: 'not a function' }),
      () => ({ crc32c: () => 0 }),
      () => ({
        crc32c: () => {
          throw new TypeError('bad input');
        },
      }),
      // Right in one call, wrong when continued from a seed.
      () => ({ crc32c: (buf: Uint8Array) => crc32cJs(buf) }),
    ];
    for (const load of loaders) {
      const picked = pickCrc32c(load);
      expect(picked.implementation).toBe('js');
      expect(picked.fn).toBe(crc32cJs);
    }
  });
});
