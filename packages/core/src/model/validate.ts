import type { ColumnType } from './columns.js';
import type { TableSchema } from './tables.js';

/**
 * Checks one value against a column type the way the ingestion service does: `null` is always
 * accepted; `datetime` must parse as a date; `int`/`long` must be integers.
 * Returns a reason when the value does not fit, else undefined.
 */
export function checkValue(type: ColumnType, value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  switch (type) {
    case 'string':
      return typeof value === 'string' ? undefined : `expected string, got ${typeof value}`;
    case 'int':
    case 'long':
      if (typeof value === 'number' && Number.isInteger(value)) return undefined;
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return undefined;
      return `expected ${type}, got ${JSON.stringify(value).slice(0, 40)}`;
    case 'real':
      if (typeof value === 'number' && Number.isFinite(value)) return undefined;
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return undefined;
      return `expected real, got ${JSON.stringify(value).slice(0, 40)}`;
    case 'boolean':
      return typeof value === 'boolean' || value === 'true' || value === 'false'
        ? undefined
        : `expected boolean, got ${JSON.stringify(value).slice(0, 40)}`;
    case 'datetime':
      if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return undefined;
      return `expected datetime, got ${JSON.stringify(value).slice(0, 40)}`;
    case 'dynamic':
      return undefined;
  }
}

/** Validates a record against its table; returns the list of problems (empty when it fits). */
export function validateRecord(schema: TableSchema, record: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const c of schema.columns) {
    const why = checkValue(c.type, record[c.name]);
    if (why) problems.push(`${c.name}: ${why}`);
  }
  return problems;
}
