import {
  COLUMN_NAME_RE,
  COLUMN_TYPES,
  CUSTOM_TABLE_RE,
  ConfigError,
  STANDARD_TABLES,
  customTextLogTable,
  mirrorTableNames,
  tableRoute,
  type Column,
  type ColumnType,
  type ConfigIssue,
} from '@oma/core';
import { DCR_ID_RE, DEFAULT_DCR_IMMUTABLE_ID, STREAM_NAME_RE, TABLE_NAME_RE } from './constants.js';

/** A stream declaration of a local DCR: the table it lands in and the columns it carries. */
export interface LocalStream {
  readonly table: string;
  readonly columns: readonly Column[] | readonly { readonly name: string; readonly type: ColumnType }[];
}

/** A data collection rule as the local workspace knows it: an immutable id and its input streams. */
export interface LocalDcr {
  readonly immutableId: string;
  /** Keyed by stream name (`Custom-<Name>`). */
  readonly streams: Readonly<Record<string, LocalStream>>;
  /**
   * Leniency of the default DCR: a stream `Custom-<Name>_CL` that is not declared but whose table name
   * matches the custom table pattern is accepted with the custom text-log schema. Azure would answer 404.
   */
  readonly acceptUndeclaredCustomStreams?: boolean;
}

/**
 * The default DCR, shaped like the one `oma azure template` deploys (see `tableRoute`): a stream
 * `Custom-<Table>` for every standard table of the record model and for each given custom `_CL` table, each
 * landing in the table Azure stores it in: Syslog, Event and WindowsEvent in themselves, Heartbeat, Perf and W3CIISLog in
 * their mirrors Heartbeat_CL, Perf_CL and W3CIISLog_CL, a custom table in itself (custom text-log schema).
 * It also accepts undeclared `Custom-<Name>_CL` streams (see `acceptUndeclaredCustomStreams`), so a new
 * custom log table works without restarting the workspace.
 */
export function defaultDcr(tables: readonly string[] = [], immutableId = DEFAULT_DCR_IMMUTABLE_ID): LocalDcr {
  const streams: Record<string, LocalStream> = {};
  for (const t of STANDARD_TABLES) {
    const route = tableRoute(t.name);
    streams[route.stream] = { table: route.outputTable, columns: route.columns };
  }
  const mirrors = mirrorTableNames();
  for (const name of tables) {
    if (STANDARD_TABLES.some((t) => t.name === name)) continue;
    if (!CUSTOM_TABLE_RE.test(name)) {
      throw new ConfigError(`table ${name} is neither a standard table nor a custom _CL table`, [
        { path: 'tables', message: `${name} must match ${CUSTOM_TABLE_RE.source}` },
      ]);
    }
    if (mirrors.includes(name)) {
      throw new ConfigError(`table ${name} mirrors a standard table`, [
        { path: 'tables', message: `${name} is where ${name.slice(0, -3)} records are stored; a custom log needs another name` },
      ]);
    }
    const route = tableRoute(name);
    streams[route.stream] = { table: route.outputTable, columns: route.columns };
  }
  return { immutableId, streams, acceptUndeclaredCustomStreams: true };
}

/**
 * Finds the stream a request names, applying the default DCR's leniency for undeclared custom streams. The
 * leniency never covers a table a declared stream writes (e.g. `Custom-Heartbeat_CL`, whose table
 * Heartbeat_CL is fed by `Custom-Heartbeat`): Azure would answer 404 for such a stream too.
 */
export function resolveStream(dcr: LocalDcr, streamName: string): LocalStream | undefined {
  if (Object.hasOwn(dcr.streams, streamName)) return dcr.streams[streamName];
  if (!dcr.acceptUndeclaredCustomStreams || !streamName.startsWith('Custom-')) return undefined;
  const table = streamName.slice('Custom-'.length);
  if (!CUSTOM_TABLE_RE.test(table)) return undefined;
  if (Object.values(dcr.streams).some((s) => s.table.toLowerCase() === table.toLowerCase())) return undefined;
  return { table, columns: customTextLogTable(table).columns };
}

/**
 * Checks DCR declarations: id and stream name shapes, table and column names, column types, no
 * duplicate ids, and one type per column of a table across every stream that writes it.
 * Returns every problem found (empty when valid).
 */
export function checkDcrs(dcrs: readonly LocalDcr[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const ids = new Set<string>();
  /** table (lower case) -> column (lower case) -> { name, type, where } */
  const tableColumns = new Map<string, Map<string, { name: string; type: string; path: string }>>();
  const tableNames = new Map<string, string>();
  dcrs.forEach((dcr, i) => {
    const base = `dcrs[${i}]`;
    if (!DCR_ID_RE.test(dcr.immutableId)) {
      issues.push({ path: `${base}.immutableId`, message: `must match ${DCR_ID_RE.source}` });
    }
    if (ids.has(dcr.immutableId)) issues.push({ path: `${base}.immutableId`, message: `duplicate id ${dcr.immutableId}` });
    ids.add(dcr.immutableId);
    for (const [streamName, stream] of Object.entries(dcr.streams)) {
      const sp = `${base}.streams.${streamName}`;
      if (!STREAM_NAME_RE.test(streamName)) issues.push({ path: sp, message: `stream name must match ${STREAM_NAME_RE.source}` });
      if (!TABLE_NAME_RE.test(stream.table) || /^sqlite_/i.test(stream.table)) {
        issues.push({ path: `${sp}.table`, message: `table name must match ${TABLE_NAME_RE.source}` });
        continue;
      }
      const known = tableNames.get(stream.table.toLowerCase());
      if (known !== undefined && known !== stream.table) {
        issues.push({ path: `${sp}.table`, message: `table ${stream.table} differs only in case from ${known}` });
      }
      tableNames.set(stream.table.toLowerCase(), stream.table);
      let cols = tableColumns.get(stream.table.toLowerCase());
      if (!cols) tableColumns.set(stream.table.toLowerCase(), (cols = new Map<string, { name: string; type: string; path: string }>()));
      const seen = new Set<string>();
      stream.columns.forEach((c, j) => {
        const cp = `${sp}.columns[${j}]`;
        if (!COLUMN_NAME_RE.test(c.name)) issues.push({ path: cp, message: `column name must match ${COLUMN_NAME_RE.source}` });
        if (!(COLUMN_TYPES as readonly string[]).includes(c.type)) {
          issues.push({ path: cp, message: `column type must be one of ${COLUMN_TYPES.join(', ')}` });
        }
        const key = c.name.toLowerCase();
        if (seen.has(key)) issues.push({ path: cp, message: `duplicate column ${c.name}` });
        if (key === 'timegenerated' && (c.name !== 'TimeGenerated' || c.type !== 'datetime')) {
          issues.push({ path: cp, message: 'TimeGenerated must be declared as TimeGenerated datetime' });
        }
        seen.add(key);
        const prev = cols.get(key);
        if (prev && (prev.name !== c.name || prev.type !== c.type)) {
          issues.push({ path: cp, message: `column ${c.name} ${c.type} conflicts with ${prev.name} ${prev.type} at ${prev.path}` });
        } else if (!prev) {
          cols.set(key, { name: c.name, type: c.type, path: cp });
        }
      });
    }
  });
  return issues;
}
