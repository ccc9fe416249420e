/**
 * A record is a flat object whose keys are column names of its table. Values are JSON values:
 * `datetime` columns hold ISO 8601 strings (UTC, `Z`), `dynamic` columns any JSON value.
 */
export type RecordValue = string | number | boolean | null | readonly unknown[] | { readonly [k: string]: unknown };
export type LogRecord = Record<string, RecordValue | undefined>;

/** Records of one table, as a source emits them. */
export interface RecordBatch {
  readonly table: string;
  readonly records: readonly LogRecord[];
}
