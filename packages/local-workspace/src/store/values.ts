import type { ColumnType } from '@oma/core';

/** A value as SQLite stores it. */
export type SqlValue = string | number | bigint | null;

const ISO_WITHOUT_ZONE_RE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;
const INTEGER_RE = /^-?\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Parses a datetime string to epoch milliseconds. ISO 8601 date-times without a zone designator are read
 * as UTC (as the service does), not as local time. Returns undefined when the string is not a date.
 */
export function parseDatetimeMs(text: string): number | undefined {
  const t = text.trim();
  const ms = Date.parse(ISO_WITHOUT_ZONE_RE.test(t) ? `${t.replace(' ', 'T')}Z` : t);
  return Number.isFinite(ms) ? ms : undefined;
}

function parseInteger(text: string): number | bigint | undefined {
  if (!INTEGER_RE.test(text)) return undefined;
  const n = Number(text);
  if (Number.isSafeInteger(n)) return n;
  const b = BigInt(text);
  return b >= INT64_MIN && b <= INT64_MAX ? b : undefined;
}

/**
 * Converts one JSON value of a column to what SQLite stores: `[value]`, or `[isoText, ms]` for datetime
 * columns. Returns undefined when the value does not fit the column type.
 */
export function encodeValue(type: ColumnType, value: unknown): SqlValue[] | undefined {
  if (value === null || value === undefined) return type === 'datetime' ? [null, null] : [null];
  switch (type) {
    case 'string':
      return typeof value === 'string' ? [value] : undefined;
    case 'int':
    case 'long':
      if (typeof value === 'number') return Number.isInteger(value) ? [value] : undefined;
      if (typeof value === 'string') {
        const n = parseInteger(value);
        return n === undefined ? undefined : [n];
      }
      return undefined;
    case 'real': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      return Number.isFinite(n) ? [n] : undefined;
    }
    case 'boolean':
      if (value === true || value === 'true') return [1];
      if (value === false || value === 'false') return [0];
      return undefined;
    case 'datetime': {
      if (typeof value !== 'string') return undefined;
      const ms = parseDatetimeMs(value);
      return ms === undefined ? undefined : [new Date(ms).toISOString(), ms];
    }
    case 'dynamic':
      try {
        return [JSON.stringify(value)];
      } catch {
        // Nesting too deep to serialize.
        return undefined;
      }
  }
}

/**
 * Converts a filter value given as text (`where=Col=value`) to what the column stores; datetime filters
 * compare the millisecond column. Returns undefined when the text does not fit the type.
 */
export function encodeFilter(type: ColumnType, text: string): SqlValue | undefined {
  switch (type) {
    case 'string':
    case 'dynamic':
      return text;
    case 'int':
    case 'long':
      return parseInteger(text.trim());
    case 'real': {
      const n = text.trim() === '' ? NaN : Number(text);
      return Number.isFinite(n) ? n : undefined;
    }
    case 'boolean': {
      const t = text.trim().toLowerCase();
      return t === 'true' || t === '1' ? 1 : t === 'false' || t === '0' ? 0 : undefined;
    }
    case 'datetime':
      return parseDatetimeMs(text);
  }
}

function fromSqlInteger(v: unknown): unknown {
  if (typeof v !== 'bigint') return v;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

/** Converts a stored value back to its JSON form (booleans, parsed dynamic values, numbers). */
export function decodeValue(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'boolean':
      return fromSqlInteger(value) === 1;
    case 'dynamic':
      if (typeof value !== 'string') return fromSqlInteger(value);
      try {
        return JSON.parse(value) as unknown;
      } catch {
        return value;
      }
    case 'int':
    case 'long':
    case 'real':
      return fromSqlInteger(value);
    case 'string':
    case 'datetime':
      return typeof value === 'string' ? value : String(fromSqlInteger(value));
  }
}
