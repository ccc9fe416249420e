import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseConfigText } from '@oma/core';
import { listTables, MAX_QUERY_LIMIT, queryWorkspace, readEndpointFile, readQueryToken, type WorkspaceAccess } from '@oma/local-workspace';
import { defaultConfigFile } from '../config-file.js';
import { parseSince, renderTable } from '../format.js';

export interface QueryArgs {
  table?: string;
  json: boolean;
  /** Rows wanted; above the server's 10,000 per request they are fetched in pages. */
  limit: number;
  /** Rows to skip first. */
  offset?: number;
  since?: string;
  where: string[];
  url?: string;
  dataDir?: string;
  configFile?: string;
}

/**
 * Where the local workspace is and how to authenticate to its query API: --url, else the endpoint file in
 * its data directory (from --data-dir, or from the config's dataDir / localWorkspace.dataDir, or the
 * platform's default data directory `platformDataDir`). The query
 * token comes from the data directory's `query-token` file (or $OMA_QUERY_TOKEN with a bare --url), and
 * with TLS the CA file from the endpoint file.
 */
export function findWorkspace(args: Pick<QueryArgs, 'url' | 'dataDir' | 'configFile'>, platformDataDir?: string): WorkspaceAccess {
  const envToken = process.env.OMA_QUERY_TOKEN;
  if (args.url) {
    const token = args.dataDir ? readQueryToken(resolve(args.dataDir)) : envToken;
    return { url: args.url.replace(/\/+$/, ''), ...(token ? { queryToken: token } : {}) };
  }
  let dir = args.dataDir ? resolve(args.dataDir) : undefined;
  if (!dir) {
    const file = args.configFile ?? defaultConfigFile();
    if (!existsSync(file)) {
      throw new Error(`cannot find the local workspace: no config file ${file}; pass --url, --data-dir or --config`);
    }
    const doc = parseConfigText(readFileSync(file, 'utf8'), file) as { dataDir?: unknown; localWorkspace?: { dataDir?: unknown } };
    const lwDir = doc?.localWorkspace?.dataDir;
    const dataDir = typeof doc?.dataDir === 'string' ? doc.dataDir : platformDataDir;
    if (dataDir === undefined) throw new Error(`${file} sets no dataDir; pass --data-dir`);
    dir = resolve(typeof lwDir === 'string' ? lwDir : join(dataDir, 'local-workspace'));
  }
  const ep = readEndpointFile(dir);
  if (!ep) throw new Error(`no local workspace is running for ${dir} (is \`npm start\` or \`oma workspace serve\` running?)`);
  const token = readQueryToken(dir) ?? envToken;
  return { url: ep.url, ...(token ? { queryToken: token } : {}), ...(ep.caFile ? { caFile: ep.caFile } : {}) };
}

function parseWhere(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of items) {
    const i = w.indexOf('=');
    if (i <= 0) throw new Error(`--where: expected Column=value, got "${w}"`);
    out[w.slice(0, i)] = w.slice(i + 1);
  }
  return out;
}

/** `oma query [Table]`: rows newest first as a table (or JSON lines); without a table, the tables and counts. */
export async function runQuery(args: QueryArgs, out: NodeJS.WritableStream): Promise<number> {
  const platformDataDir = args.url || args.dataDir ? undefined : (await (await import('../platform.js')).loadPlatform()).defaults.dataDir;
  const ws = findWorkspace(args, platformDataDir);
  if (!args.table) {
    const tables = await listTables(ws);
    if (args.json) for (const t of tables) out.write(`${JSON.stringify(t)}\n`);
    else out.write(`${renderTable(['table', 'rows'], tables.map((t) => ({ table: t.name, rows: t.rowCount })))}\n`);
    return 0;
  }
  const since = args.since ? new Date(parseSince(args.since)).toISOString() : undefined;
  const where = parseWhere(args.where);
  // The server answers at most MAX_QUERY_LIMIT rows per request: larger limits are read page by page.
  const rows: Record<string, unknown>[] = [];
  let columns: readonly { name: string }[] = [];
  let offset = args.offset ?? 0;
  let count = 0;
  while (count < args.limit) {
    const page = await queryWorkspace(ws, {
      table: args.table,
      limit: Math.min(MAX_QUERY_LIMIT, args.limit - count),
      ...(offset > 0 ? { offset } : {}),
      ...(since ? { since } : {}),
      where,
    });
    columns = page.columns;
    if (args.json) for (const r of page.rows) out.write(`${JSON.stringify(r)}\n`);
    else rows.push(...page.rows);
    count += page.rows.length;
    offset += page.rows.length;
    if (page.rows.length < MAX_QUERY_LIMIT) break;
  }
  if (args.json) return 0;
  const cols = columns.map((c) => c.name);
  out.write(`${renderTable(cols, rows)}\n(${rows.length} row${rows.length === 1 ? '' : 's'}, newest first)\n`);
  return 0;
}
