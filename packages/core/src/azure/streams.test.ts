import { describe, expect, it } from 'vitest';
import { col, COLUMN_NAME_RE } from '../model/columns.js';
import { CUSTOM_TABLE_RE, STANDARD_TABLES } from '../model/tables.js';
import { streamForTable } from '../sinks/azure_logs_ingestion/streams.js';
import { declarableColumns, findTableRoute, isDeclarableColumn, mirrorTableNames, tableRoute } from './streams.js';

describe('tableRoute', () => {
  it('sends Syslog and Event to the Azure tables, the other standard tables to _CL mirrors', () => {
    const routes = Object.fromEntries(STANDARD_TABLES.map((t) => [t.name, tableRoute(t.name)]));
    expect(routes.Syslog).toMatchObject({ stream: 'Custom-Syslog', outputStream: 'Microsoft-Syslog', outputTable: 'Syslog', standard: true });
    expect(routes.Event).toMatchObject({ stream: 'Custom-Event', outputStream: 'Microsoft-Event', outputTable: 'Event', standard: true });
    expect(routes.Heartbeat).toMatchObject({
      stream: 'Custom-Heartbeat',
      outputStream: 'Custom-Heartbeat_CL',
      outputTable: 'Heartbeat_CL',
      standard: false,
    });
    expect(routes.Perf).toMatchObject({ stream: 'Custom-Perf', outputStream: 'Custom-Perf_CL', outputTable: 'Perf_CL', standard: false });
    expect(routes.W3CIISLog).toMatchObject({ stream: 'Custom-W3CIISLog', outputStream: 'Custom-W3CIISLog_CL', outputTable: 'W3CIISLog_CL' });
    expect(routes.WindowsEvent).toMatchObject({ stream: 'Custom-WindowsEvent', outputStream: 'Microsoft-WindowsEvent', outputTable: 'WindowsEvent', standard: true });
    expect(mirrorTableNames().sort()).toEqual(['Heartbeat_CL', 'Perf_CL', 'W3CIISLog_CL']);
  });

  it('keeps the model columns of every standard table (none is reserved) and valid custom table names', () => {
    for (const t of STANDARD_TABLES) {
      const r = tableRoute(t.name);
      expect(r.droppedColumns).toEqual([]);
      expect(r.columns.map((c) => c.name)).toEqual(t.columns.map((c) => c.name));
      expect(r.columns[0]).toMatchObject({ name: 'TimeGenerated', type: 'datetime' });
      for (const c of r.columns) expect(c.name).toMatch(COLUMN_NAME_RE);
      if (!r.standard) expect(r.outputTable).toMatch(CUSTOM_TABLE_RE);
    }
  });

  it('sends a custom table X_CL through Custom-X_CL to Custom-X_CL', () => {
    expect(tableRoute('App_CL')).toMatchObject({
      table: 'App_CL',
      stream: 'Custom-App_CL',
      outputStream: 'Custom-App_CL',
      outputTable: 'App_CL',
      standard: false,
    });
    expect(tableRoute('App_CL').columns.map((c) => c.name)).toEqual(['TimeGenerated', 'RawData', 'FilePath', 'Computer']);
  });

  it('refuses names that are neither standard nor custom tables', () => {
    expect(findTableRoute('Nope')).toBeUndefined();
    expect(findTableRoute('toString')).toBeUndefined();
    expect(() => tableRoute('Nope')).toThrow(/unknown table Nope/);
  });
});

describe('reserved columns', () => {
  it('drops the names Log Analytics reserves, whatever their case, and underscore names', () => {
    for (const name of ['_ResourceId', 'id', 'ID', '_SubscriptionId', 'TenantId', 'Type', 'type', 'UniqueId', 'Title', '_ItemId']) {
      expect(isDeclarableColumn(name)).toBe(false);
    }
    for (const name of ['TimeGenerated', 'Computer', 'SourceSystem', 'ManagementGroupName', 'EventID', 'Identity']) {
      expect(isDeclarableColumn(name)).toBe(true);
    }
    const split = declarableColumns([col('TimeGenerated', 'datetime', ''), col('Type', 'string', ''), col('Message', 'string', ''), col('_ResourceId', 'string', '')]);
    expect(split.columns.map((c) => c.name)).toEqual(['TimeGenerated', 'Message']);
    expect(split.dropped).toEqual(['Type', '_ResourceId']);
  });
});

describe('streamForTable', () => {
  it('uses the configured stream, else the route input stream', () => {
    expect(streamForTable('Heartbeat', undefined)).toBe('Custom-Heartbeat');
    expect(streamForTable('Heartbeat', { Heartbeat: 'Custom-Beat' })).toBe('Custom-Beat');
    expect(streamForTable('App_CL', {})).toBe('Custom-App_CL');
    expect(streamForTable('Unknown', undefined)).toBe('Custom-Unknown');
    expect(streamForTable('toString', {})).toBe('Custom-toString');
  });
});
