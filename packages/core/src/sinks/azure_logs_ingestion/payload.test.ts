import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { arrayJsonBytes } from '../shared/batcher.js';
import { truncateUtf8 } from '../shared/utf8.js';
import { buildBody, encodeRecord, MAX_FIELD_BYTES, truncateLongFields } from './payload.js';

describe('truncateUtf8', () => {
  it('returns short strings unchanged', () => {
    const s = 'héllo';
    expect(truncateUtf8(s, 100)).toBe(s);
  });

  it('cuts on a character boundary', () => {
    expect(truncateUtf8('aé', 2)).toBe('a'); // é is 2 bytes: it would not fit whole
    expect(truncateUtf8('aé', 3)).toBe('aé');
    expect(truncateUtf8('a😀b', 4)).toBe('a'); // the emoji is 4 bytes
    expect(truncateUtf8('a😀b', 5)).toBe('a😀');
    expect(truncateUtf8('€€€', 7)).toBe('€€'); // 3 bytes each
  });

  it('produces at most maxBytes of valid UTF-8', () => {
    const s = 'ab€😀é'.repeat(20_000);
    for (const max of [MAX_FIELD_BYTES, MAX_FIELD_BYTES - 1, MAX_FIELD_BYTES - 2, MAX_FIELD_BYTES - 3]) {
      const t = truncateUtf8(s, max);
      const bytes = Buffer.byteLength(t, 'utf8');
      expect(bytes).toBeLessThanOrEqual(max);
      expect(bytes).toBeGreaterThan(max - 4);
      expect(t).not.toContain('\ufffd');
      expect(s.startsWith(t)).toBe(true);
    }
  });
});

describe('truncateLongFields', () => {
  it('cuts only top-level strings over the limit', () => {
    const nested = { deep: 'x'.repeat(70_000) };
    const { record, changed } = truncateLongFields({ a: 'x'.repeat(70_000), b: 'short', c: 5, d: nested });
    expect(changed).toBe(1);
    expect((record.a as string).length).toBe(MAX_FIELD_BYTES);
    expect(record.b).toBe('short');
    expect(record.c).toBe(5);
    expect(record.d).toBe(nested);
  });
});

describe('encodeRecord', () => {
  it('serializes records that fit as they are', () => {
    const enc = encodeRecord({ Message: 'hé' }, 1000);
    expect(enc).toEqual({ kind: 'ok', json: '{"Message":"hé"}', bytes: 17, truncated: false, tooLarge: false });
  });

  it('truncates long fields of a record too large for one request', () => {
    const enc = encodeRecord({ Message: 'é'.repeat(600_000), Computer: 'h' }, 1_000_000);
    expect(enc.kind).toBe('ok');
    if (enc.kind !== 'ok') return;
    expect(enc.truncated).toBe(true);
    expect(enc.tooLarge).toBe(false);
    const back = JSON.parse(enc.json) as { Message: string; Computer: string };
    expect(Buffer.byteLength(back.Message)).toBe(MAX_FIELD_BYTES);
    expect(back.Computer).toBe('h');
    expect(enc.bytes).toBe(Buffer.byteLength(enc.json));
  });

  it('flags a record that still does not fit', () => {
    const rec: Record<string, string> = {};
    for (let i = 0; i < 20; i++) rec[`F${i}`] = 'x'.repeat(60_000);
    const enc = encodeRecord(rec, 1_000_000);
    expect(enc).toMatchObject({ kind: 'ok', truncated: false, tooLarge: true });
  });

  it('reports records that cannot be serialized', () => {
    expect(encodeRecord({ n: 1n } as never, 1000).kind).toBe('invalid');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(encodeRecord(cyclic as never, 1000).kind).toBe('invalid');
  });
});

describe('request bodies', () => {
  it('measures the exact JSON array', async () => {
    const jsons = ['{"a":1}', '{"b":"é"}', '{}'];
    const raw = await buildBody(jsons, 'none');
    expect(raw.toString()).toBe('[{"a":1},{"b":"é"},{}]');
    expect(raw.length).toBe(arrayJsonBytes(jsons.reduce((n, j) => n + Buffer.byteLength(j), 0), jsons.length));
    expect(arrayJsonBytes(0, 0)).toBe(2);
  });

  it('gzips the array', async () => {
    const body = await buildBody(['{"a":1}'], 'gzip');
    expect(gunzipSync(body).toString()).toBe('[{"a":1}]');
  });
});
