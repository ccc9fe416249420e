import { describe, expect, it } from 'vitest';
import { truncateUtf8 } from '@oma/core';
import { canonicalGuid, columnBaseName, isStorableColumn, isoDatetimeMs, suffixColumn } from './suffix-columns.js';

describe('Data Collector column typing', () => {
  it('suffixes columns by the JSON type of the value', () => {
    expect(suffixColumn('S', 'text')).toEqual({ column: 'S_s', type: 'string', value: 'text' });
    expect(suffixColumn('N', 42)).toEqual({ column: 'N_d', type: 'real', value: 42 });
    expect(suffixColumn('B', false)).toEqual({ column: 'B_b', type: 'boolean', value: false });
    expect(suffixColumn('T', '2026-01-02T03:04:05Z')).toEqual({ column: 'T_t', type: 'datetime', value: '2026-01-02T03:04:05.000Z' });
    expect(suffixColumn('T', '2026-01-02T03:04:05.1234567+01:00')).toMatchObject({ column: 'T_t', value: '2026-01-02T02:04:05.123Z' });
    expect(suffixColumn('G', '{0B8C4F5E-1234-4ABC-9DEF-0123456789AB}')).toEqual({ column: 'G_g', type: 'string', value: '0b8c4f5e-1234-4abc-9def-0123456789ab' });
    expect(suffixColumn('Z', null)).toBeUndefined();
    expect(() => suffixColumn('O', { a: 1 })).toThrow(/not a string, number or boolean/);
    expect(() => suffixColumn('A', [1])).toThrow(/an array/);
  });

  it('recognizes GUIDs and ISO date-times only', () => {
    expect(canonicalGuid('0b8c4f5e12344abc9def0123456789ab')).toBe('0b8c4f5e-1234-4abc-9def-0123456789ab');
    expect(canonicalGuid('0b8c4f5e-1234-4abc-9def-0123456789a')).toBeUndefined();
    expect(isoDatetimeMs('2026-01-01')).toBeUndefined();
    expect(isoDatetimeMs('Jan 1 2026')).toBeUndefined();
    expect(isoDatetimeMs('2026-01-01T00:00')).toBe(Date.UTC(2026, 0, 1));
    expect(suffixColumn('D', '2026-01-01')).toMatchObject({ column: 'D_s' });
  });

  it('cuts strings at 32 KB on a UTF-8 boundary', () => {
    const v = suffixColumn('L', '€'.repeat(20_000))!.value as string;
    expect(Buffer.byteLength(v)).toBe(32_766);
    expect(truncateUtf8('abc', 2)).toBe('ab');
  });

  it('knows which names can be columns', () => {
    expect(isStorableColumn('A_s')).toBe(true);
    expect(isStorableColumn(`${'x'.repeat(44)}_s`)).toBe(false);
    expect(isStorableColumn('_x_s')).toBe(false);
  });

  it('removes the characters a column name cannot hold from property names', () => {
    expect(columnBaseName('@timestamp')).toBe('timestamp');
    expect(columnBaseName('kubernetes.pod-name')).toBe('kubernetespodname');
    expect(columnBaseName('_1x')).toBe('x');
    expect(columnBaseName('@1')).toBe('');
    expect(suffixColumn('@timestamp', '2026-01-02T03:04:05Z')).toMatchObject({ column: 'timestamp_t', type: 'datetime' });
  });
});
