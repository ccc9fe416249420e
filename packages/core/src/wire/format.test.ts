import { describe, expect, it, vi } from 'vitest';
import type { LogRecord } from '../model/record.js';
import { seededRandom } from '../testing/prng.js';
import { BufferPool } from './buffer-pool.js';
import { EncodedBatchBuilder, recordTexts, sliceBatch } from './encoded-batch.js';
import { decodeFrame, encodeFrame } from './frame.js';
import { decodeJsonRecords, encodeJsonRecords, jsonFormat, limitJsonFields, MAX_FIELD_BYTES } from './format.js';

describe('canonical JSON encoding', () => {
  it('writes each record as JSON.stringify does, joined by commas, with their ends', () => {
    const records: LogRecord[] = [{ a: 1 }, { RawData: 'tab\there "quoted" back\\slash \u0000\u001f é 😀' }, { n: null, o: { x: [1] } }];
    const out = encodeJsonRecords('T', records);
    expect(out).toMatchObject({ invalid: 0, truncated: 0 });
    expect(out.batch.data.toString()).toBe(records.map((r) => JSON.stringify(r)).join(','));
    expect(recordTexts(out.batch)).toEqual(records.map((r) => JSON.stringify(r)));
    expect(decodeJsonRecords(out.batch)).toEqual(records);
    // Control characters are escaped: the text is valid JSON with no raw control bytes.
    expect([...out.batch.data].some((b) => b < 0x20)).toBe(false);
  });

  it('cuts string fields over 64 KiB on a UTF-8 boundary and counts the records cut', () => {
    const records: LogRecord[] = [
      { Seq: 1, RawData: 'é'.repeat(40_000), Computer: 'h' }, // 80,000 bytes: cut
      { Seq: 2, RawData: `a${'😀'.repeat(20_000)}` }, // 80,001 bytes: cut, never inside the emoji
      { Seq: 3, RawData: 'x'.repeat(MAX_FIELD_BYTES) }, // exactly the limit: kept
    ];
    const out = encodeJsonRecords('T', records);
    expect(out.truncated).toBe(2);
    const back = decodeJsonRecords(out.batch);
    expect(back[0]).toEqual({ Seq: 1, RawData: 'é'.repeat(32_768), Computer: 'h' });
    const cut = back[1]!.RawData as string;
    expect(Buffer.byteLength(cut)).toBe(1 + 4 * 16_383);
    expect(cut).not.toContain('\ufffd');
    expect(back[2]!.RawData).toBe(records[2]!.RawData);
  });

  it('leaves out records that cannot be serialized, and says why', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const out = encodeJsonRecords('T', [{ a: 1 }, { b: 2n } as never, cyclic as never, { c: 3 }]);
    expect(out.invalid).toBe(2);
    expect(out.invalidError).toBeInstanceOf(TypeError);
    expect(decodeJsonRecords(out.batch)).toEqual([{ a: 1 }, { c: 3 }]);
  });

  it('passes a source-encoded batch through untouched unless a record may hold a long field', () => {
    const short = encodeJsonRecords('T', [{ a: 'x' }, { b: 'y' }]).batch;
    expect(jsonFormat.fromJson(short).batch).toBe(short);
    const b = new EncodedBatchBuilder('T');
    for (const text of ['{"a":1}', `{"RawData":"${'é'.repeat(40_000)}"}`, '{"c":3}']) {
      b.beginRecord();
      b.text(text);
      b.endRecord();
    }
    const out = limitJsonFields(b.finish());
    expect(out.truncated).toBe(1);
    expect(decodeJsonRecords(out.batch).map((r) => Buffer.byteLength(JSON.stringify(r)))).toEqual([7, 14 + MAX_FIELD_BYTES, 7]);
  });

  it('slices batches between records without copying', () => {
    const batch = encodeJsonRecords('T', [{ a: 1 }, { b: 22 }, { c: 333 }, { d: 4444 }]).batch;
    const mid = sliceBatch(batch, 1, 3);
    expect(mid.data.toString()).toBe('{"b":22},{"c":333}');
    expect([...mid.ends]).toEqual([8, 18]);
    expect(mid.data.buffer).toBe(batch.data.buffer);
    expect(sliceBatch(batch, 0, 4)).toBe(batch);
  });
});

