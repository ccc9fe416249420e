import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { LogRecord } from '../../model/record.js';
import { truncateStringFields } from '../shared/utf8.js';

const gzip = promisify(gzipCb);

/** The service truncates longer field values; a record too big for a request gets these cut client-side. */
export const MAX_FIELD_BYTES = 65_536;

/** A copy of `record` whose top-level string values are cut to `maxFieldBytes`; `changed` counts cut fields. */
export function truncateLongFields(record: LogRecord, maxFieldBytes = MAX_FIELD_BYTES): { record: LogRecord; changed: number } {
  const { out, changed } = truncateStringFields(Object.entries(record), maxFieldBytes);
  return { record: changed > 0 ? out : record, changed };
}

export type EncodedRecord =
  | {
      readonly kind: 'ok';
      readonly json: string;
      readonly bytes: number;
      /** Some string fields were cut to make the record fit. */
      readonly truncated: boolean;
      /** Still larger than one request may be, even after truncation. */
      readonly tooLarge: boolean;
    }
  | { readonly kind: 'invalid'; readonly error: Error };

/**
 * Serializes one record. When it would not fit alone in a request of `maxRequestBytes` (the JSON
 * array `[record]`), its string fields over 64 KB are truncated on a UTF-8 boundary; `tooLarge` says
 * whether it fits after that. A record that cannot be serialized (BigInt, cycles) is `invalid`.
 */
export function encodeRecord(record: LogRecord, maxRequestBytes: number): EncodedRecord {
  let json: string | undefined;
  try {
    json = JSON.stringify(record);
  } catch (err) {
    return { kind: 'invalid', error: err instanceof Error ? err : new Error(String(err)) };
  }
  if (typeof json !== 'string' || !json.startsWith('{')) {
    return { kind: 'invalid', error: new Error('record is not a JSON object') };
  }
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes + 2 <= maxRequestBytes) return { kind: 'ok', json, bytes, truncated: false, tooLarge: false };
  return shrinkRecord(record, json, bytes, maxRequestBytes);
}

/** Truncates the long string fields of a record whose JSON is `json` (`bytes` long) to fit `maxRequestBytes`. */
export function shrinkRecord(record: LogRecord, json: string, bytes: number, maxRequestBytes: number): EncodedRecord & { kind: 'ok' } {
  const { record: cut, changed } = truncateLongFields(record);
  if (changed === 0) return { kind: 'ok', json, bytes, truncated: false, tooLarge: bytes + 2 > maxRequestBytes };
  const cutJson = JSON.stringify(cut);
  const cutBytes = Buffer.byteLength(cutJson, 'utf8');
  return { kind: 'ok', json: cutJson, bytes: cutBytes, truncated: true, tooLarge: cutBytes + 2 > maxRequestBytes };
}

/** The request body: the records as one JSON array, gzip-compressed unless `compression` is `none`. */
export async function buildBody(jsons: readonly string[], compression: 'gzip' | 'none'): Promise<Buffer> {
  const raw = Buffer.from(`[${jsons.join(',')}]`, 'utf8');
  return compression === 'gzip' ? gzip(raw) : raw;
}
