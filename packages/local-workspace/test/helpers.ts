import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { LocalWorkspace, type LocalWorkspaceOptions } from '../src/index.js';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'oma-ws-'));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Starts a workspace in a fresh temp dir; `stop()` closes it and removes the dir. */
export async function startWorkspace(opts: Partial<LocalWorkspaceOptions> = {}): Promise<{ ws: LocalWorkspace; dir: string; stop: () => Promise<void> }> {
  const dir = opts.dataDir ?? tempDir();
  const ws = await LocalWorkspace.start({ ...opts, dataDir: dir });
  return {
    ws,
    dir,
    stop: async () => {
      await ws.close();
      removeDir(dir);
    },
  };
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown[] };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: () => ErrorBody;
}

/**
 * A raw HTTP request with node:http, for what fetch cannot do: send a Content-Length that is not the body's,
 * stream a chunked body, or abort mid-upload. `body` chunks are written in order.
 */
export function rawRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string | number>; body?: Buffer | Buffer[]; abortAfterBytes?: number },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'POST', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as ErrorBody });
      });
    });
    req.on('error', reject);
    const chunks = opts.body === undefined ? [] : Array.isArray(opts.body) ? opts.body : [opts.body];
    let sent = 0;
    for (const c of chunks) {
      if (opts.abortAfterBytes !== undefined && sent + c.length > opts.abortAfterBytes) {
        // Destroy once the partial body is handed to the kernel: the server sees headers and data, then EOF.
        req.write(c.subarray(0, opts.abortAfterBytes - sent), () => req.destroy());
        return;
      }
      req.write(c);
      sent += c.length;
    }
    req.end();
  });
}

export async function getToken(ws: LocalWorkspace, form: Record<string, string> = {}): Promise<Response> {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: ws.clients[0]!.clientId,
    client_secret: ws.clients[0]!.clientSecret ?? '',
    scope: 'https://monitor.azure.com//.default',
    ...form,
  });
  return fetch(ws.tokenUrl(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
}

export async function accessToken(ws: LocalWorkspace): Promise<string> {
  const res = await getToken(ws);
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

export interface IngestOptions {
  token?: string | null;
  gzip?: boolean;
  requestId?: string;
  dcr?: string;
  apiVersion?: string | null;
  contentType?: string;
}

/** POSTs records (or a raw body) to a stream with fetch; returns the response. */
export async function ingest(ws: LocalWorkspace, stream: string, records: unknown, opts: IngestOptions = {}): Promise<Response> {
  const raw = Buffer.isBuffer(records) ? records : Buffer.from(JSON.stringify(records), 'utf8');
  const body = opts.gzip ? gzipSync(raw) : raw;
  const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/json' };
  if (opts.gzip) headers['content-encoding'] = 'gzip';
  const token = opts.token === undefined ? await ws.issueToken() : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (opts.requestId) headers['x-ms-client-request-id'] = opts.requestId;
  let url = ws.ingestionUrl(stream, opts.dcr);
  if (opts.apiVersion !== undefined) {
    const u = new URL(url);
    if (opts.apiVersion === null) u.searchParams.delete('api-version');
    else u.searchParams.set('api-version', opts.apiVersion);
    url = u.toString();
  }
  return fetch(url, { method: 'POST', headers, body });
}

export function syslog(n: number, base: Partial<Record<string, unknown>> = {}): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    TimeGenerated: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
    Computer: 'host-a',
    Facility: 'daemon',
    SeverityLevel: 'info',
    ProcessID: 100 + i,
    ProcessName: 'app',
    SyslogMessage: `message ${i}`,
    ...base,
  }));
}
