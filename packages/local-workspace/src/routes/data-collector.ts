import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ConfigIssue } from '@oma/core';
import { TABLE_NAME_RE } from '../constants.js';
import { readBody, RequestAbortedError } from '../http/body.js';
import type { Exchange } from '../http/exchange.js';
import { isStorableColumn, isoDatetimeMs, suffixColumn } from '../store/suffix-columns.js';
import { WorkspaceStoreError, type StoredColumn } from '../store/workspace-store.js';
import { applyFaults, logRejection, type RequestState, type ServerContext } from './context.js';

/** The one API version of the HTTP Data Collector API (docs/protocol-notes.md#data-collector-request). */
export const DATA_COLLECTOR_API_VERSION = '2016-04-01';

/** Largest body the service takes: 30 MB per post (docs/protocol-notes.md#data-collector-limits); larger posts get 404 (docs/protocol-notes.md#data-collector-responses). */
export const MAX_DATA_COLLECTOR_BODY_BYTES = 30_000_000;

/** Default tolerance between `x-ms-date` and the workspace clock. Azure does not publish its own. */
export const DEFAULT_DATA_COLLECTOR_MAX_SKEW_SEC = 900;

/** What the `dataCollector` option of the local workspace holds. */
export interface LocalDataCollectorOptions {
  /** Workspace id (GUID) the Authorization header must name. */
  readonly workspaceId: string;
  /** Workspace key, base64 (Azure's are 64 bytes, 88 characters). */
  readonly sharedKey: string;
  /** Largest difference between `x-ms-date` and the workspace clock, seconds; default 900. */
  readonly maxSkewSec?: number;
}

/** The Data Collector settings route handlers use. */
export interface DataCollectorSettings {
  /** Lower case. */
  readonly workspaceId: string;
  readonly key: Buffer;
  readonly maxSkewSec: number;
}

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const LOG_TYPE_RE = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;
const AUTH_RE = /^SharedKey ([^:\s]+):([A-Za-z0-9+/]+={0,2})$/;
const HOST_RE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.ods\.opinsights\.azure\.(?:com|us|cn)(?::\d+)?$/i;
const RFC1123_RE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RESERVED = new Set(['timegenerated', 'rawdata', 'tenant']);
const TWO_DAYS_MS = 2 * 86_400_000;
const ONE_DAY_MS = 86_400_000;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Problems of the `dataCollector` option (paths under `dataCollector`). */
export function checkDataCollectorOptions(opts: LocalDataCollectorOptions | undefined): ConfigIssue[] {
  if (opts === undefined) return [];
  const issues: ConfigIssue[] = [];
  if (typeof opts.workspaceId !== 'string' || !GUID_RE.test(opts.workspaceId)) {
    issues.push({ path: 'dataCollector.workspaceId', message: 'must be a GUID' });
  }
  if (typeof opts.sharedKey !== 'string' || opts.sharedKey === '' || !BASE64_RE.test(opts.sharedKey)) {
    issues.push({ path: 'dataCollector.sharedKey', message: 'must be base64 (a workspace key is 64 bytes, 88 characters)' });
  }
  const skew = opts.maxSkewSec;
  if (skew !== undefined && (typeof skew !== 'number' || !Number.isInteger(skew) || skew < 0 || skew > 86_400)) {
    issues.push({ path: 'dataCollector.maxSkewSec', message: 'must be an integer in 0..86400' });
  }
  return issues;
}

/** The settings of a validated `dataCollector` option. */
export function dataCollectorSettings(opts: LocalDataCollectorOptions): DataCollectorSettings {
  return {
    workspaceId: opts.workspaceId.toLowerCase(),
    key: Buffer.from(opts.sharedKey, 'base64'),
    maxSkewSec: opts.maxSkewSec ?? DEFAULT_DATA_COLLECTOR_MAX_SKEW_SEC,
  };
}

/** Answers a Data Collector error: `{"Error": code, "Message": message}`, as the service does. */
function fail(ctx: ServerContext, ex: Exchange, state: RequestState, status: number, code: string, message: string): void {
  state.errorCode = code;
  logRejection(ctx, ex, state, status, code);
  ex.json(status, { Error: code, Message: message });
}

function mediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase();
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Constant-time comparison of two base64 signatures. */
function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * POST /api/logs?api-version=2016-04-01, the legacy HTTP Data Collector API (docs/protocol-notes.md#data-collector). Checks the
 * api-version, content type, Log-Type, the SharedKey signature (recomputed over the byte length of the
 * body read), x-ms-date against the workspace clock, the 30 MB limit (404, as the service answers) and
 * the body (a JSON array of flat objects); then stores the rows in `<Log-Type>_CL` with the service's
 * type-suffixed columns and answers 200.
 */
export async function handleDataCollector(ctx: ServerContext, ex: Exchange, state: RequestState): Promise<void> {
  state.route = 'data_collector';
  const { req } = ex;
  const logType = single(req.headers['log-type'])?.trim();
  if (logType) state.stream = logType.slice(0, 120);
  const settings = ctx.dataCollector;
  if (!settings) {
    fail(ctx, ex, state, 404, 'NotFound', 'The HTTP Data Collector API is not enabled on this local workspace (option dataCollector).');
    return;
  }
  if (req.method !== 'POST') {
    fail(ctx, ex, state, 405, 'MethodNotAllowed', `The requested resource does not support http method '${req.method ?? ''}'.`);
    return;
  }
  if (await applyFaults(ctx, ex, state, 'data_collector', logType)) return;

  const apiVersion = ex.url.searchParams.get('api-version');
  if (apiVersion === null || apiVersion === '') {
    fail(ctx, ex, state, 400, 'MissingApiVersion', 'The api-version query parameter is required.');
    return;
  }
  if (apiVersion !== DATA_COLLECTOR_API_VERSION) {
    fail(ctx, ex, state, 400, 'InvalidApiVersion', `The api-version '${apiVersion.slice(0, 40)}' is not supported; use ${DATA_COLLECTOR_API_VERSION}.`);
    return;
  }
  const contentType = req.headers['content-type'];
  if (contentType === undefined || contentType.trim() === '') {
    fail(ctx, ex, state, 400, 'MissingContentType', 'The Content-Type header is required.');
    return;
  }
  if (mediaType(contentType) !== 'application/json') {
    fail(ctx, ex, state, 400, 'UnsupportedContentType', "Content-Type must be 'application/json'.");
    return;
  }
  if (!logType) {
    fail(ctx, ex, state, 400, 'MissingLogType', 'The Log-Type header is required.');
    return;
  }
  if (!LOG_TYPE_RE.test(logType)) {
    fail(ctx, ex, state, 400, 'InvalidLogType', 'The Log-Type must start with a letter and contain only letters, digits and _, at most 100 characters.');
    return;
  }
  const table = `${logType}_CL`;
  if (!TABLE_NAME_RE.test(table)) {
    fail(ctx, ex, state, 400, 'InvalidLogType', `The local workspace stores table names of at most 63 characters; ${table} is longer.`);
    return;
  }

  const auth = AUTH_RE.exec(single(req.headers.authorization) ?? '');
  if (!auth) {
    fail(ctx, ex, state, 403, 'InvalidAuthorization', "The Authorization header must be 'SharedKey {workspaceId}:{signature}'.");
    return;
  }
  const authWorkspace = auth[1]!.toLowerCase();
  const hostWorkspace = HOST_RE.exec(req.headers.host ?? '')?.[1]?.toLowerCase();
  if (hostWorkspace !== undefined && hostWorkspace !== authWorkspace) {
    fail(ctx, ex, state, 403, 'InvalidAuthorization', 'The workspace id in the Authorization header does not match the host name.');
    return;
  }
  if (authWorkspace !== settings.workspaceId) {
    fail(ctx, ex, state, 400, 'InvalidCustomerId', 'The workspace ID specified is invalid.');
    return;
  }
  const xMsDate = single(req.headers['x-ms-date']) ?? '';
  const sentMs = RFC1123_RE.test(xMsDate) ? Date.parse(xMsDate) : NaN;
  if (!Number.isFinite(sentMs)) {
    fail(ctx, ex, state, 403, 'InvalidAuthorization', "The x-ms-date header must be an RFC 1123 date such as 'Mon, 04 Apr 2016 08:00:00 GMT'.");
    return;
  }
  const receivedMs = ctx.now();
  if (Math.abs(receivedMs - sentMs) > settings.maxSkewSec * 1000) {
    fail(
      ctx,
      ex,
      state,
      403,
      'InvalidAuthorization',
      `The x-ms-date ${xMsDate} is more than ${settings.maxSkewSec} s away from the workspace time ${new Date(receivedMs).toUTCString()}.`,
    );
    return;
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > MAX_DATA_COLLECTOR_BODY_BYTES) {
    ex.closeAfterResponse();
    fail(ctx, ex, state, 404, 'NotFound', `The request body of ${declared} bytes exceeds ${MAX_DATA_COLLECTOR_BODY_BYTES} bytes.`);
    return;
  }

  let read;
  try {
    read = await readBody(req, MAX_DATA_COLLECTOR_BODY_BYTES);
  } catch (err) {
    if (!(err instanceof RequestAbortedError)) throw err;
    state.errorCode = 'RequestAborted';
    ctx.log.debug({ err, logType }, 'data collector request aborted by the client');
    return;
  }
  state.bytes = read.bytes;
  if (read.kind === 'too-large') {
    if (!read.complete) ex.closeAfterResponse();
    fail(ctx, ex, state, 404, 'NotFound', `The request body exceeds ${MAX_DATA_COLLECTOR_BODY_BYTES} bytes.`);
    return;
  }
  const body = read.body;
  const toSign = `POST\n${body.length}\napplication/json\nx-ms-date:${xMsDate}\n/api/logs`;
  const expected = createHmac('sha256', settings.key).update(toSign, 'utf8').digest('base64');
  if (!sameSignature(auth[2]!, expected)) {
    fail(ctx, ex, state, 403, 'InvalidAuthorization', 'An invalid signature was specified in the Authorization header.');
    return;
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(body));
  } catch (err) {
    const what = err instanceof SyntaxError ? `not valid JSON: ${err.message.slice(0, 200)}` : 'not valid UTF-8';
    fail(ctx, ex, state, 400, 'InvalidDataFormat', `The request body is ${what}.`);
    return;
  }
  if (!Array.isArray(parsed)) {
    fail(ctx, ex, state, 400, 'InvalidDataFormat', 'The request body must be a JSON array of objects.');
    return;
  }
  const typed = typeRecords(parsed, single(req.headers['time-generated-field'])?.trim(), receivedMs, ctx.store.columns(table) ?? []);
  if (typeof typed === 'string') {
    fail(ctx, ex, state, 400, 'InvalidDataFormat', typed);
    return;
  }
  try {
    state.records = ctx.store.insert(table, typed.columns, typed.rows, receivedMs);
  } catch (err) {
    if (err instanceof WorkspaceStoreError && (err.code === 'schema_conflict' || err.code === 'invalid_value')) {
      ctx.log.error({ err, table, logType }, 'data collector properties conflict with the stored table');
      fail(ctx, ex, state, 500, 'UnspecifiedError', `Table ${table} cannot store these properties: ${err.message}.`);
      return;
    }
    throw err;
  }
  ctx.log.debug({ logType, table, count: state.records, bytes: state.bytes }, 'data collector request stored');
  ex.empty(200);
}

