import { randomUUID } from 'node:crypto';
import { checkValue } from '@oma/core';
import { MAX_INGEST_BODY_BYTES, SUPPORTED_API_VERSIONS } from '../constants.js';
import { resolveStream } from '../dcr.js';
import { gunzipLimited, readBody, RequestAbortedError } from '../http/body.js';
import type { Exchange } from '../http/exchange.js';
import { WorkspaceStoreError } from '../store/workspace-store.js';
import { applyFaults, reject, type RequestState, type ServerContext } from './context.js';

const MAX_REPORTED_PROBLEMS = 10;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function tooLarge(ctx: ServerContext, ex: Exchange, state: RequestState, provided: string, limit = MAX_INGEST_BODY_BYTES): void {
  const shown = limit === MAX_INGEST_BODY_BYTES ? '1 MB' : `${Math.round(limit / 1_048_576)} MiB after decompression`;
  reject(ctx, ex, state, 413, 'ContentLengthLimitExceeded', `Maximum allowed content length: ${limit} bytes (${shown}). Provided content length: ${provided}.`);
}

function mediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase();
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/**
 * POST /dataCollectionRules/{dcrImmutableId}/streams/{streamName}?api-version=2023-01-01
 * The Logs Ingestion API (docs/protocol-notes.md#logs-ingestion): checks api-version, bearer token, DCR and stream, content type and
 * encoding, the 1 MB limit on the wire and the larger cap on the inflated body (`maxInflatedBodyBytes`), the JSON shape and every value's type, then
 * stores the rows in one transaction and answers 204.
 */
