import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { timeoutSignal } from '../../http/abort.js';
import { discardBody } from '../../http/body.js';
import { createDispatcher } from '../../http/dispatcher.js';
import type { Logger } from '../../telemetry/logger.js';
import { type DcrSettings, redactedUrl } from './config.js';

/** Name of the cache of the last applied rule fetched from a URL, in the data directory. */
export const DCR_CACHE_FILE = 'dcr-cache.json';
/** Largest rule document accepted. */
export const DCR_MAX_BYTES = 4 * 1024 * 1024;

export interface DcrLoadResult {
  /** True when `json` differs from what the previous `load()` returned (true for the first document). */
  readonly changed: boolean;
  /** The current rule document: the newest good one read; undefined while none was ever read. */
  readonly json: unknown;
  /** ETag of `json` when it came from a URL that sent one. */
  readonly etag: string | undefined;
  /** Where `json` came from. */
  readonly from: 'file' | 'url' | 'cache' | 'none';
  /** Why this load did not give a new document (unreadable file, HTTP status, network error, invalid JSON). */
  readonly error?: string;
}

export interface DcrSourceOptions {
  readonly settings: DcrSettings;
  /** Data directory; a URL's last applied rule is cached there. */
  readonly dataDir: string;
  readonly log: Logger;
  readonly userAgent?: string;
}

interface Current {
  readonly json: unknown;
  readonly hash: string;
  readonly etag: string | undefined;
  readonly from: 'file' | 'url' | 'cache';
}

interface CacheFile {
  readonly version: 1;
  /** SHA-256 of the URL: the URL itself may carry a token in its query. */
  readonly urlHash: string;
  readonly etag?: string;
  readonly savedAt: string;
  readonly dcr: unknown;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function parseJson(text: string): { ok: true; json: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, json: JSON.parse(text.replace(/^\uFEFF/, '')) as unknown };
  } catch (err) {
    return { ok: false, error: `not valid JSON: ${(err as Error).message}` };
  }
}

function errText(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : undefined;
  if (message === undefined) return code ?? String(err);
  return code === undefined || message.includes(code) ? message : `${message} (${code})`;
}

/**
 * Reads a data collection rule from a file or an https URL. A file is re-read when its size, mtime or
 * inode changed; a URL is fetched with `If-None-Match` (304: unchanged). When a read fails (missing
 * file, HTTP error, network error, invalid JSON) the last good document stays current and a warning is
 * logged; the next `load()` tries again. A URL's rule is cached with `saveCache` once applied, so a
 * restart without network still has it.
 */
export class DcrSource {
  private current: Current | undefined;
  private reportedHash: string | undefined;
  private fileStamp: string | undefined;
  private lastFileError: string | undefined;
  private cacheRead = false;
  private dispatcher: Dispatcher | undefined;
  private readonly settings: DcrSettings;

  constructor(private readonly opts: DcrSourceOptions) {
    this.settings = opts.settings;
  }

  /** Where the rule comes from, for logs (a URL without its query). */
  get location(): string {
    return this.settings.kind === 'file' ? this.settings.file : redactedUrl(this.settings.url);
  }

  get cacheFile(): string {
    return join(this.opts.dataDir, DCR_CACHE_FILE);
  }

  async load(signal?: AbortSignal): Promise<DcrLoadResult> {
    const error = this.settings.kind === 'file' ? await this.loadFile() : await this.loadUrl(signal);
    const cur = this.current;
    const changed = cur !== undefined && cur.hash !== this.reportedHash;
    if (cur) this.reportedHash = cur.hash;
    return { changed, json: cur?.json, etag: cur?.etag, from: cur?.from ?? 'none', ...(error !== undefined ? { error } : {}) };
  }

  private async loadFile(): Promise<string | undefined> {
    const s = this.settings as Extract<DcrSettings, { kind: 'file' }>;
    let text: string;
    try {
      const st = await stat(s.file);
      const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (stamp === this.fileStamp) return undefined;
      if (st.size > DCR_MAX_BYTES) throw Object.assign(new Error(`larger than ${DCR_MAX_BYTES} bytes`), { code: 'EFBIG' });
      text = await readFile(s.file, 'utf8');
      this.fileStamp = stamp;
    } catch (err) {
      this.fileStamp = undefined;
      return this.fileFailed(`cannot read ${s.file}: ${errText(err)}`, err);
    }
    const parsed = parseJson(text);
    if (!parsed.ok) return this.fileFailed(`${s.file}: ${parsed.error}`);
    this.lastFileError = undefined;
    const hash = sha256(JSON.stringify(parsed.json));
    if (hash !== this.current?.hash) this.current = { json: parsed.json, hash, etag: undefined, from: 'file' };
    return undefined;
  }

