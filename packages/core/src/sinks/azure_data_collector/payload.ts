import type { LogRecord } from '../../model/record.js';
import { EncodedBatchBuilder, jsonArrayParts, recordStart, type EncodedBatch } from '../../wire/encoded-batch.js';
import { EncodeTally, parseJsonRecord, type EncodeOutcome, type WireFormat } from '../../wire/format.js';
import { truncateStringFields } from '../shared/utf8.js';

/** Where the reserved properties (docs/protocol-notes.md#data-collector-body) go: the names they are sent under. */
export interface ReservedRenames {
  readonly TimeGenerated: string;
  readonly RawData: string;
  readonly tenant: string;
}

export type EncodedDataCollectorRecord =
  | {
      readonly kind: 'ok';
      readonly json: string;
      readonly bytes: number;
      /** Fields cut to `maxFieldBytes`. */
      readonly truncatedFields: number;
    }
  | { readonly kind: 'invalid'; readonly error: Error };

const INVALID_NAME_CHARS = /[^A-Za-z0-9_]/g;

/**
 * The property name a record key is sent under: a reserved name (any case) becomes its configured
 * replacement; characters other than letters, digits and `_` become `_`.
 */
export function propertyNameFor(key: string, renames: ReservedRenames): string {
  switch (key.toLowerCase()) {
    case 'timegenerated':
      return renames.TimeGenerated;
    case 'rawdata':
      return renames.RawData;
    case 'tenant':
      return renames.tenant;
    default: {
      const clean = key.replace(INVALID_NAME_CHARS, '_');
      return clean === '' ? '_' : clean;
    }
  }
}

function isReservedKey(key: string): boolean {
  const k = key.toLowerCase();
  return k === 'timegenerated' || k === 'rawdata' || k === 'tenant';
}

/** `name`, or `name2`, `name3`… : the first not yet used (compared without regard to case). */
function freeName(name: string, used: ReadonlySet<string>): string {
  if (!used.has(name.toLowerCase())) return name;
  for (let n = 2; ; n++) {
    const candidate = `${name}${n}`;
    if (!used.has(candidate.toLowerCase())) return candidate;
  }
}

/**
 * Serializes one record for the HTTP Data Collector API: a flat JSON object of strings, numbers and
 * booleans (docs/protocol-notes.md#data-collector-body).
 *
 * - Reserved properties (TimeGenerated, RawData, tenant; any case) are sent under their replacement
 *   names. They are placed first, so TimeGenerated always lands on the property the
 *   `time-generated-field` header names; a record property that already has such a name (or that clashes
 *   with another after cleaning, without regard to case) is sent as `<name>2`, `<name>3`…, the first free.
 * - Other characters than letters, digits and `_` in property names become `_`.
 * - Objects and arrays (dynamic values) are sent as their JSON text; nulls and non-finite numbers are
 *   left out (the service omits nulls).
 * - String values longer than `maxFieldBytes` of UTF-8 are cut on a character boundary.
 *
 * A record that cannot be serialized (BigInt, cycles) is `invalid`.
 */
export function encodeDataCollectorRecord(record: LogRecord, renames: ReservedRenames, maxFieldBytes: number): EncodedDataCollectorRecord {
  const values: Array<{ name: string; value: string | number | boolean }> = [];
  try {
    for (const key of Object.keys(record)) {
      const value = encodeValue(record[key]);
      if (value !== undefined) values.push({ name: key, value });
    }
  } catch (err) {
    return { kind: 'invalid', error: err instanceof Error ? err : new Error(String(err)) };
  }
  // Names: the reserved properties' replacements first, then every other property that keeps its own
  // (cleaned) name, then the ones that clash, numbered.
  const used = new Set<string>();
  const named: Array<{ name: string; value: string | number | boolean }> = [];
  const clashing: typeof values = [];
  const assign = (name: string, value: string | number | boolean): void => {
    used.add(name.toLowerCase());
    named.push({ name, value });
  };
  for (const v of values) if (isReservedKey(v.name)) assign(freeName(propertyNameFor(v.name, renames), used), v.value);
  for (const v of values) {
    if (isReservedKey(v.name)) continue;
    const name = propertyNameFor(v.name, renames);
    if (used.has(name.toLowerCase())) clashing.push({ name, value: v.value });
    else assign(name, v.value);
  }
  for (const v of clashing) assign(freeName(v.name, used), v.value);
  const { out, changed: truncatedFields } = truncateStringFields(
    named.map((f) => [f.name, f.value] as const),
    maxFieldBytes,
  );
  const json = JSON.stringify(out);
  return { kind: 'ok', json, bytes: Buffer.byteLength(json, 'utf8'), truncatedFields };
}

/** A value as sent: string, finite number or boolean; undefined to leave the property out. Throws when not serializable. */
function encodeValue(value: unknown): string | number | boolean | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : undefined;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'bigint':
      throw new TypeError('a BigInt value cannot be serialized as JSON');
    case 'object': {
      if (value === null) return undefined;
      const json = JSON.stringify(value) as string | undefined;
      return json;
    }
  }
}

/** The request body: the pieces' records (already JSON) as one UTF-8 JSON array. */
export function buildDataCollectorBody(pieces: readonly EncodedBatch[]): Buffer {
  return Buffer.concat(jsonArrayParts(pieces));
}

/** Wire format code of Data Collector records (see `dataCollectorFormat`). */
export const DATA_COLLECTOR_FORMAT_CODE = 2;

/**
 * How the Data Collector sink wants its records queued: each record as `encodeDataCollectorRecord`
 * makes it. Records a source encoded itself (canonical JSON) are parsed and encoded again: this legacy
 * API does not get the encode-once path.
 */
export function dataCollectorFormat(renames: ReservedRenames, maxFieldBytes: number): WireFormat {
  const encode = (table: string, count: number, recordAt: (i: number) => LogRecord): EncodeOutcome => {
    const b = new EncodedBatchBuilder(table, count * 256, count);
    const tally = new EncodeTally();
    for (let i = 0; i < count; i++) {
      let enc: EncodedDataCollectorRecord;
      try {
        enc = encodeDataCollectorRecord(recordAt(i), renames, maxFieldBytes);
      } catch (err) {
        enc = { kind: 'invalid', error: err instanceof Error ? err : new Error(String(err)) };
      }
      if (enc.kind === 'invalid') {
        tally.fail(enc.error);
        continue;
      }
      if (enc.truncatedFields > 0) tally.truncated++;
      b.beginRecord();
      b.text(enc.json);
      b.endRecord();
    }
    return tally.outcome(b.finish());
  };
  return {
    key: `data_collector:${renames.TimeGenerated}:${renames.RawData}:${renames.tenant}:${maxFieldBytes}`,
    code: DATA_COLLECTOR_FORMAT_CODE,
    encodeRecords: (table, records) => encode(table, records.length, (i) => records[i]!),
    fromJson: (batch) => encode(batch.table, batch.count, (i) => parseJsonRecord(batch.data.toString('utf8', recordStart(batch.ends, i), batch.ends[i]))),
  };
}
