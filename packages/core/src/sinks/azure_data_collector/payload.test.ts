import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../model/record.js';
import { encodeJsonRecords } from '../../wire/format.js';
import { buildDataCollectorBody, dataCollectorFormat, encodeDataCollectorRecord, propertyNameFor } from './payload.js';

const R = { TimeGenerated: 'Timestamp', RawData: 'Message', tenant: 'TenantName' };
const FORMAT = dataCollectorFormat(R, 32_768);

function sent(record: LogRecord, maxField = 32_768): Record<string, unknown> {
  const enc = encodeDataCollectorRecord(record, R, maxField);
  if (enc.kind !== 'ok') throw enc.error;
  expect(enc.bytes).toBe(Buffer.byteLength(enc.json));
  return JSON.parse(enc.json) as Record<string, unknown>;
}

describe('data collector records', () => {
  it('renames the reserved properties, in any case', () => {
    expect(sent({ TimeGenerated: '2026-01-01T00:00:00.000Z', RawData: 'line', tenant: 't1', Computer: 'h' })).toEqual({
      Timestamp: '2026-01-01T00:00:00.000Z',
      Message: 'line',
      TenantName: 't1',
      Computer: 'h',
    });
    expect(sent({ timegenerated: 'x', RAWDATA: 'y', Tenant: 'z' })).toEqual({ Timestamp: 'x', Message: 'y', TenantName: 'z' });
  });

  it('keeps TimeGenerated on the header property and moves a clashing record property aside', () => {
    expect(sent({ Timestamp: 'own', TimeGenerated: 'tg', Message: 'm', RawData: 'raw', Message2: 'taken' })).toEqual({
      Timestamp: 'tg',
      Message: 'raw',
      Timestamp2: 'own',
      Message3: 'm',
      Message2: 'taken',
    });
  });

  it('cleans property names', () => {
    expect(propertyNameFor('http.status code', R)).toBe('http_status_code');
    expect(propertyNameFor('', R)).toBe('_');
    expect(sent({ 'a.b': 1, a_b: 2 })).toEqual({ a_b: 1, a_b2: 2 });
  });

  it('sends dynamic values as JSON text and leaves nulls out', () => {
    expect(sent({ Obj: { a: [1, 2] }, Arr: ['x'], Nil: null, Undef: undefined, N: 1.5, B: false })).toEqual({
      Obj: '{"a":[1,2]}',
      Arr: '["x"]',
      N: 1.5,
      B: false,
    });
  });

  it('cuts string fields over the limit on a UTF-8 boundary and counts them', () => {
    const enc = encodeDataCollectorRecord({ A: 'é'.repeat(10), B: 'short', C: { long: 'x'.repeat(50) } }, R, 9);
    expect(enc).toMatchObject({ kind: 'ok', truncatedFields: 2 });
    const out = JSON.parse((enc as { json: string }).json) as Record<string, string>;
    expect(out.A).toBe('éééé');
    expect(out.B).toBe('short');
    expect(Buffer.byteLength(out.C!)).toBeLessThanOrEqual(9);
    const big = sent({ RawData: '🚀'.repeat(10_000) });
    expect(Buffer.byteLength(big.Message as string)).toBe(32_768);
  });

  it('reports a record that cannot be serialized', () => {
    expect(encodeDataCollectorRecord({ A: 10n } as unknown as LogRecord, R, 100)).toMatchObject({ kind: 'invalid' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(encodeDataCollectorRecord({ C: cyclic }, R, 100)).toMatchObject({ kind: 'invalid' });
  });

  it('queues records in its own form, and encodes canonical JSON again', () => {
    const out = FORMAT.encodeRecords('T', [{ TimeGenerated: '2026-01-01T00:00:00.000Z', RawData: 'x', N: null }]);
    expect(out.batch.data.toString()).toBe('{"Timestamp":"2026-01-01T00:00:00.000Z","Message":"x"}');
    const again = FORMAT.fromJson(encodeJsonRecords('T', [{ RawData: 'y' }, { tenant: 't' }]).batch);
    expect(again.batch.data.toString()).toBe('{"Message":"y"},{"TenantName":"t"}');
    expect(again.batch.count).toBe(2);
    const bad = { table: 'T', count: 1, data: Buffer.from('{x'), ends: new Uint32Array([2]) };
    expect(FORMAT.fromJson(bad)).toMatchObject({ invalid: 1, batch: { count: 0 } });
  });

  it('builds a UTF-8 JSON array body', () => {
    const body = buildDataCollectorBody([FORMAT.encodeRecords('T', [{ a: 'é' }]).batch, FORMAT.encodeRecords('T', [{ b: 1 }]).batch]);
    expect(body.toString('utf8')).toBe('[{"a":"é"},{"b":1}]');
    expect(body.length).toBe(20);
    expect(buildDataCollectorBody([]).toString()).toBe('[]');
  });
});
