import { type Column, RESERVED_COLUMNS } from '../model/columns.js';
import { CUSTOM_TABLE_RE, STANDARD_TABLES, tableSchema } from '../model/tables.js';

/**
 * Where each standard table of the record model lands in Azure (docs/protocol-notes.md#ingestion-tables).
 * - `azure`: the Azure table itself, through output stream `Microsoft-<Table>` (the Logs Ingestion API
 *   accepts Syslog, Event and WindowsEvent).
 * - `mirror`: a custom table `<Table>_CL` with the same columns, because the API does not accept the Azure
 *   table (Heartbeat, W3CIISLog) or its support is not confirmed (Perf). Once Perf is confirmed, set it to
 *   `azure` here: the local workspace, the sink's default stream and `oma azure template` follow.
 * A standard table not listed here is mirrored.
 */
export const AZURE_TABLE_TARGETS: Readonly<Record<string, 'azure' | 'mirror'>> = {
  Syslog: 'azure',
  Event: 'azure',
  WindowsEvent: 'azure',
  Heartbeat: 'mirror',
  Perf: 'mirror',
  W3CIISLog: 'mirror',
};

/** How the records of one table travel: input stream, DCR data flow, and the table they are stored in. */
export interface TableRoute {
  /** Table of the record model (`Heartbeat`, `Syslog`, `MyApp_CL`). */
  readonly table: string;
  /** Input stream the records are posted to (`Custom-<table>`; the API takes only `Custom-` streams, docs/protocol-notes.md#ingestion-url). */
  readonly stream: string;
  /** Output stream of the DCR data flow: `Microsoft-<Table>` for an Azure table, else `Custom-<Table>_CL`. */
  readonly outputStream: string;
  /** Table the rows are stored in: `Syslog`, `Event`, `Heartbeat_CL`, `MyApp_CL`. */
  readonly outputTable: string;
  /** Columns of the stream declaration, and of the custom table when there is one to create. */
  readonly columns: readonly Column[];
  /** True when the output is an Azure table (nothing to create); false for a custom `_CL` table. */
  readonly standard: boolean;
  /** Columns of the model left out because Log Analytics reserves their names (docs/protocol-notes.md#ingestion-body). */
  readonly droppedColumns: readonly string[];
}

const RESERVED_LOWER = new Set([...RESERVED_COLUMNS].map((c) => c.toLowerCase()));

/**
 * True when a client may declare the column in a stream or a custom table: not one of the reserved names
 * of docs/protocol-notes.md#ingestion-body (compared without case) and not starting with `_` (the service's own columns: `_ResourceId`,
 * `_ItemId`, `_TimeReceived`, ...).
 */
export function isDeclarableColumn(name: string): boolean {
  return !name.startsWith('_') && !RESERVED_LOWER.has(name.toLowerCase());
}

/** Splits columns into the declarable ones and the names left out (dropped from declaration and table alike). */
export function declarableColumns(columns: readonly Column[]): { columns: Column[]; dropped: string[] } {
  return {
    columns: columns.filter((c) => isDeclarableColumn(c.name)),
    dropped: columns.filter((c) => !isDeclarableColumn(c.name)).map((c) => c.name),
  };
}

/** Name of the custom table that mirrors a standard table Azure does not accept: `<Table>_CL`. */
export function mirrorTableName(table: string): string {
  return `${table}_CL`;
}

/**
 * Custom table names OMA uses as mirrors of standard tables (`Heartbeat_CL`, `Perf_CL`, `W3CIISLog_CL`);
 * a custom log must not use them, or two differently shaped streams would land in one table.
 */
export function mirrorTableNames(): string[] {
  return STANDARD_TABLES.filter((t) => AZURE_TABLE_TARGETS[t.name] !== 'azure').map((t) => mirrorTableName(t.name));
}

/**
 * The route of `table`'s records from OMA into Log Analytics, or undefined for a name that is neither a
 * standard table of the record model nor a custom `_CL` table. The single source of the mapping for the
 * sink's default stream, the local workspace's default DCR and `oma azure template`.
 */
export function findTableRoute(table: string): TableRoute | undefined {
  const schema = tableSchema(table);
  if (!schema) return undefined;
  const { columns, dropped } = declarableColumns(schema.columns);
  const stream = `Custom-${table}`;
  if (schema.kind === 'standard' && AZURE_TABLE_TARGETS[table] === 'azure') {
    return { table, stream, outputStream: `Microsoft-${table}`, outputTable: table, columns, standard: true, droppedColumns: dropped };
  }
  const outputTable = schema.kind === 'standard' ? mirrorTableName(table) : table;
  return { table, stream, outputStream: `Custom-${outputTable}`, outputTable, columns, standard: false, droppedColumns: dropped };
}

/** Like `findTableRoute`, but throws for a name that is neither a standard nor a custom `_CL` table. */
export function tableRoute(table: string): TableRoute {
  const route = findTableRoute(table);
  if (!route) {
    throw new Error(`unknown table ${table}: expected a standard table (${STANDARD_TABLES.map((t) => t.name).join(', ')}) or one matching ${CUSTOM_TABLE_RE.source}`);
  }
  return route;
}
