import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LogRecord } from '../../model/record.js';
import type { ComponentContext, Sink } from '../../pipeline/component.js';
import { TestConnectProxy } from '../../testing/connect-proxy.js';
import { testComponentContext } from '../../testing/context.js';
import { Cleanups, captureLogs, LoopbackService, tempStateDir, testBatch, type TestBatch } from '../shared/testing.js';
import { azureLogsIngestionConfigSchema } from './config.js';
import { azureLogsIngestionSink } from './sink.js';

const DCR = 'dcr-0123456789abcdef0123456789abcdef';
const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const PROXY_USER = 'oma';
const PROXY_PASSWORD = 'p@ss:w/rd#1';

/** A token endpoint and Logs Ingestion API on 127.0.0.1 (plain http, allowed towards loopback). */
class FakeAzure extends LoopbackService {
  tokenCalls = 0;
  readonly records: LogRecord[] = [];

  static start(): Promise<FakeAzure> {
    return new FakeAzure().listen();
  }

  protected override handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    if (req.url === `/${TENANT}/oauth2/v2.0/token`) {
      this.tokenCalls++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3600, access_token: 'tok' }));
      return;
    }
    if (req.method === 'POST' && req.url === `/dataCollectionRules/${DCR}/streams/Custom-App_CL?api-version=2023-01-01`) {
      const json = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
      this.records.push(...(JSON.parse(json.toString('utf8')) as LogRecord[]));
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404).end();
  }
}

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

interface Harness {
  sink: Sink;
  ctx: ComponentContext;
  /** Every log line, as written. */
  lines: string[];
}

async function setup(opts: { ingest: FakeAzure; token: FakeAzure; proxy: Record<string, unknown> | string }): Promise<Harness> {
  const stateDir = tempStateDir('oma-ali-egress-', cleanups);
  const { log, raw: lines } = captureLogs();
  const ctx = testComponentContext({ id: 'la', type: 'azure_logs_ingestion', stateDir, log });
  const config = azureLogsIngestionConfigSchema.parse({
    endpoint: opts.ingest.url,
    dcrImmutableId: DCR,
    auth: { type: 'client_secret', tenantId: TENANT, clientId: CLIENT, clientSecret: 'client-secret', authorityHost: opts.token.url },
    flushIntervalMs: 0,
    retry: { initialDelayMs: 5, maxDelayMs: 20 },
    proxy: opts.proxy,
  });
  const sink = azureLogsIngestionSink.create(config, ctx);
  await sink.start();
  cleanups.push(() => sink.stop(AbortSignal.abort()));
  return { sink, ctx, lines };
}

function batch(records: LogRecord[]): TestBatch {
  return testBatch('App_CL', records);
}

async function start(): Promise<{ fake: FakeAzure; proxy: TestConnectProxy }> {
  const fake = await FakeAzure.start();
  cleanups.push(() => fake.close());
  const proxy = await TestConnectProxy.start({ auth: { username: PROXY_USER, password: PROXY_PASSWORD } });
  cleanups.push(() => proxy.close());
  return { fake, proxy };
}

/** Everything an operator can see: log lines, the healthcheck, metrics. */
function everythingVisible(h: Harness): string {
  return [...h.lines, JSON.stringify(h.sink.healthcheck()), h.ctx.registry.render()].join('\n');
}

describe('azure_logs_ingestion sink through a proxy', () => {
  it('delivers through the proxy, token request included', async () => {
    const { fake, proxy } = await start();
    const h = await setup({ ingest: fake, token: fake, proxy: `http://${PROXY_USER}:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}` });
    const b = batch([{ TimeGenerated: '2026-01-01T00:00:00.000Z', Seq: 1 }]);
    await h.sink.write(b, new AbortController().signal);
    await vi.waitFor(() => expect(b.settlements).toEqual(['delivered']));

    expect(fake.records).toEqual([{ TimeGenerated: '2026-01-01T00:00:00.000Z', Seq: 1 }]);
    expect(fake.tokenCalls).toBe(1);
    // One tunnel for the credential, one for the ingestion requests; every one authenticated.
    expect(proxy.tunnels).toEqual([`127.0.0.1:${fake.port}`, `127.0.0.1:${fake.port}`]);
    for (const c of proxy.connects) expect(c.credentials).toEqual({ username: PROXY_USER, password: PROXY_PASSWORD });
    expect(everythingVisible(h)).not.toContain(PROXY_PASSWORD);
  });

  it('keeps the data and retries on a 407 from the token request, saying why', async () => {
    const { fake, proxy } = await start();
    const h = await setup({ ingest: fake, token: fake, proxy: { url: proxy.url, username: PROXY_USER, password: 'wr0ng:p@ss' } });
    const b = batch([{ Seq: 1 }]);
    await h.sink.write(b, new AbortController().signal);
    await vi.waitFor(() => expect(proxy.connects.length).toBeGreaterThanOrEqual(2));

    expect(b.settlements).toEqual([]);
    expect(fake.tokenCalls).toBe(0);
    expect(h.sink.healthcheck()).toEqual({
      healthy: false,
      detail: `App_CL: cannot get an access token from Entra ID: proxy authentication failed (407) at http://oma:***@127.0.0.1:${proxy.port}: check the proxy user and password`,
    });
    const logged = h.lines.map((l) => JSON.parse(l) as { msg: string; err?: { message: string } });
    expect(logged.some((l) => l.err?.message.startsWith('proxy authentication failed (407)'))).toBe(true);
    const visible = everythingVisible(h);
    expect(visible).not.toContain('wr0ng');
    expect(visible).not.toContain(PROXY_PASSWORD);
  });

  it('keeps the data and retries on a 407 from the ingestion request, saying why', async () => {
    const { fake: ingest, proxy } = await start();
    const token = await FakeAzure.start();
    cleanups.push(() => token.close());
    // The token endpoint is reached directly (noProxy host:port); only ingestion goes through the proxy.
    const h = await setup({
      ingest,
      token,
      proxy: { url: `http://${PROXY_USER}:wr0ng%3Ap%40ss@127.0.0.1:${proxy.port}`, noProxy: [`127.0.0.1:${token.port}`] },
    });
    const b = batch([{ Seq: 1 }]);
    await h.sink.write(b, new AbortController().signal);
    await vi.waitFor(() => expect(proxy.connects.length).toBeGreaterThanOrEqual(2));

    expect(b.settlements).toEqual([]);
    expect(token.tokenCalls).toBe(1);
    expect(proxy.connects.every((c) => c.target === `127.0.0.1:${ingest.port}` && c.status === 407)).toBe(true);
    expect(h.sink.healthcheck()).toMatchObject({
      healthy: false,
      detail: expect.stringContaining(
        `cannot reach the Logs Ingestion endpoint: proxy authentication failed (407) at http://oma:***@127.0.0.1:${proxy.port}`,
      ) as string,
    });
    const visible = everythingVisible(h);
    expect(visible).not.toContain('wr0ng');
    expect(visible).not.toContain('p@ss');
  });
});