/**
 * Rows and columns of a Data Collector body, or why it is refused. Column names that differ from stored
 * ones only in case take the stored spelling (SQLite identifiers ignore case).
 */
function typeRecords(
  records: unknown[],
  timeField: string | undefined,
  receivedMs: number,
  stored: readonly StoredColumn[],
): { columns: StoredColumn[]; rows: Record<string, unknown>[] } | string {
  const columns = new Map<string, StoredColumn>();
  columns.set('timegenerated', { name: 'TimeGenerated', type: 'datetime' });
  columns.set('sourcesystem', { name: 'SourceSystem', type: 'string' });
  const known = new Map(stored.map((c) => [c.name.toLowerCase(), c]));
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      return `Element ${i} of the array is not a JSON object.`;
    }
    const row: Record<string, unknown> = { SourceSystem: 'RestAPI' };
    let time: number | undefined;
    const seen = new Map<string, string>();
    for (const [property, value] of Object.entries(record as Record<string, unknown>)) {
      if (RESERVED.has(property.toLowerCase())) return `Record ${i}: property '${property.slice(0, 80)}' is reserved (TimeGenerated, RawData, tenant).`;
      let cell;
      try {
        cell = suffixColumn(property, value);
      } catch (err) {
        return `Record ${i}: ${(err as Error).message}; objects must be flat.`;
      }
      if (property === timeField && typeof value === 'string') time = isoDatetimeMs(value);
      if (!cell) continue;
      if (!isStorableColumn(cell.column)) {
        return `Record ${i}: property '${property.slice(0, 80)}' cannot be a column (it needs a letter, and at most 45 characters of letters, digits or _ with its suffix).`;
      }
      const key = cell.column.toLowerCase();
      const other = seen.get(key);
      if (other !== undefined) {
        return `Record ${i}: properties '${other.slice(0, 80)}' and '${property.slice(0, 80)}' both become column ${cell.column}.`;
      }
      seen.set(key, property);
      let column = columns.get(key);
      if (!column) {
        const prev = known.get(key);
        column = prev && prev.type === cell.type ? prev : { name: cell.column, type: cell.type };
        columns.set(key, column);
      }
      row[column.name] = cell.value;
    }
    const inWindow = time !== undefined && time >= receivedMs - TWO_DAYS_MS && time <= receivedMs + ONE_DAY_MS;
    row.TimeGenerated = new Date(inWindow ? time! : receivedMs).toISOString();
    rows.push(row);
  }
  return { columns: [...columns.values()], rows };
}
