/**
 * The DCR stream records of `table` are sent to: the configured mapping, else `Custom-<table>`.
 * The one place that knows the default, so per-table defaults can change here alone.
 */
export function streamForTable(table: string, streams: Readonly<Record<string, string>> | undefined): string {
  const configured = streams?.[table];
  if (configured !== undefined) return configured;
  return `Custom-${table}`;
}
