import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { arrayJsonBytes } from '../shared/batcher.js';
import { truncateUtf8 } from '../shared/utf8.js';
import { MAX_FIELD_BYTES, encodeJsonRecords } from '../../wire/format.js';
import { buildBody, shrinkRecord } from './payload.js';

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

describe('request bodies', () => {
  const pieces = [encodeJsonRecords('T', [{ a: 1 }, { b: 'é' }]).batch, encodeJsonRecords('T', [{}]).batch];

  it('measures the exact JSON array', async () => {
    const raw = await buildBody(pieces, 'none');
    expect(raw.toString()).toBe('[{"a":1},{"b":"é"},{}]');
    expect(raw.length).toBe(arrayJsonBytes(pieces.reduce((n, p) => n + p.data.length, 0), pieces.length));
    expect(arrayJsonBytes(0, 0)).toBe(2);
  });

  it('gzips the array, streaming the pieces through one deflate stream', async () => {
    for (const level of [1, 6]) {
      const body = await buildBody(pieces, 'gzip', level);
      expect(gunzipSync(body).toString()).toBe('[{"a":1},{"b":"é"},{}]');
    }
    expect(gunzipSync(await buildBody([], 'gzip')).toString()).toBe('[]');
  });
});

describe('shrinkRecord', () => {
  it('cuts the long fields of a record that came in uncut, and says when nothing can be cut', () => {
    const long = `{"Message":"${'é'.repeat(600_000)}","Computer":"h"}`;
    const record = { table: 'T', count: 1, data: Buffer.from(long), ends: new Uint32Array([Buffer.byteLength(long)]) };
    const shrunk = shrinkRecord(record)!;
    const back = JSON.parse(shrunk.data.toString()) as { Message: string; Computer: string };
    expect(Buffer.byteLength(back.Message)).toBe(MAX_FIELD_BYTES);
    expect(back.Computer).toBe('h');
    expect(shrunk.ends[0]).toBe(shrunk.data.length);
    expect(shrinkRecord(encodeJsonRecords('T', [{ a: 'short' }]).batch)).toBeUndefined();
  });
});
