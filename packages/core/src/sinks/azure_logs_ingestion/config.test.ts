import { describe, expect, it } from 'vitest';
import { azureLogsIngestionConfigSchema } from './config.js';
import { streamForTable } from './streams.js';

const DCR = 'dcr-0123456789abcdef0123456789abcdef';
const auth = {
  type: 'client_secret',
  tenantId: '11111111-2222-3333-4444-555555555555',
  clientId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
  clientSecret: 'secret',
};
const base = { endpoint: 'https://my-dce-a1b2.eastus-1.ingest.monitor.azure.com', dcrImmutableId: DCR, auth };

function issues(input: unknown): Array<{ path: string; message: string }> {
  const r = azureLogsIngestionConfigSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('azure_logs_ingestion config', () => {
  it('fills the documented defaults', () => {
    const c = azureLogsIngestionConfigSchema.parse(base);
    expect(c).toMatchObject({
      allowInsecureHttp: false,
      maxConcurrency: 2,
      flushIntervalMs: 1000,
      maxRequestBytes: 10 * 1024 * 1024,
      compression: 'gzip',
      compressionLevel: 1,
      requestTimeoutMs: 30_000,
      retry: { initialDelayMs: 1000, maxDelayMs: 300_000 },
      deadLetter: { maxBytes: 100 * 1024 * 1024 },
    });
    expect(c.auth.cloud).toBe('public');
    expect(c.auth.type === 'client_secret' && c.auth.clientSecret.toString()).toBe('[redacted]');
  });

  it('takes units for durations and sizes', () => {
    const c = azureLogsIngestionConfigSchema.parse({
      ...base,
      flushIntervalMs: '5s',
      maxRequestBytes: '512KiB',
      requestTimeoutMs: '1m',
      retry: { maxDelayMs: '10m' },
      deadLetter: { maxBytes: '1GiB' },
    });
    expect(c.flushIntervalMs).toBe(5000);
    expect(c.maxRequestBytes).toBe(524_288);
    expect(c.requestTimeoutMs).toBe(60_000);
    expect(c.retry).toEqual({ initialDelayMs: 1000, maxDelayMs: 600_000 });
    expect(c.deadLetter.maxBytes).toBe(1024 ** 3);
  });

  it('accepts https anywhere and plain http only on loopback', () => {
    expect(issues({ ...base, endpoint: 'http://127.0.0.1:8080' })).toEqual([]);
    expect(issues({ ...base, endpoint: 'http://[::1]:8080/prefix' })).toEqual([]);
    expect(issues({ ...base, endpoint: 'http://localhost:8080' })).toEqual([]);
    expect(issues({ ...base, endpoint: 'http://dce.example.com' })).toEqual([
      { path: 'endpoint', message: expect.stringMatching(/loopback/) as string },
    ]);
    expect(issues({ ...base, endpoint: 'http://dce.example.com', allowInsecureHttp: true })).toEqual([]);
    expect(issues({ ...base, auth: { ...auth, authorityHost: 'http://login.example.com' } })).toEqual([
      { path: 'auth.authorityHost', message: expect.stringMatching(/loopback/) as string },
    ]);
    expect(issues({ ...base, endpoint: 'dce.example.com' })[0]?.path).toBe('endpoint');
  });

  it('reports every problem at once, each with its path', () => {
    const found = issues({
      ...base,
      endpoint: 'http://dce.example.com',
      dcrImmutableId: 'dcr-xyz',
      maxConcurrency: 0,
      maxRequestBytes: 60 * 1024 * 1024,
      compression: 'br',
      bogus: true,
    }).map((i) => i.path);
    expect(found).toEqual(expect.arrayContaining(['endpoint', 'dcrImmutableId', 'maxConcurrency', 'maxRequestBytes', 'compression', '']));
  });

  it('validates the stream map and retry bounds', () => {
    expect(issues({ ...base, streams: { Syslog: 'Microsoft-Syslog', App_CL: 'Custom-App_CL' } })).toEqual([]);
    expect(issues({ ...base, streams: { Syslog: 'Syslog' } })[0]?.path).toBe('streams.Syslog');
    expect(issues({ ...base, retry: { initialDelayMs: 10_000, maxDelayMs: 1000 } })[0]?.path).toBe('retry.initialDelayMs');
  });
});

describe('egress options', () => {
  it('default to direct connections with TLS 1.2 minimum', () => {
    const c = azureLogsIngestionConfigSchema.parse(base);
    expect(c.proxy).toBeUndefined();
    expect(c.tls).toEqual({ minVersion: '1.2' });
  });

  it('take a proxy URL, never printed with its password', () => {
    const c = azureLogsIngestionConfigSchema.parse({ ...base, proxy: 'http://oma:p@ss:w/rd#1@proxy.corp:3128', tls: { minVersion: '1.3' } });
    expect(c.proxy?.proxy).toMatchObject({ protocol: 'http:', host: 'proxy.corp', port: 3128, username: 'oma' });
    expect(c.proxy?.proxy?.password?.reveal()).toBe('p@ss:w/rd#1');
    expect(c.tls.minVersion).toBe('1.3');
    expect(JSON.stringify(c)).not.toContain('w/rd');
  });

  it('report problems at their path', () => {
    expect(issues({ ...base, proxy: 'socks5://oma:hunter2@proxy.corp:1080' })).toEqual([
      { path: 'proxy', message: expect.stringMatching(/unsupported scheme/) as string },
    ]);
    expect(issues({ ...base, proxy: { url: 'http://proxy.corp:3128', noProxy: ['10.0.0.0/40'] } })[0]?.path).toBe('proxy.noProxy.0');
    expect(issues({ ...base, tls: { caFile: '/nonexistent/ca.pem' } })).toEqual([
      { path: 'tls.caFile', message: expect.stringMatching(/cannot read CA file \/nonexistent\/ca\.pem/) as string },
    ]);
    expect(JSON.stringify(issues({ ...base, proxy: 'socks5://oma:hunter2@proxy.corp:1080' }))).not.toContain('hunter2');
  });
});

describe('option descriptions', () => {
  it('describes every option, nested ones included', () => {
    const shape = azureLogsIngestionConfigSchema.shape;
    const missing: string[] = [];
    const visit = (prefix: string, fields: Record<string, { description?: string | undefined }>): void => {
      for (const [k, v] of Object.entries(fields)) if (!v.description) missing.push(prefix + k);
    };
    visit('', shape);
    const unwrap = (s: unknown): Record<string, { description?: string }> => {
      let cur = s as { shape?: Record<string, { description?: string }>; def?: { innerType?: unknown } };
      while (!cur.shape && cur.def?.innerType) cur = cur.def.innerType;
      return cur.shape ?? {};
    };
    visit('retry.', unwrap(shape.retry));
    visit('deadLetter.', unwrap(shape.deadLetter));
    for (const option of shape.auth.options) visit('auth.', option.shape);
    // Transformed objects (proxy, tls) keep their shape in the pipe's input.
    const unwrapPipe = (s: unknown): Record<string, { description?: string }> => {
      let cur = s as { shape?: Record<string, { description?: string }>; def?: { innerType?: unknown; in?: unknown; options?: unknown[] } };
      while (!cur.shape && (cur.def?.innerType ?? cur.def?.in ?? cur.def?.options)) {
        cur = (cur.def.innerType ?? cur.def.in ?? cur.def.options!.find((o) => (o as { def?: { type?: string } }).def?.type === 'object')) as typeof cur;
      }
      return cur.shape ?? {};
    };
    visit('tls.', unwrapPipe(shape.tls));
    visit('proxy.', unwrapPipe(shape.proxy));
    expect(Object.keys(unwrapPipe(shape.tls))).toContain('caFile');
    expect(Object.keys(unwrapPipe(shape.proxy))).toContain('noProxy');
    expect(missing).toEqual([]);
    expect(Object.keys(unwrap(shape.retry))).toEqual(['initialDelayMs', 'maxDelayMs']);
    expect(azureLogsIngestionConfigSchema.description).toMatch(/Logs Ingestion API/);
  });
});

describe('streamForTable', () => {
  it('uses the mapping, else Custom-<table>', () => {
    expect(streamForTable('Syslog', { Syslog: 'Microsoft-Syslog' })).toBe('Microsoft-Syslog');
    expect(streamForTable('AgentHeartbeat_CL', { Syslog: 'Microsoft-Syslog' })).toBe('Custom-AgentHeartbeat_CL');
    expect(streamForTable('Event', undefined)).toBe('Custom-Event');
  });
});