export async function handleIngest(ctx: ServerContext, ex: Exchange, state: RequestState, dcrId: string, streamName: string): Promise<void> {
  state.route = 'ingest';
  state.dcrImmutableId = dcrId;
  state.stream = streamName;
  const { req } = ex;
  if (req.method !== 'POST') {
    reject(ctx, ex, state, 405, 'MethodNotAllowed', `The requested resource does not support http method '${req.method ?? ''}'.`, { allow: 'POST' });
    return;
  }
  if (await applyFaults(ctx, ex, state, 'ingest', streamName)) return;

  const apiVersion = ex.url.searchParams.get('api-version');
  if (apiVersion === null || apiVersion === '') {
    reject(ctx, ex, state, 400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.');
    return;
  }
  if (!SUPPORTED_API_VERSIONS.includes(apiVersion)) {
    reject(
      ctx,
      ex,
      state,
      400,
      'UnsupportedApiVersion',
      `The HTTP resource that matches the request URI does not support the API version '${apiVersion.slice(0, 40)}'. Supported versions: ${SUPPORTED_API_VERSIONS.join(', ')}.`,
    );
    return;
  }
  const auth = await ctx.verifier.verify(req.headers.authorization);
  if (!auth.ok) {
    reject(ctx, ex, state, 401, auth.code, auth.message, {
      'www-authenticate': `Bearer error="invalid_token", error_description="${auth.message.replaceAll('"', "'")}"`,
    });
    return;
  }
  const dcr = ctx.dcrs.get(dcrId);
  if (!dcr) {
    reject(ctx, ex, state, 404, 'NotFound', `Data collection rule with immutable Id '${dcrId}' not found.`);
    return;
  }
  const stream = resolveStream(dcr, streamName);
  if (!stream) {
    reject(ctx, ex, state, 404, 'InvalidStream', `Stream '${streamName}' is not declared in data collection rule with immutable Id '${dcrId}'.`);
    return;
  }
  if (mediaType(req.headers['content-type']) !== 'application/json') {
    reject(ctx, ex, state, 415, 'UnsupportedMediaType', "Content-Type must be 'application/json'.");
    return;
  }
  const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity' && encoding !== 'gzip') {
    reject(ctx, ex, state, 415, 'UnsupportedContentEncoding', "Content-Encoding must be 'gzip' or absent.");
    return;
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > MAX_INGEST_BODY_BYTES) {
    tooLarge(ctx, ex, state, `${declared} bytes`);
    return;
  }

  let read;
  try {
    read = await readBody(req, MAX_INGEST_BODY_BYTES);
  } catch (err) {
    if (!(err instanceof RequestAbortedError)) throw err;
    state.errorCode = 'RequestAborted';
    ctx.log.debug({ err, stream: streamName }, 'ingestion request aborted by the client');
    return;
  }
  state.bytes = read.bytes;
  if (read.kind === 'too-large') {
    if (!read.complete) ex.closeAfterResponse();
    tooLarge(ctx, ex, state, `${read.bytes} bytes`);
    return;
  }
  let body = read.body;
  if (encoding === 'gzip') {
    const inflated = await gunzipLimited(body, ctx.maxInflatedBodyBytes);
    if (inflated.kind === 'too-large') {
      tooLarge(ctx, ex, state, `more than ${ctx.maxInflatedBodyBytes} bytes after decompression`, ctx.maxInflatedBodyBytes);
      return;
    }
    if (inflated.kind === 'malformed') {
      reject(ctx, ex, state, 400, 'InvalidContentEncoding', `The request body is not valid gzip data: ${inflated.message}`);
      return;
    }
    body = inflated.body;
  }

  let records: unknown;
  try {
    records = JSON.parse(utf8.decode(body));
  } catch (err) {
    const what = err instanceof SyntaxError ? `not valid JSON: ${err.message.slice(0, 200)}` : 'not valid UTF-8';
    reject(ctx, ex, state, 400, 'InvalidJson', `The request body is ${what}.`);
    return;
  }
  if (!Array.isArray(records)) {
    reject(ctx, ex, state, 400, 'InvalidJson', `The request body must be a JSON array of objects, not ${describe(records)}.`);
    return;
  }
  const bad = records.findIndex((r) => typeof r !== 'object' || r === null || Array.isArray(r));
  if (bad >= 0) {
    reject(ctx, ex, state, 400, 'InvalidJson', `The request body must be a JSON array of objects; element ${bad} is ${describe(records[bad])}.`);
    return;
  }
  const rows = records as Record<string, unknown>[];
  const problems: { index: number; column: string; message: string }[] = [];
  let total = 0;
  rows.forEach((record, index) => {
    for (const c of stream.columns) {
      const why = checkValue(c.type, record[c.name]);
      if (why === undefined) continue;
      total++;
      if (problems.length < MAX_REPORTED_PROBLEMS) problems.push({ index, column: c.name, message: why });
    }
  });
  if (problems.length > 0) {
    const first = problems[0]!;
    const more = total > 1 ? ` (${total - 1} more problem${total > 2 ? 's' : ''})` : '';
    reject(
      ctx,
      ex,
      state,
      400,
      'SchemaMismatch',
      `Record ${first.index}, column '${first.column}' (${stream.columns.find((c) => c.name === first.column)?.type ?? ''}): ${first.message}${more}.`,
      {},
      problems.map((p) => ({ code: 'SchemaMismatch', target: `[${p.index}].${p.column}`, message: `Record ${p.index}, column '${p.column}': ${p.message}` })),
    );
    return;
  }
  try {
    state.records = ctx.store.insert(stream.table, stream.columns, rows, ctx.now());
  } catch (err) {
    if (err instanceof WorkspaceStoreError && err.code === 'invalid_value') {
      reject(ctx, ex, state, 400, 'SchemaMismatch', `${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.`);
      return;
    }
    if (err instanceof WorkspaceStoreError && err.code === 'schema_conflict') {
      ctx.log.error({ err, table: stream.table, stream: streamName }, 'stream columns conflict with the stored table');
      reject(ctx, ex, state, 500, 'InternalServerError', `Table ${stream.table} cannot store stream ${streamName}: ${err.message}.`);
      return;
    }
    throw err;
  }
  ctx.log.debug({ stream: streamName, table: stream.table, count: state.records, bytes: state.bytes }, 'ingestion request stored');
  ex.empty(204, { 'x-ms-request-id': randomUUID() });
}
