import { createHash, timingSafeEqual } from 'node:crypto';
import { QUERY_TOKEN_FILE } from '../constants.js';
import type { Exchange } from '../http/exchange.js';
import { MAX_QUERY_LIMIT, WorkspaceStoreError, type TableInfo } from '../store/workspace-store.js';
import { parseDatetimeMs } from '../store/values.js';
import type { RequestState, ServerContext } from './context.js';
import { reject } from './context.js';

function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * The query API reads every stored row, so it wants a credential: the workspace's query token (the
 * `query-token` file in its data directory, readable only by its user) or an access token from its token
 * endpoint. Answers 405 or 401 and returns false when the request may not proceed.
 */
async function authorized(ctx: ServerContext, ex: Exchange, state: RequestState): Promise<boolean> {
  if (ex.req.method !== 'GET') {
    reject(ctx, ex, state, 405, 'MethodNotAllowed', 'Only GET is supported.', { allow: 'GET' });
    return false;
  }
  const header = ex.req.headers.authorization;
  const m = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header ?? '');
  if (m?.[1] && tokenMatches(m[1], ctx.queryToken)) return true;
  const auth = await ctx.verifier.verify(header);
  if (auth.ok) return true;
  const message =
    auth.code === 'MissingToken'
      ? `The query API needs a bearer token: the contents of ${QUERY_TOKEN_FILE} in the workspace's data directory (oma query reads it), or an access token from the workspace's token endpoint.`
      : auth.message;
  reject(ctx, ex, state, 401, auth.code, message, { 'www-authenticate': 'Bearer realm="local-workspace-query"' });
  return false;
}

/** GET /query/tables: stored tables and tables the DCRs declare (0 rows until the first ingestion). */
export async function handleListTables(ctx: ServerContext, ex: Exchange, state: RequestState): Promise<void> {
  if (!(await authorized(ctx, ex, state))) return;
  const tables = new Map<string, TableInfo>();
  for (const name of ctx.declaredTables.keys()) tables.set(name, { name, rowCount: 0 });
  for (const t of ctx.store.tables()) tables.set(t.name, t);
  ex.json(200, { tables: [...tables.values()].sort((a, b) => a.name.localeCompare(b.name)) });
}

/**
 * GET /query/{table}?limit=100&offset=0&since=<ms|ISO>&where=Col=value&where=...&order=desc
 * Rows newest first by TimeGenerated (ties: newest insertion first); `order=asc` reverses.
 */
export async function handleQuery(ctx: ServerContext, ex: Exchange, state: RequestState, table: string): Promise<void> {
  if (!(await authorized(ctx, ex, state))) return;
  const p = ex.url.searchParams;
  const bad = (message: string): void => reject(ctx, ex, state, 400, 'InvalidQuery', message);
  let limit: number | undefined;
  const limitText = p.get('limit');
  if (limitText !== null) {
    limit = /^\d{1,6}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= MAX_QUERY_LIMIT)) return bad(`limit must be an integer in 1..${MAX_QUERY_LIMIT}; page through more rows with offset`);
  }
  let offset: number | undefined;
  const offsetText = p.get('offset');
  if (offsetText !== null) {
    if (!/^\d{1,15}$/.test(offsetText)) return bad('offset must be a non-negative integer');
    offset = Number(offsetText);
  }
  let sinceMs: number | undefined;
  const sinceText = p.get('since');
  if (sinceText !== null) {
    sinceMs = /^-?\d{1,16}$/.test(sinceText) ? Number(sinceText) : parseDatetimeMs(sinceText);
    if (sinceMs === undefined) return bad('since must be epoch milliseconds or an ISO 8601 time');
  }
  const order = p.get('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') return bad("order must be 'asc' or 'desc'");
  const where: Record<string, string> = {};
  for (const w of p.getAll('where')) {
    const eq = w.indexOf('=');
    if (eq <= 0) return bad(`where must be Column=value: ${JSON.stringify(w.slice(0, 80))}`);
    const name = w.slice(0, eq);
    if (Object.hasOwn(where, name)) return bad(`where names column ${name} more than once`);
    where[name] = w.slice(eq + 1);
  }
  try {
    ex.json(200, ctx.store.query({ table, limit, offset, sinceMs, where, order }));
  } catch (err) {
    if (!(err instanceof WorkspaceStoreError)) throw err;
    if (err.code === 'unknown_table') {
      const declared = ctx.declaredTables.get(table);
      if (!declared) return reject(ctx, ex, state, 404, 'TableNotFound', `Table '${table.slice(0, 80)}' does not exist in the local workspace.`);
      // Declared but never written: validate the filters against the declared columns, answer no rows.
      for (const name of Object.keys(where)) {
        if (!declared.some((c) => c.name === name)) return bad(`table ${table} has no column ${JSON.stringify(name.slice(0, 80))}`);
      }
      ex.json(200, { table, columns: [...declared, { name: '_TimeReceived', type: 'datetime' }], rows: [] });
      return;
    }
    bad(err.message);
  }
}