describe('queue frames', () => {
  it('round-trip a batch: table, count, records and their ends', () => {
    const batch = encodeJsonRecords('Tâble_CL', [{ a: 1 }, { RawData: 'é' }]).batch;
    const f = decodeFrame(encodeFrame(7, batch));
    expect(f.format).toBe(7);
    expect(f.batch.table).toBe('Tâble_CL');
    expect(f.batch.count).toBe(2);
    expect(f.batch.data.equals(batch.data)).toBe(true);
    expect([...f.batch.ends]).toEqual([...batch.ends]);
    const empty = decodeFrame(encodeFrame(1, encodeJsonRecords('T', []).batch));
    expect(empty.batch.count).toBe(0);
    // Read in place when aligned, copied when not: the same either way.
    const framed = encodeFrame(1, batch);
    const shifted = Buffer.alloc(framed.length + 1).subarray(1);
    framed.copy(shifted);
    expect([...decodeFrame(shifted).batch.ends]).toEqual([...batch.ends]);
    expect(decodeFrame(framed).batch.ends.buffer).toBe(framed.buffer);
  });

  it('can be laid out in place around a batch being built, with no copy of its data', () => {
    for (const table of ['T', 'Table_CL', 'Tâble_Ünïcode_CL']) {
      const b = new EncodedBatchBuilder(table, 1024, 4, undefined, { maxRecords: 10 });
      const records = [{ a: 1 }, { RawData: 'é"\\' }, { c: [1, 2] }];
      for (const r of records) {
        b.beginRecord();
        b.text(JSON.stringify(r));
        b.endRecord();
      }
      const batch = b.finishFrame(1);
      expect(batch.frame!.bytes.buffer).toBe(batch.data.buffer);
      expect(batch.frame!.bytes.equals(encodeFrame(1, batch))).toBe(true);
      const back = decodeFrame(batch.frame!.bytes);
      expect(back.format).toBe(1);
      expect(decodeJsonRecords(back.batch)).toEqual(records);
    }
    // More records than room was kept for: no frame, the batch as it is.
    const small = new EncodedBatchBuilder('T', 1024, 4, undefined, { maxRecords: 1 });
    for (let i = 0; i < 2; i++) {
      small.beginRecord();
      small.text('{}');
      small.endRecord();
    }
    expect(small.finishFrame(1).frame).toBeUndefined();
  });

  it('refuse damaged frames with a reason instead of returning garbage', () => {
    const good = encodeFrame(1, encodeJsonRecords('T', [{ a: 1 }, { b: 2 }]).batch);
    const damaged = (f: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(good);
      f(b);
      return b;
    };
    expect(() => decodeFrame(Buffer.from('{"t":"T","r":[]}'))).toThrow(/not a frame/);
    expect(() => decodeFrame(damaged((b) => (b[1] = 9)))).toThrow(/version/);
    expect(() => decodeFrame(good.subarray(0, good.length - 1))).toThrow(/length/);
    expect(() => decodeFrame(damaged((b) => b.writeUInt32LE(3, 4)))).toThrow(/length/);
    // Offsets start at 16 for table "T" (14 + 1, padded to 4).
    expect(() => decodeFrame(damaged((b) => b.writeUInt32LE(1, 16)))).toThrow(/offsets/);
    expect(() => decodeFrame(damaged((b) => b.writeUInt32LE(999, 20)))).toThrow(/offsets/);
  });

  it('decode every random batch they encoded (property)', () => {
    const random = seededRandom(42);
    for (let round = 0; round < 200; round++) {
      const n = Math.floor(random() * 20);
      const records: LogRecord[] = [];
      for (let i = 0; i < n; i++) {
        let s = '';
        const len = Math.floor(random() * 40);
        for (let j = 0; j < len; j++) s += String.fromCharCode(Math.floor(random() * 0x2fff));
        records.push({ i, s });
      }
      const batch = encodeJsonRecords('T', records).batch;
      const back = decodeFrame(encodeFrame(1, batch)).batch;
      expect(decodeJsonRecords(back)).toEqual(decodeJsonRecords(batch));
    }
  });
});

describe('BufferPool', () => {
  it('reuses the memory it was given, never small or shared buffers, and drops it when unused', async () => {
    vi.useFakeTimers();
    try {
      const pool = new BufferPool(2);
      const a = pool.take(100_000);
      expect(a.length).toBe(100_000);
      pool.give(a);
      const b = pool.take(90_000);
      expect(b.buffer).toBe(a.buffer); // the same memory
      expect(b.length).toBe(90_000);
      pool.give(Buffer.allocUnsafe(100)); // Node's shared pool: never taken
      pool.give(Buffer.alloc(200_000).subarray(10)); // memory of its own: fine
      expect(pool.size).toBe(1);
      pool.give(b);
      expect(pool.size).toBe(2);
      pool.give(Buffer.alloc(100_000));
      expect(pool.size).toBe(2); // at most `max`
      pool.give(pool.take(1000)); // used: not trimmed at the first interval
      await vi.advanceTimersByTimeAsync(5000);
      expect(pool.size).toBe(2);
      await vi.advanceTimersByTimeAsync(5000);
      expect(pool.size).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
