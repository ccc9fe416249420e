import { findTableRoute } from '../../azure/streams.js';

/**
 * The DCR stream records of `table` are sent to: the configured mapping, else the table's input stream
 * (`Custom-<table>`, see `tableRoute`), which the DCR from `oma azure template` and the local workspace declare.
 */
export function streamForTable(table: string, streams: Readonly<Record<string, string>> | undefined): string {
  if (streams && Object.hasOwn(streams, table)) return streams[table]!;
  return findTableRoute(table)?.stream ?? `Custom-${table}`;
}
