import { describe, expect, it } from 'vitest';
import { HEARTBEAT, STANDARD_TABLES, tableRoute } from '@oma/core';
import { checkDcrs, defaultDcr, resolveStream } from './dcr.js';

describe('defaultDcr', () => {
  it('declares a Custom-<Table> stream per standard table plus given custom tables', () => {
    const dcr = defaultDcr(['App_CL', 'Syslog']);
    expect(Object.keys(dcr.streams).sort()).toEqual([...STANDARD_TABLES.map((t) => `Custom-${t.name}`), 'Custom-App_CL'].sort());
    expect(dcr.streams['Custom-App_CL']?.columns.map((c) => c.name)).toEqual(['TimeGenerated', 'RawData', 'FilePath', 'Computer']);
    expect(() => defaultDcr(['NotCustom'])).toThrow(/neither a standard table nor a custom/);
    expect(checkDcrs([dcr])).toEqual([]);
  });

  it('lands each stream in the table Azure stores it in, like the deployed DCR', () => {
    const dcr = defaultDcr(['App_CL']);
    const tables = Object.fromEntries(Object.entries(dcr.streams).map(([stream, s]) => [stream, s.table]));
    expect(tables).toEqual({
      'Custom-Syslog': 'Syslog',
      'Custom-Event': 'Event',
      'Custom-WindowsEvent': 'WindowsEvent',
      'Custom-Heartbeat': 'Heartbeat_CL',
      'Custom-Perf': 'Perf_CL',
      'Custom-W3CIISLog': 'W3CIISLog_CL',
      'Custom-App_CL': 'App_CL',
    });
    for (const [stream, s] of Object.entries(dcr.streams)) {
      const route = tableRoute(stream.slice('Custom-'.length));
      expect(s.table).toBe(route.outputTable);
      expect(s.columns).toEqual(route.columns);
    }
    expect(dcr.streams['Custom-Heartbeat']?.columns.map((c) => c.name)).toEqual(HEARTBEAT.columns.map((c) => c.name));
  });

  it('refuses a custom table named like a mirror table', () => {
    expect(() => defaultDcr(['Heartbeat_CL'])).toThrow(/mirrors a standard table/);
  });

  it('accepts undeclared custom streams only when lenient', () => {
    const dcr = defaultDcr();
    expect(resolveStream(dcr, 'Custom-New_CL')?.table).toBe('New_CL');
    expect(resolveStream(dcr, 'Custom-New')).toBeUndefined();
    expect(resolveStream(dcr, 'Microsoft-Syslog')).toBeUndefined();
    expect(resolveStream(dcr, 'toString')).toBeUndefined();
    expect(resolveStream({ ...dcr, acceptUndeclaredCustomStreams: false }, 'Custom-New_CL')).toBeUndefined();
  });

  it('does not stretch the leniency to tables a declared stream writes', () => {
    const dcr = defaultDcr();
    expect(resolveStream(dcr, 'Custom-Heartbeat')?.table).toBe('Heartbeat_CL');
    expect(resolveStream(dcr, 'Custom-Heartbeat_CL')).toBeUndefined();
    expect(resolveStream(dcr, 'Custom-perf_cl')).toBeUndefined();
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
