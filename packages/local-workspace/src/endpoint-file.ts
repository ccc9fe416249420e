import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENDPOINT_FILE, QUERY_TOKEN_FILE } from './constants.js';

/** What `<dataDir>/endpoint.json` tells other processes (e.g. `oma query`) about a running workspace. */
export interface EndpointInfo {
  /** Base URL of ingestion, query and admin routes, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Authority base: POST `{authority}/{tenantId}/oauth2/v2.0/token`. */
  readonly authority: string;
  readonly tenantId: string;
  /** Immutable id of the first (default) DCR. */
  readonly dcrImmutableId: string;
  readonly pid: number;
  readonly startedAt: string;
  /** With TLS: the CA file clients must trust. */
  readonly caFile?: string;
}

function isEndpointInfo(v: unknown): v is EndpointInfo {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.url === 'string' &&
    typeof o.authority === 'string' &&
    typeof o.tenantId === 'string' &&
    typeof o.dcrImmutableId === 'string' &&
    typeof o.pid === 'number' &&
    Number.isInteger(o.pid) &&
    typeof o.startedAt === 'string' &&
    (o.caFile === undefined || typeof o.caFile === 'string')
  );
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Reads `<dataDir>/endpoint.json`. Returns undefined when there is none or when the process that wrote
 * it is no longer running (a stale file); throws when the file exists but is not a valid endpoint file.
 */
export function readEndpointFile(dataDir: string): EndpointInfo | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, ENDPOINT_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${ENDPOINT_FILE} in ${dataDir} is not valid JSON`, { cause: err });
  }
  if (!isEndpointInfo(value)) throw new Error(`${ENDPOINT_FILE} in ${dataDir} is not a workspace endpoint file`);
  return processAlive(value.pid) ? value : undefined;
}

/** Writes the endpoint file atomically (temporary file + rename). */
export function writeEndpointFile(dataDir: string, info: EndpointInfo): void {
  const file = join(dataDir, ENDPOINT_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Removes the endpoint file if it still describes this workspace (another one may have replaced it). */
export function removeEndpointFile(dataDir: string, url: string): void {
  const file = join(dataDir, ENDPOINT_FILE);
  try {
    const current = JSON.parse(readFileSync(file, 'utf8')) as Partial<EndpointInfo>;
    if (current.url !== url || current.pid !== process.pid) return;
  } catch {
    return;
  }
  rmSync(file, { force: true });
}

/** The bearer token a running workspace's `/query` accepts, from `<dataDir>/query-token`; undefined when absent. */
export function readQueryToken(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, QUERY_TOKEN_FILE), 'utf8').trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
