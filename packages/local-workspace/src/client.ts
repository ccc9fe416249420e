import { readFileSync } from 'node:fs';
import { TransportError } from '@oma/core';
import { Agent, fetch as undiciFetch, type Response } from 'undici';
import type { QueryResult, TableInfo } from './store/workspace-store.js';

/**
 * How to reach a running workspace's query API: its URL, the bearer token `/query` accepts (the workspace's
 * `queryToken`, or the `query-token` file of its data directory), and with TLS the CA file to trust. A
 * `LocalWorkspace` is one.
 */
export interface WorkspaceAccess {
  readonly url: string;
  readonly queryToken?: string;
  readonly caFile?: string;
}

export interface QueryWorkspaceOptions {
  readonly table: string;
  /** Rows to return, 1..10,000 (the server's default is 100). */
  readonly limit?: number;
  /** Rows to skip first (paging past 10,000). */
  readonly offset?: number;
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

const agents = new Map<string, Agent>();

/** A dispatcher trusting `caFile` (besides the system's CAs), shared per file. */
function agentFor(caFile: string): Agent {
  let agent = agents.get(caFile);
  if (!agent) {
    agent = new Agent({ connect: { ca: readFileSync(caFile, 'utf8') } });
    agents.set(caFile, agent);
  }
  return agent;
}

function access(target: string | WorkspaceAccess): WorkspaceAccess {
  return typeof target === 'string' ? { url: target } : target;
}

function endpoint(target: WorkspaceAccess, path: string): URL {
  return new URL(path, target.url.endsWith('/') ? target.url : `${target.url}/`);
}

async function getJson(target: WorkspaceAccess, url: URL, signal: AbortSignal | undefined, timeoutMs: number): Promise<unknown> {
  const timeout = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await undiciFetch(url, {
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      headers: { accept: 'application/json', ...(target.queryToken ? { authorization: `Bearer ${target.queryToken}` } : {}) },
      ...(target.caFile ? { dispatcher: agentFor(target.caFile) } : {}),
    });
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
export async function queryWorkspace(workspace: string | WorkspaceAccess, opts: QueryWorkspaceOptions): Promise<QueryResult> {
  const target = access(workspace);
  const url = endpoint(target, `query/${encodeURIComponent(opts.table)}`);
  if (opts.limit !== undefined) url.searchParams.set('limit', String(opts.limit));
  if (opts.offset !== undefined) url.searchParams.set('offset', String(opts.offset));
  if (opts.since !== undefined) {
    const since = opts.since instanceof Date ? opts.since.toISOString() : String(opts.since);
    url.searchParams.set('since', since);
  }
  for (const [k, v] of Object.entries(opts.where ?? {})) url.searchParams.append('where', `${k}=${v}`);
  if (opts.order) url.searchParams.set('order', opts.order);
  const body = await getJson(target, url, opts.signal, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const r = body as Partial<QueryResult> | undefined;
  if (!r || typeof r.table !== 'string' || !Array.isArray(r.columns) || !Array.isArray(r.rows)) {
    throw new TransportError('local workspace answered a query with an unexpected body', 200);
  }
  return r as QueryResult;
}

/** Lists the tables of a running local workspace with their row counts (GET /query/tables). */
export async function listTables(workspace: string | WorkspaceAccess, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<TableInfo[]> {
  const target = access(workspace);
  const body = await getJson(target, endpoint(target, 'query/tables'), opts.signal, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const tables = (body as { tables?: unknown } | undefined)?.tables;
  if (!Array.isArray(tables)) throw new TransportError('local workspace answered a table list with an unexpected body', 200);
  return tables as TableInfo[];
}