  private fileFailed(error: string, err?: unknown): string {
    // A file that stays broken is reported once, not at every poll.
    if (error !== this.lastFileError) {
      this.opts.log.warn({ file: this.location, reason: error, ...(err ? { err } : {}) }, 'data collection rule not read; keeping the last good rule');
    }
    this.lastFileError = error;
    return error;
  }

  private async loadUrl(signal: AbortSignal | undefined): Promise<string | undefined> {
    const s = this.settings as Extract<DcrSettings, { kind: 'url' }>;
    if (!this.cacheRead) {
      this.cacheRead = true;
      const cached = await this.readCache();
      if (cached) this.current = { json: cached.json, hash: sha256(JSON.stringify(cached.json)), etag: cached.etag, from: 'cache' };
    }
    const url = new URL(s.url);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.opts.userAgent ?? 'OMA' };
    for (const [k, v] of Object.entries(s.headers)) headers[k.toLowerCase()] = v.reveal();
    if (this.current?.etag) headers['if-none-match'] = this.current.etag;
    this.dispatcher ??= createDispatcher(url.origin, {
      connections: 1,
      headersTimeoutMs: s.requestTimeoutMs,
      bodyTimeoutMs: s.requestTimeoutMs,
      egress: s.egress,
    });
    const timeout = timeoutSignal(s.requestTimeoutMs, signal);
    let status: number | undefined;
    let failure: string | undefined;
    let body: { text: string; etag: string | undefined } | undefined;
    try {
      const res = await this.dispatcher.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method: 'GET', headers, signal: timeout.signal });
      status = res.statusCode;
      if (status === 200) {
        const etag = res.headers.etag;
        body = { text: await readLimited(res.body, DCR_MAX_BYTES), etag: typeof etag === 'string' ? etag : undefined };
      } else {
        await discardBody(res.body);
        if (status !== 304) failure = `HTTP ${status}`;
        else if (!this.current) failure = 'HTTP 304 but no rule is cached';
      }
    } catch (err) {
      failure = timeout.timedOut ? `no response within ${s.requestTimeoutMs} ms` : `request failed: ${errText(err)}`;
      if (signal?.aborted) return failure;
    } finally {
      timeout.dispose();
    }
    if (body) {
      const parsed = parseJson(body.text);
      if (!parsed.ok) failure = parsed.error;
      else {
        const hash = sha256(JSON.stringify(parsed.json));
        this.current = hash === this.current?.hash && body.etag === this.current.etag
          ? this.current
          : { json: parsed.json, hash, etag: body.etag, from: 'url' };
      }
    }
    if (failure !== undefined) {
      this.opts.log.warn(
        { endpoint: this.location, ...(status !== undefined ? { status } : {}), reason: failure, kept: this.current?.from ?? 'none' },
        'data collection rule fetch failed; keeping the last good rule and retrying at the next poll',
      );
    }
    return failure;
  }

  /** Reads the cached rule of this URL, if any. */
  async readCache(): Promise<{ json: unknown; etag: string | undefined } | undefined> {
    if (this.settings.kind !== 'url') return undefined;
    let text: string;
    try {
      text = await readFile(this.cacheFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.log.warn({ err, file: this.cacheFile }, 'data collection rule cache not read');
      return undefined;
    }
    const parsed = parseJson(text);
    const c = parsed.ok ? (parsed.json as Partial<CacheFile> | null) : undefined;
    if (!c || typeof c !== 'object' || c.version !== 1 || c.dcr === undefined) {
      this.opts.log.warn({ file: this.cacheFile }, 'data collection rule cache is damaged; ignored');
      return undefined;
    }
    if (c.urlHash !== sha256(this.settings.url)) {
      this.opts.log.info({ file: this.cacheFile }, 'data collection rule cache is for another URL; ignored');
      return undefined;
    }
    return { json: c.dcr, etag: typeof c.etag === 'string' ? c.etag : undefined };
  }

  /** Stores an applied rule (URL only) in `<dataDir>/dcr-cache.json`, atomically. Never throws. */
  async saveCache(json: unknown, etag: string | undefined): Promise<void> {
    if (this.settings.kind !== 'url') return;
    const doc: CacheFile = { version: 1, urlHash: sha256(this.settings.url), ...(etag ? { etag } : {}), savedAt: new Date().toISOString(), dcr: json };
    const tmp = `${this.cacheFile}.tmp`;
    try {
      await mkdir(this.opts.dataDir, { recursive: true });
      await writeFile(tmp, `${JSON.stringify(doc)}\n`, { mode: 0o600 });
      await rename(tmp, this.cacheFile);
    } catch (err) {
      this.opts.log.warn({ err, file: this.cacheFile }, 'data collection rule cache not written');
    }
  }

  async close(): Promise<void> {
    const d = this.dispatcher;
    this.dispatcher = undefined;
    if (d) await d.destroy().catch(() => undefined);
  }
}

async function readLimited(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      body.destroy();
      throw Object.assign(new Error(`response larger than ${maxBytes} bytes`), { code: 'EFBIG' });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}
