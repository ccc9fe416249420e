import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { SYSLOG, customTextLogTable, type ColumnType } from '@oma/core';
import { WorkspaceStore, type StoredColumn } from './workspace-store.js';

const dirs: string[] = [];
const stores: WorkspaceStore[] = [];

function open(opts: { dir?: string; retentionRows?: number; maxDbBytes?: number } = {}): { store: WorkspaceStore; dir: string } {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'oma-store-'));
  if (!opts.dir) dirs.push(dir);
  const store = WorkspaceStore.open({ file: join(dir, 'workspace.db'), ...opts });
  stores.push(store);
  return { store, dir };
}

afterEach(() => {
  stores.splice(0).forEach((s) => s.close());
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** The `code` of the error `fn` throws, or undefined when it does not throw. */
function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

const ALL_TYPES: StoredColumn[] = (['string', 'int', 'long', 'real', 'boolean', 'datetime', 'dynamic'] as ColumnType[]).map((type) => ({
  name: `C_${type}`,
  type,
}));

describe('WorkspaceStore', () => {
  it('round-trips every column type', () => {
    const { store } = open();
    const n = store.insert(
      'Types_CL',
      ALL_TYPES,
      [
        {
          TimeGenerated: '2025-01-01T00:00:00Z',
          C_string: 'text',
          C_int: '42',
          C_long: '9007199254740993',
          C_real: 2.5,
          C_boolean: 'true',
          C_datetime: '2025-01-02T03:04:05.678+01:00',
          C_dynamic: { a: [1, 'two', null] },
        },
        { TimeGenerated: '2025-01-01T00:00:01', C_boolean: false, C_real: '1e3', C_int: -7 },
      ],
      Date.UTC(2025, 5, 1),
    );
    expect(n).toBe(2);
    const { rows, columns } = store.query({ table: 'Types_CL', order: 'asc' });
    expect(columns.map((c) => c.name)).toEqual(['TimeGenerated', ...ALL_TYPES.map((c) => c.name), '_TimeReceived']);
    expect(rows[0]).toEqual({
      TimeGenerated: '2025-01-01T00:00:00.000Z',
      C_string: 'text',
      C_int: 42,
      C_long: '9007199254740993',
      C_real: 2.5,
      C_boolean: true,
      C_datetime: '2025-01-02T02:04:05.678Z',
      C_dynamic: { a: [1, 'two', null] },
      _TimeReceived: '2025-06-01T00:00:00.000Z',
    });
    // A zone-less ISO time is UTC, not local time.
    expect(rows[1]).toMatchObject({ TimeGenerated: '2025-01-01T00:00:01.000Z', C_boolean: false, C_real: 1000, C_int: -7, C_string: null });
  });

  it('filters with typed where values and since', () => {
    const { store } = open();
    store.insert('Types_CL', ALL_TYPES, [
      { TimeGenerated: '2025-01-01T00:00:00Z', C_int: 1, C_boolean: true, C_real: 0.5, C_datetime: '2025-01-01T00:00:00Z' },
      { TimeGenerated: '2025-01-01T00:01:00Z', C_int: 2, C_boolean: false, C_real: 1.5 },
    ], 0);
    expect(store.count('Types_CL', { C_int: '2' })).toBe(1);
    expect(store.count('Types_CL', { C_boolean: 'true' })).toBe(1);
    expect(store.count('Types_CL', { C_real: '1.5' })).toBe(1);
    expect(store.count('Types_CL', { C_datetime: '2025-01-01T00:00:00.000Z' })).toBe(1);
    expect(store.query({ table: 'Types_CL', sinceMs: Date.UTC(2025, 0, 1, 0, 0, 30) }).rows).toHaveLength(1);
    expect(codeOf(() => store.count('Types_CL', { C_int: 'x' }))).toBe('invalid_query');
    expect(codeOf(() => store.count('Types_CL', { c_int: '1' }))).toBe('invalid_query');
    expect(codeOf(() => store.query({ table: 'Types_CL', where: { '"C_int" OR 1=1 --': '1' } }))).toBe('invalid_query');
  });

  it('validates identifiers before they reach SQL', () => {
    const { store } = open();
    expect(codeOf(() => store.query({ table: 'Syslog; DROP TABLE x' }))).toBe('invalid_query');
    expect(codeOf(() => store.insert('sqlite_master', SYSLOG.columns, [], 0))).toBe('invalid_query');
    expect(codeOf(() => store.insert('Bad_CL', [{ name: 'a"b', type: 'string' }], [], 0))).toBe('schema_conflict');
    expect(codeOf(() => store.query({ table: 'Missing' }))).toBe('unknown_table');
    expect(store.count('Missing')).toBe(0);
  });

  it('rejects a value that does not fit and stores nothing of the batch', () => {
    const { store } = open();
    const insert = (): number => store.insert('Syslog', SYSLOG.columns, [{ ProcessID: 1 }, { ProcessID: 'NaN-ish' }], 0);
    expect(codeOf(insert)).toBe('invalid_value');
    expect(insert).toThrow(/record 1/);
    expect(store.count('Syslog')).toBe(0);
  });

  it('adds columns declared later and refuses conflicting types', () => {
    const { store } = open();
    store.insert('Mixed_CL', [{ name: 'A', type: 'string' }], [{ A: 'x' }], 0);
    store.insert('Mixed_CL', [{ name: 'B', type: 'int' }], [{ B: 3 }], 0);
    expect(store.columns('Mixed_CL')?.map((c) => c.name)).toEqual(['TimeGenerated', 'A', 'B']);
    expect(store.conflict('Mixed_CL', [{ name: 'B', type: 'string' }])).toContain('conflicts');
    expect(store.conflict('mixed_cl', [])).toContain('case');
    expect(codeOf(() => store.insert('Mixed_CL', [{ name: 'b', type: 'int' }], [], 0))).toBe('schema_conflict');
  });

  it('keeps tables and column types across reopen', () => {
    const { store, dir } = open();
    store.insert('App_CL', customTextLogTable('App_CL').columns, [{ RawData: 'one', TimeGenerated: '2025-01-01T00:00:00Z' }], 0);
    store.close();
    const again = open({ dir }).store;
    expect(again.tables()).toEqual([{ name: 'App_CL', rowCount: 1 }]);
    expect(again.query({ table: 'App_CL' }).rows[0]).toMatchObject({ RawData: 'one', TimeGenerated: '2025-01-01T00:00:00.000Z' });
  });

  it('prunes the oldest rows per table beyond retentionRows', () => {
    const { store } = open({ retentionRows: 3 });
    for (let i = 0; i < 5; i++) store.insert('R_CL', [{ name: 'N', type: 'int' }], [{ N: i }], 0);
    expect(store.count('R_CL')).toBe(3);
    expect(store.query({ table: 'R_CL', order: 'asc' }).rows.map((r) => r.N)).toEqual([2, 3, 4]);
  });

  it('prunes the oldest rows of the largest table to stay under maxDbBytes', () => {
    const maxDbBytes = 256 * 1024;
    const { store } = open({ maxDbBytes });
    const big = 'z'.repeat(2000);
    for (let batch = 0; batch < 40; batch++) {
      store.insert('Big_CL', [{ name: 'RawData', type: 'string' }, { name: 'N', type: 'int' }], Array.from({ length: 20 }, (_, i) => ({ RawData: big, N: batch * 20 + i })), 0);
    }
    expect(store.usedBytes()).toBeLessThanOrEqual(maxDbBytes);
    const kept = store.count('Big_CL');
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(800);
    // The newest rows survive.
    expect(store.query({ table: 'Big_CL', limit: 1, order: 'desc' }).rows[0]?.N).toBe(799);
  });
});
