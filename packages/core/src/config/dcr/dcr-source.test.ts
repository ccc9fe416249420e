import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRootLogger } from '../../telemetry/logger.js';
import { DIRECT_EGRESS } from '../../http/egress.js';
import { parseProxyUrl } from '../../http/proxy.js';
import { TestConnectProxy } from '../../testing/connect-proxy.js';
import { Secret } from '../secret.js';
import type { DcrSettings } from './config.js';
import { DCR_CACHE_FILE, DcrSource } from './dcr-source.js';

function memoryLog(): { log: ReturnType<typeof createRootLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = createRootLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) } });
  return { log, lines };
}

const dcrA = { properties: { dataSources: { logFiles: [{ name: 'a' }] } } };
const dcrB = { properties: { dataSources: { logFiles: [{ name: 'b' }] } } };

describe('DcrSource (file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oma-dcr-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'dcr.json');
  const settings: DcrSettings = { kind: 'file', file, pollIntervalMs: 1000 };

  it('reads the file, reports a change only when the content changes, and keeps the last good one', async () => {
    const { log, lines } = memoryLog();
    writeFileSync(file, JSON.stringify(dcrA));
    const src = new DcrSource({ settings, dataDir: dir, log });
    expect(await src.load()).toEqual({ changed: true, json: dcrA, etag: undefined, from: 'file' });
    expect((await src.load()).changed).toBe(false);

    // Same content, new mtime: read again, but not a change.
    const t = statSync(file).mtime;
    utimesSync(file, t, new Date(t.getTime() + 5000));
    expect(await src.load()).toMatchObject({ changed: false, json: dcrA });

    writeFileSync(file, '\uFEFF' + JSON.stringify(dcrB, null, 2));
    expect(await src.load()).toMatchObject({ changed: true, json: dcrB });

    writeFileSync(file, '{ "properties": ');
    const bad = await src.load();
    expect(bad).toMatchObject({ changed: false, json: dcrB, error: expect.stringMatching(/not valid JSON/) });
    expect(lines.filter((l) => l.level === 40)).toHaveLength(1);
    // A file that stays broken is not reported again at every poll.
    await src.load();
    expect(lines.filter((l) => l.level === 40)).toHaveLength(1);

    rmSync(file);
    expect(await src.load()).toMatchObject({ changed: false, json: dcrB, error: expect.stringMatching(/cannot read .*ENOENT/) });
    writeFileSync(file, JSON.stringify(dcrA));
    expect(await src.load()).toMatchObject({ changed: true, json: dcrA });
    await src.close();
  });

  it('gives no document while the file never was readable', async () => {
    const src = new DcrSource({ settings: { ...settings, file: join(dir, 'missing.json') }, dataDir: dir, log: memoryLog().log });
    expect(await src.load()).toMatchObject({ changed: false, json: undefined, from: 'none', error: expect.any(String) });
  });
});

