import type { LogRecord } from '../model/record.js';
import { truncateStringFields } from '../sinks/shared/utf8.js';
import { EncodedBatchBuilder, recordStart, type EncodedBatch } from './encoded-batch.js';

/** What encoding a batch for one wire format came to. */
export interface EncodeOutcome {
  readonly batch: EncodedBatch;
  /** Records left out because they cannot be serialized (BigInt, cycles, not an object). */
  readonly invalid: number;
  /** The first of those errors, for the log line. */
  readonly invalidError?: Error;
  /** Records with string fields cut to the service's field limit. */
  readonly truncated: number;
}

/**
 * How one kind of destination wants its records (docs/architecture.md#encode-once). The pipeline
 * encodes each batch once per distinct format among the destinations that take it, before it enters
 * their queues; sinks send the queued bytes as they are.
 */
export interface WireFormat {
  /** Tells formats apart: batches are encoded once per distinct key. */
  readonly key: string;
  /** Stored in each queue entry (a byte); an entry of another format is re-encoded when read. */
  readonly code: number;
  encodeRecords(table: string, records: readonly LogRecord[]): EncodeOutcome;
  /** Re-encodes a batch in the canonical JSON form (what sources that encode their own records emit). */
  fromJson(batch: EncodedBatch): EncodeOutcome;
}

/** The service keeps this much of a field value (UTF-8 bytes) and truncates the rest. */
export const MAX_FIELD_BYTES = 65_536;

/** A record whose JSON is at most this long (UTF-16 units) has no string field over MAX_FIELD_BYTES of UTF-8. */
const SHORT_JSON_UNITS = Math.floor(MAX_FIELD_BYTES / 3);

/** Wire format code of the canonical JSON (Logs Ingestion): records as JSON objects, fields as they are. */
export const JSON_FORMAT_CODE = 1;

/**
 * Writes `json` (a record's JSON text) as the next record of `b`, after cutting its string fields over
 * `maxFieldBytes` when it is long enough to have one. Returns whether fields were cut.
 */
function addRecordJson(b: EncodedBatchBuilder, json: string, record: () => LogRecord | undefined, maxFieldBytes: number): boolean {
  let text = json;
  let cut = false;
  if (json.length > SHORT_JSON_UNITS) {
    const r = record();
    if (r !== undefined) {
      const t = truncateStringFields(Object.entries(r), maxFieldBytes);
      if (t.changed > 0) {
        text = JSON.stringify(t.out);
        cut = true;
      }
    }
  }
  b.beginRecord();
  b.text(text);
  b.endRecord();
  return cut;
}

/** Counts what encoding a batch left out or cut, for its `EncodeOutcome`. */
export class EncodeTally {
  invalid = 0;
  truncated = 0;
  private firstError: Error | undefined;

  /** A record left out because of `err`. */
  fail(err: unknown): void {
    this.invalid++;
    this.firstError ??= err instanceof Error ? err : new Error(String(err));
  }

  outcome(batch: EncodedBatch): EncodeOutcome {
    return { batch, invalid: this.invalid, truncated: this.truncated, ...(this.firstError ? { invalidError: this.firstError } : {}) };
  }
}

/** One record's JSON text parsed back; throws unless it is a JSON object. */
export function parseJsonRecord(text: string): LogRecord {
  const v = JSON.parse(text) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError('record is not a JSON object');
  return v as LogRecord;
}

function stringifyRecord(record: LogRecord): string {
  const json = JSON.stringify(record) as string | undefined;
  if (typeof json !== 'string' || json.charCodeAt(0) !== 0x7b) throw new TypeError('record is not a JSON object');
  return json;
}

/**
 * Records as JSON objects whose string fields are cut to `maxFieldBytes` of UTF-8 on a character
 * boundary (docs/protocol-notes.md#logs-ingestion-limits).
 */
export function encodeJsonRecords(table: string, records: readonly LogRecord[], maxFieldBytes = MAX_FIELD_BYTES): EncodeOutcome {
  const b = new EncodedBatchBuilder(table, records.length * 256, records.length);
  const tally = new EncodeTally();
  for (const record of records) {
    let json: string;
    try {
      json = stringifyRecord(record);
    } catch (err) {
      tally.fail(err);
      continue;
    }
    if (addRecordJson(b, json, () => record, maxFieldBytes)) tally.truncated++;
  }
  return tally.outcome(b.finish());
}

/**
 * A canonical JSON batch with string fields over `maxFieldBytes` cut. The batch itself when no record is
 * long enough to have such a field (the common case: no work at all).
 */
export function limitJsonFields(batch: EncodedBatch, maxFieldBytes = MAX_FIELD_BYTES): EncodeOutcome {
  let long = false;
  for (let i = 0; i < batch.count && !long; i++) long = batch.ends[i]! - recordStart(batch.ends, i) > maxFieldBytes;
  if (!long) return { batch, invalid: 0, truncated: 0 };
  const b = new EncodedBatchBuilder(batch.table, batch.data.length, batch.count);
  const tally = new EncodeTally();
  for (let i = 0; i < batch.count; i++) {
    const start = recordStart(batch.ends, i);
    const end = batch.ends[i]!;
    if (end - start <= maxFieldBytes) {
      b.beginRecord();
      b.bytesOf(batch.data, start, end);
      b.endRecord();
      continue;
    }
    const json = batch.data.toString('utf8', start, end);
    let record: LogRecord;
    try {
      record = parseJsonRecord(json);
    } catch (err) {
      tally.fail(err);
      continue;
    }
    if (addRecordJson(b, json, () => record, maxFieldBytes)) tally.truncated++;
  }
  return tally.outcome(b.finish());
}

/** Parses the records of a canonical JSON batch back into objects (processors, other formats: not a hot path). */
export function decodeJsonRecords(batch: EncodedBatch): LogRecord[] {
  const out: LogRecord[] = new Array<LogRecord>(batch.count);
  for (let i = 0; i < batch.count; i++) {
    out[i] = JSON.parse(batch.data.toString('utf8', recordStart(batch.ends, i), batch.ends[i])) as LogRecord;
  }
  return out;
}

/** The canonical format: what the Logs Ingestion API (and the local workspace) take. */
export const jsonFormat: WireFormat = {
  key: 'json',
  code: JSON_FORMAT_CODE,
  encodeRecords: (table, records) => encodeJsonRecords(table, records),
  fromJson: (batch) => limitJsonFields(batch),
};
