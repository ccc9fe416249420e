import { describe, expect, it } from 'vitest';
import { DEFAULT_ALLOWED_HOSTS, gatewayConfigSchema, parseGatewayConfig } from './config.js';

describe('gatewayConfigSchema', () => {
  it('applies the documented defaults', () => {
    const cfg = parseGatewayConfig({});
    expect(cfg.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(cfg.allowedHosts).toEqual(DEFAULT_ALLOWED_HOSTS);
    expect(cfg.allowedPorts).toEqual([443]);
    expect(cfg.maxConnections).toBe(1000);
    expect(cfg.idleTimeoutMs).toBe(120_000);
    expect(cfg.connectTimeoutMs).toBe(10_000);
    expect(cfg.upstreamProxy).toBeUndefined();
    expect(cfg.auth).toBeUndefined();
    expect(parseGatewayConfig(undefined).listen.port).toBe(8080);
  });

  it('includes the US Government and China hosts in the defaults', () => {
    expect(DEFAULT_ALLOWED_HOSTS).toEqual(
      expect.arrayContaining(['*.ingest.monitor.azure.us', 'login.microsoftonline.us', '*.ingest.monitor.azure.cn', 'login.chinacloudapi.cn']),
    );
  });

  it('accepts durations with units and lower-cases host patterns', () => {
    const cfg = parseGatewayConfig({ idleTimeoutMs: '2m', connectTimeoutMs: 500, allowedHosts: ['*.Example.COM'], listen: { port: 0 } });
    expect(cfg.idleTimeoutMs).toBe(120_000);
    expect(cfg.connectTimeoutMs).toBe(500);
    expect(cfg.allowedHosts).toEqual(['*.example.com']);
    expect(cfg.listen).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('reports every problem with its path at once', () => {
    let caught: unknown;
    try {
      parseGatewayConfig({ allowedHosts: ['ok.com', 'a.*.com'], allowedPorts: [0], maxConnections: 0, idleTimeoutMs: 0, bogus: 1 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'OMA_ERR_CONFIG_INVALID' });
    const paths = (caught as { issues: Array<{ path: string }> }).issues.map((i) => i.path).sort();
    expect(paths).toEqual(['(root)', 'allowedHosts.1', 'allowedPorts.0', 'idleTimeoutMs', 'maxConnections']);
  });

  it('rejects unknown keys in nested objects', () => {
    expect(gatewayConfigSchema.safeParse({ listen: { port: 1, extra: true } }).success).toBe(false);
    expect(gatewayConfigSchema.safeParse({ allowedHosts: [] }).success).toBe(false);
  });

  it('parses an upstream proxy URL with percent-encoded credentials and keeps the password secret', () => {
    const cfg = parseGatewayConfig({ upstreamProxy: 'http://us%40er:p%3Ass%40w@proxy.corp:3128/' });
    expect(cfg.upstreamProxy).toMatchObject({ host: 'proxy.corp', port: 3128, username: 'us@er', display: 'proxy.corp:3128' });
    expect(cfg.upstreamProxy?.password?.reveal()).toBe('p:ss@w');
    expect(JSON.stringify(cfg.upstreamProxy)).not.toContain('p:ss@w');
  });

  it('accepts a proxy without scheme, port or credentials, and IPv6 hosts', () => {
    expect(parseGatewayConfig({ upstreamProxy: 'proxy.corp:8080' }).upstreamProxy).toEqual({ host: 'proxy.corp', port: 8080, display: 'proxy.corp:8080' });
    expect(parseGatewayConfig({ upstreamProxy: 'http://proxy.corp' }).upstreamProxy?.port).toBe(80);
    expect(parseGatewayConfig({ upstreamProxy: 'http://[::1]:3128' }).upstreamProxy).toMatchObject({ host: '::1', port: 3128, display: '[::1]:3128' });
  });

  it.each([
    ['https://proxy.corp:3128', /only http/],
    ['socks5://proxy.corp:1080', /only http/],
    ['http://proxy.corp:3128/path', /no path/],
    ['http://:secret@proxy.corp:3128', /needs a user name/],
    ['http://proxy.corp:99999', /proxy URL/],
  ])('rejects the upstream proxy %s', (upstreamProxy, message) => {
    expect(() => parseGatewayConfig({ upstreamProxy })).toThrow(message);
  });

  it('takes client credentials with the password as a secret reference', () => {
    process.env.OMA_TEST_GATEWAY_PASSWORD = 'from-env';
    try {
      const cfg = parseGatewayConfig({ auth: { username: 'agent', password: { env: 'OMA_TEST_GATEWAY_PASSWORD' } } });
      expect(cfg.auth?.username).toBe('agent');
      expect(cfg.auth?.password.reveal()).toBe('from-env');
      expect(String(cfg.auth?.password)).toBe('[redacted]');
    } finally {
      delete process.env.OMA_TEST_GATEWAY_PASSWORD;
    }
    expect(() => parseGatewayConfig({ auth: { username: 'a:b', password: 'x' } })).toThrow(/cannot contain/);
    expect(() => parseGatewayConfig({ auth: { username: 'a' } })).toThrow(/auth\.password: required/);
    expect(() => parseGatewayConfig({ auth: { password: 'x' } })).toThrow(/auth\.username: required \(a string\)/);
  });

  it('describes every option', () => {
    const shape = gatewayConfigSchema.shape;
    for (const [key, schema] of Object.entries(shape)) {
      expect(schema.description, key).toBeTruthy();
    }
    for (const [key, schema] of Object.entries(shape.listen.unwrap().shape)) {
      expect(schema.description, `listen.${key}`).toBeTruthy();
    }
  });
});
