import { COLUMN_NAME_RE, truncateUtf8, type ColumnType } from '@oma/core';
import { parseDatetimeMs } from './values.js';

/** The service truncates field values beyond 32 KB (docs/protocol-notes.md#data-collector-limits). */
export const MAX_SUFFIX_FIELD_BYTES = 32_768;

/** A Data Collector property as the service stores it: a column named `<property>_<suffix>` and its value. */
export interface SuffixColumnValue {
  readonly column: string;
  readonly type: ColumnType;
  readonly value: string | number | boolean;
}

const GUID_RE = /^\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i;
const ISO_DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** The canonical form (lower case, dashes) of a GUID-looking string, with or without dashes or braces. */
export function canonicalGuid(s: string): string | undefined {
  const m = GUID_RE.exec(s);
  return m ? m.slice(1, 6).join('-').toLowerCase() : undefined;
}

/** Epoch ms of an ISO 8601 date-time string (`2026-01-01T00:00:00Z`, with or without fraction or zone). */
export function isoDatetimeMs(s: string): number | undefined {
  return ISO_DATETIME_RE.test(s) ? parseDatetimeMs(s) : undefined;
}

/**
 * How the HTTP Data Collector API types one property (docs/protocol-notes.md#data-collector-body): booleans `_b`, numbers `_d`,
 * GUID-looking strings `_g` (canonical form), ISO 8601 date-times `_t`, other strings `_s` (cut at 32 KB).
 * Returns undefined for null (omitted). Throws TypeError for values that are not flat (objects, arrays).
 */
export function suffixColumn(property: string, value: unknown): SuffixColumnValue | undefined {
  if (value === null || value === undefined) return undefined;
  property = columnBaseName(property);
  switch (typeof value) {
    case 'boolean':
      return { column: `${property}_b`, type: 'boolean', value };
    case 'number':
      return { column: `${property}_d`, type: 'real', value };
    case 'string': {
      const guid = canonicalGuid(value);
      if (guid !== undefined) return { column: `${property}_g`, type: 'string', value: guid };
      const ms = isoDatetimeMs(value);
      if (ms !== undefined) return { column: `${property}_t`, type: 'datetime', value: new Date(ms).toISOString() };
      return { column: `${property}_s`, type: 'string', value: truncateUtf8(value, MAX_SUFFIX_FIELD_BYTES) };
    }
    default:
      throw new TypeError(`property ${JSON.stringify(property.slice(0, 80))} is ${Array.isArray(value) ? 'an array' : typeof value}, not a string, number or boolean`);
  }
}

/**
 * The column a property name becomes: the characters a column name cannot hold (anything but letters,
 * digits and `_`, and whatever precedes the first letter) removed, so that Fluent Bit's default time key
 * `@timestamp` lands in `timestamp_t`. The service accepts such names; how it spells the column is not
 * documented (this rule is a guess). Empty when nothing usable is left.
 */
export function columnBaseName(property: string): string {
  return property.replace(/[^A-Za-z0-9_]/g, '').replace(/^[^A-Za-z]+/, '');
}

/** True when `name` can be a stored column (a letter first, letters, digits and `_`, at most 45 characters). */
export function isStorableColumn(name: string): boolean {
  return COLUMN_NAME_RE.test(name);
}