describe('DcrSource (url)', () => {
  interface Reply {
    status: number;
    body?: string;
    etag?: string;
  }
  let server: Server;
  let base = '';
  const requests: IncomingHttpHeaders[] = [];
  let next: (headers: IncomingHttpHeaders) => Reply = () => ({ status: 500 });
  const dirs: string[] = [];
  const newDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'oma-dcr-url-'));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.headers);
      const r = next(req.headers);
      res.writeHead(r.status, { 'content-type': 'application/json', ...(r.etag ? { etag: r.etag } : {}) });
      res.end(r.body ?? '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  afterEach(() => {
    requests.length = 0;
  });

  const urlSettings = (path = '/dcr.json?sig=secret-sas'): DcrSettings & { kind: 'url' } => ({
    kind: 'url',
    url: `${base}${path}`,
    pollIntervalMs: 10_000,
    headers: { Authorization: new Secret('Bearer abc', 'inline') },
    allowInsecureHttp: false,
    requestTimeoutMs: 5_000,
    egress: DIRECT_EGRESS,
  });

  /** Serves `doc` with ETag `etag`, answering 304 when the client already has that ETag. */
  const serve = (doc: unknown, etag: string) => (h: IncomingHttpHeaders): Reply =>
    h['if-none-match'] === etag ? { status: 304 } : { status: 200, body: JSON.stringify(doc), etag };

  it('fetches through the configured proxy with Basic authentication', async () => {
    const proxy = await TestConnectProxy.start({ auth: { username: 'oma', password: 'p@ss:w/rd#1' } });
    try {
      const settings = urlSettings('/via-proxy.json');
      const src = new DcrSource({
        settings: { ...settings, egress: { ...DIRECT_EGRESS, proxy: parseProxyUrl(`http://oma:p@ss:w/rd#1@127.0.0.1:${proxy.port}`) } },
        dataDir: newDir(),
        log: memoryLog().log,
      });
      next = serve(dcrA, '"p1"');
      expect(await src.load()).toMatchObject({ changed: true, json: dcrA });
      expect(proxy.connects).toHaveLength(1);
      expect(proxy.connects[0]).toMatchObject({ target: `127.0.0.1:${new URL(base).port}`, credentials: { username: 'oma', password: 'p@ss:w/rd#1' } });
      await src.close();
    } finally {
      await proxy.close();
    }
  });

  it('polls with If-None-Match: 200, then 304 (unchanged), then a changed 200; a 500 keeps the last good rule', async () => {
    const dataDir = newDir();
    const { log, lines } = memoryLog();
    const src = new DcrSource({ settings: urlSettings(), dataDir, log, userAgent: 'OMA/test' });

    next = serve(dcrA, '"v1"');
    expect(await src.load()).toEqual({ changed: true, json: dcrA, etag: '"v1"', from: 'url' });
    expect(requests[0]).toMatchObject({ authorization: 'Bearer abc', 'user-agent': 'OMA/test', accept: 'application/json' });
    expect(requests[0]!['if-none-match']).toBeUndefined();

    expect(await src.load()).toEqual({ changed: false, json: dcrA, etag: '"v1"', from: 'url' });
    expect(requests[1]!['if-none-match']).toBe('"v1"');

    next = serve(dcrB, '"v2"');
    expect(await src.load()).toEqual({ changed: true, json: dcrB, etag: '"v2"', from: 'url' });
    expect(requests[2]!['if-none-match']).toBe('"v1"');

    next = () => ({ status: 500, body: 'boom' });
    expect(await src.load()).toEqual({ changed: false, json: dcrB, etag: '"v2"', from: 'url', error: 'HTTP 500' });
    const warn = lines.find((l) => l.level === 40)!;
    expect(warn).toMatchObject({ status: 500, reason: 'HTTP 500', msg: expect.stringMatching(/keeping the last good rule/) });
    // The SAS query string and the header value never reach the log.
    expect(JSON.stringify(lines)).not.toMatch(/secret-sas|Bearer abc/);
    expect(warn.endpoint).toBe(`${base}/dcr.json?[redacted]`);

    next = () => ({ status: 200, body: '{ not json' });
    expect(await src.load()).toMatchObject({ changed: false, json: dcrB, error: expect.stringMatching(/not valid JSON/) });

    next = serve(dcrB, '"v2"');
    expect(await src.load()).toMatchObject({ changed: false, json: dcrB });
    expect(requests.at(-1)!['if-none-match']).toBe('"v2"');
    await src.close();
  });

  it('detects a change by content when the server sends no ETag', async () => {
    const src = new DcrSource({ settings: urlSettings('/no-etag'), dataDir: newDir(), log: memoryLog().log });
    next = () => ({ status: 200, body: JSON.stringify(dcrA) });
    expect((await src.load()).changed).toBe(true);
    expect((await src.load()).changed).toBe(false);
    expect(requests.every((h) => h['if-none-match'] === undefined)).toBe(true);
    next = () => ({ status: 200, body: JSON.stringify(dcrB) });
    expect(await src.load()).toMatchObject({ changed: true, json: dcrB });
    await src.close();
  });

  it('starts from the cache of the last applied rule: revalidated with its ETag, or used as is when the server is down', async () => {
    const dataDir = newDir();
    const first = new DcrSource({ settings: urlSettings(), dataDir, log: memoryLog().log });
    next = serve(dcrA, '"v1"');
    const r = await first.load();
    await first.saveCache(r.json, r.etag);
    await first.close();
    const cached = JSON.parse(readFileSync(join(dataDir, DCR_CACHE_FILE), 'utf8')) as Record<string, unknown>;
    expect(cached).toMatchObject({ version: 1, etag: '"v1"', dcr: dcrA });
    expect(JSON.stringify(cached)).not.toMatch(/secret-sas/);

    // Restart, server unchanged: a 304 confirms the cached rule.
    const second = new DcrSource({ settings: urlSettings(), dataDir, log: memoryLog().log });
    expect(await second.load()).toEqual({ changed: true, json: dcrA, etag: '"v1"', from: 'cache' });
    expect(requests.at(-1)!['if-none-match']).toBe('"v1"');
    await second.close();

    // Restart without network: the cached rule still gives the sources.
    next = () => ({ status: 503 });
    const third = new DcrSource({ settings: urlSettings(), dataDir, log: memoryLog().log });
    expect(await third.load()).toEqual({ changed: true, json: dcrA, etag: '"v1"', from: 'cache', error: 'HTTP 503' });
    await third.close();

    // Another URL does not use this cache.
    const other = new DcrSource({ settings: urlSettings('/other.json'), dataDir, log: memoryLog().log });
    expect(await other.load()).toMatchObject({ changed: false, json: undefined, from: 'none', error: 'HTTP 503' });
    await other.close();
  });

  it('reports a network error and a refused connection as such', async () => {
    const { log } = memoryLog();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const src = new DcrSource({ settings: { ...urlSettings(), url: `http://127.0.0.1:${port}/dcr.json` }, dataDir: newDir(), log });
    expect(await src.load()).toMatchObject({ changed: false, json: undefined, error: expect.stringMatching(/request failed: .*ECONNREFUSED/) });
    await src.close();
  });
});
