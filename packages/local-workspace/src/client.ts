import { TransportError } from '@oma/core';
import type { QueryResult, TableInfo } from './store/workspace-store.js';

export interface QueryWorkspaceOptions {
  readonly table: string;
  /** Rows to return, 1..10,000 (the server's default is 100). */
  readonly limit?: number;
  /** Only rows with TimeGenerated at or after this: epoch ms, a Date, or an ISO 8601 string. */
  readonly since?: number | Date | string;
  /** Column equality filters, ANDed. */
  readonly where?: Readonly<Record<string, string>>;
  /** `desc` (default): newest first. */
  readonly order?: 'asc' | 'desc';
  readonly signal?: AbortSignal;
  /** Request timeout, ms (default 10,000). */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

async function getJson(url: URL, signal: AbortSignal | undefined, timeoutMs: number): Promise<unknown> {
  const timeout = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout, headers: { accept: 'application/json' } });
  } catch (err) {
    throw new TransportError(`local workspace at ${url.origin} is not reachable`, undefined, { cause: err });
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch (err) {
    throw new TransportError(`local workspace answered ${res.status} with a body that is not JSON`, res.status, { cause: err });
  }
  if (!res.ok) {
    const message = (body as { error?: { message?: unknown } } | undefined)?.error?.message;
    throw new TransportError(typeof message === 'string' ? message : `local workspace answered ${res.status}`, res.status);
  }
  return body;
}

/** Queries rows of one table of a running local workspace (GET /query/{table}). */
export async function queryWorkspace(baseUrl: string, opts: QueryWorkspaceOptions): Promise<QueryResult> {
  const url = new URL(`query/${encodeURIComponent(opts.table)}`, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  if (opts.limit !== undefined) url.searchParams.set('limit', String(opts.limit));
  if (opts.since !== undefined) {
    const since = opts.since instanceof Date ? opts.since.toISOString() : String(opts.since);
    url.searchParams.set('since', since);
  }
  for (const [k, v] of Object.entries(opts.where ?? {})) url.searchParams.append('where', `${k}=${v}`);
  if (opts.order) url.searchParams.set('order', opts.order);
  const body = await getJson(url, opts.signal, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const r = body as Partial<QueryResult> | undefined;
  if (!r || typeof r.table !== 'string' || !Array.isArray(r.columns) || !Array.isArray(r.rows)) {
    throw new TransportError('local workspace answered a query with an unexpected body', 200);
  }
  return r as QueryResult;
}

/** Lists the tables of a running local workspace with their row counts (GET /query/tables). */
export async function listTables(baseUrl: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<TableInfo[]> {
  const url = new URL('query/tables', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const body = await getJson(url, opts.signal, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const tables = (body as { tables?: unknown } | undefined)?.tables;
  if (!Array.isArray(tables)) throw new TransportError('local workspace answered a table list with an unexpected body', 200);
  return tables as TableInfo[];
}
