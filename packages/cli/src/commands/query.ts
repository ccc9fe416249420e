import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseConfigText } from '@oma/core';
import { listTables, queryWorkspace, readEndpointFile } from '@oma/local-workspace';
import { parseSince, renderTable } from '../format.js';

export interface QueryArgs {
  table?: string;
  json: boolean;
  limit: number;
  since?: string;
  where: string[];
  url?: string;
  dataDir?: string;
  configFile?: string;
}

/** Default config file: $OMA_CONFIG, else config/oma.yaml under the working directory. */
export function defaultConfigFile(): string {
  return process.env.OMA_CONFIG ?? 'config/oma.yaml';
}

/**
 * Where the local workspace is: --url, else the endpoint file in its data directory (from --data-dir, or
 * from the config's dataDir / localWorkspace.dataDir).
 */
export function findWorkspaceUrl(args: Pick<QueryArgs, 'url' | 'dataDir' | 'configFile'>): string {
  if (args.url) return args.url.replace(/\/+$/, '');
  let dir = args.dataDir ? resolve(args.dataDir) : undefined;
  if (!dir) {
    const file = args.configFile ?? defaultConfigFile();
    if (!existsSync(file)) {
      throw new Error(`cannot find the local workspace: no config file ${file}; pass --url, --data-dir or --config`);
    }
    const doc = parseConfigText(readFileSync(file, 'utf8'), file) as { dataDir?: unknown; localWorkspace?: { dataDir?: unknown } };
    const lwDir = doc?.localWorkspace?.dataDir;
    const dataDir = typeof doc?.dataDir === 'string' ? doc.dataDir : process.platform === 'win32' ? 'C:\\ProgramData\\OMA' : '/var/lib/oma';
    dir = resolve(typeof lwDir === 'string' ? lwDir : join(dataDir, 'local-workspace'));
  }
  const ep = readEndpointFile(dir);
  if (!ep) throw new Error(`no local workspace is running for ${dir} (is \`npm start\` or \`oma workspace serve\` running?)`);
  return ep.url;
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
  const url = findWorkspaceUrl(args);
  if (!args.table) {
    const tables = await listTables(url);
    if (args.json) for (const t of tables) out.write(`${JSON.stringify(t)}\n`);
    else out.write(`${renderTable(['table', 'rows'], tables.map((t) => ({ table: t.name, rows: t.rowCount })))}\n`);
    return 0;
  }
  const result = await queryWorkspace(url, {
    table: args.table,
    limit: args.limit,
    ...(args.since ? { since: new Date(parseSince(args.since)).toISOString() } : {}),
    where: parseWhere(args.where),
  });
  if (args.json) {
    for (const r of result.rows) out.write(`${JSON.stringify(r)}\n`);
    return 0;
  }
  const cols = result.columns.map((c) => c.name);
  out.write(`${renderTable(cols, result.rows)}\n(${result.rows.length} row${result.rows.length === 1 ? '' : 's'}, newest first)\n`);
  return 0;
}
