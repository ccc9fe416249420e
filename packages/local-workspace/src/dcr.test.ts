import { describe, expect, it } from 'vitest';
import { STANDARD_TABLES } from '@oma/core';
import { checkDcrs, defaultDcr, resolveStream } from './dcr.js';

describe('defaultDcr', () => {
  it('declares a Custom-<Table> stream per standard table plus given custom tables', () => {
    const dcr = defaultDcr(['App_CL', 'Syslog']);
    expect(Object.keys(dcr.streams).sort()).toEqual([...STANDARD_TABLES.map((t) => `Custom-${t.name}`), 'Custom-App_CL'].sort());
    expect(dcr.streams['Custom-App_CL']?.columns.map((c) => c.name)).toEqual(['TimeGenerated', 'RawData', 'FilePath', 'Computer']);
    expect(() => defaultDcr(['NotCustom'])).toThrow(/neither a standard table nor a custom/);
    expect(checkDcrs([dcr])).toEqual([]);
  });

  it('accepts undeclared custom streams only when lenient', () => {
    const dcr = defaultDcr();
    expect(resolveStream(dcr, 'Custom-New_CL')?.table).toBe('New_CL');
    expect(resolveStream(dcr, 'Custom-New')).toBeUndefined();
    expect(resolveStream(dcr, 'Microsoft-Syslog')).toBeUndefined();
    expect(resolveStream(dcr, 'toString')).toBeUndefined();
    expect(resolveStream({ ...dcr, acceptUndeclaredCustomStreams: false }, 'Custom-New_CL')).toBeUndefined();
  });
});

describe('checkDcrs', () => {
  it('reports bad ids, stream and column names, types and conflicts', () => {
    const issues = checkDcrs([
      {
        immutableId: 'dcr-1',
        streams: {
          'Bad Stream': { table: 'T_CL', columns: [{ name: 'A', type: 'string' }] },
          'Custom-X': { table: 'T_CL', columns: [{ name: 'A', type: 'int' }, { name: '1x', type: 'string' }, { name: 'B', type: 'blob' as never }] },
          'Custom-Y': { table: 't_cl', columns: [{ name: 'TimeGenerated', type: 'string' }] },
        },
      },
      { immutableId: 'dcr-1', streams: {} },
    ]);
    const messages = issues.map((i) => `${i.path}: ${i.message}`).join('\n');
    expect(messages).toMatch(/Bad Stream: stream name/);
    expect(messages).toMatch(/columns\[0\]: column A int conflicts/);
    expect(messages).toMatch(/columns\[1\]: column name/);
    expect(messages).toMatch(/columns\[2\]: column type/);
    expect(messages).toMatch(/differs only in case/);
    expect(messages).toMatch(/TimeGenerated must be declared/);
    expect(messages).toMatch(/dcrs\[1\].immutableId: duplicate id/);
  });
});
