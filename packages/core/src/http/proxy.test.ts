import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProxySpec } from './egress.js';
import { bypassesProxy, checkNoProxyEntry, parseProxyUrl, proxyAuthorization, readProxyConf, redactedProxyUrl } from './proxy.js';

const dir = mkdtempSync(join(tmpdir(), 'oma-proxy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The parsed spec with the password revealed, for comparisons. */
function plain(text: string): Record<string, unknown> {
  const { password, ...rest } = parseProxyUrl(text);
  return { ...rest, ...(password !== undefined ? { password: password.reveal() } : {}) };
}

describe('parseProxyUrl', () => {
  it.each<[string, Record<string, unknown>]>([
    ['proxy.corp:3128', { protocol: 'http:', host: 'proxy.corp', port: 3128 }],
    ['http://proxy.corp:3128', { protocol: 'http:', host: 'proxy.corp', port: 3128 }],
    ['http://proxy.corp:3128/', { protocol: 'http:', host: 'proxy.corp', port: 3128 }],
    ['HTTP://Proxy.Corp:3128//', { protocol: 'http:', host: 'proxy.corp', port: 3128 }],
    ['  http://proxy.corp:3128/\n', { protocol: 'http:', host: 'proxy.corp', port: 3128 }],
    ['https://proxy.corp', { protocol: 'https:', host: 'proxy.corp', port: 443 }],
    ['http://proxy.corp', { protocol: 'http:', host: 'proxy.corp', port: 80 }],
    ['proxy.corp', { protocol: 'http:', host: 'proxy.corp', port: 80 }],
    ['10.1.2.3:8080', { protocol: 'http:', host: '10.1.2.3', port: 8080 }],
    ['[::1]:3128', { protocol: 'http:', host: '::1', port: 3128 }],
    ['https://[FD00::1]', { protocol: 'https:', host: 'fd00::1', port: 443 }],
    ['http://user:pass@proxy.corp:3128', { protocol: 'http:', host: 'proxy.corp', port: 3128, username: 'user', password: 'pass' }],
    ['user:p@ss:/#word@proxy.corp:3128', { protocol: 'http:', host: 'proxy.corp', port: 3128, username: 'user', password: 'p@ss:/#word' }],
    ['http://user:p@ss:/#word@proxy.corp:3128/', { protocol: 'http:', host: 'proxy.corp', port: 3128, username: 'user', password: 'p@ss:/#word' }],
    ['http://user:p%40ss%3A%2F%23word@proxy.corp:3128', { protocol: 'http:', host: 'proxy.corp', port: 3128, username: 'user', password: 'p@ss:/#word' }],
    ['http://dom%5Cuser:pw@[::1]:3128', { protocol: 'http:', host: '::1', port: 3128, username: 'dom\\user', password: 'pw' }],
    ['http://user:100%sure@proxy.corp:3128', { protocol: 'http:', host: 'proxy.corp', port: 3128, username: 'user', password: '100%sure' }],
    ['http://user@proxy.corp:3128', { protocol: 'http:', host: 'proxy.corp', port: 3128, username: 'user' }],
    ['http://user:@proxy.corp:3128', { protocol: 'http:', host: 'proxy.corp', port: 3128, username: 'user' }],
    ['http://omsuser:p@ss:w/rd#1@proxy.corp:8080', { protocol: 'http:', host: 'proxy.corp', port: 8080, username: 'omsuser', password: 'p@ss:w/rd#1' }],
    ['http://user:pa/ss?x#y@proxy.corp:3128', { protocol: 'http:', host: 'proxy.corp', port: 3128, username: 'user', password: 'pa/ss?x#y' }],
    ['http://user:1234%2Fx@proxy.corp:3128', { protocol: 'http:', host: 'proxy.corp', port: 3128, username: 'user', password: '1234/x' }],
    ['http:8080', { protocol: 'http:', host: 'http', port: 8080 }],
  ])('parses %j', (text, expected) => {
    expect(plain(text)).toEqual(expected);
  });

  it.each<[string, RegExp]>([
    ['', /empty/],
    ['   \n', /empty/],
    ['socks5://proxy.corp:1080', /unsupported scheme socks5/],
    ['ftp://proxy.corp', /unsupported scheme/],
    ['http://', /host is missing/],
    ['http://proxy.corp:0', /port/],
    ['http://proxy.corp:65536', /port/],
    ['http://proxy.corp:', /port/],
    ['http://proxy.corp:abc', /port/],
    ['http://proxy.corp:3128/path', /no path/],
    ['::1:3128', /an IPv6 address must be written in brackets/],
    ['[not-ipv6]:3128', /brackets must hold an IPv6 address/],
    ['[::1]3128', /only ":port" may follow the IPv6 address/],
    ['http:proxy:3128', /the scheme must be followed by "\/\/"/],
    ['https:/proxy:3128', /the scheme must be followed by "\/\/"/],
    ['host:3128:3129', /more than one ":" after the host/],
    ['http://host:3128:3129', /more than one ":" after the host/],
    ['http://proxy:3128?x=1', /no path, query or fragment/],
    ['http://proxy:3128#frag', /no path, query or fragment/],
    ['http://user:pw@proxy:3128/path', /no path, query or fragment/],
    // An "@" after the host must not move the connection to another host.
    ['http://proxy:3128/x@evil.example', /an "@" follows the host in a path, query or fragment/],
    ['http://proxy:3128?u=a@evil.example', /an "@" follows the host in a path, query or fragment/],
    ['http://proxy:3128#@evil.example', /an "@" follows the host in a path, query or fragment/],
    ['http://proxy/x@evil.example', /an "@" follows the host/],
    ['proxy:3128/x@evil.example', /an "@" follows the host/],
    ['http://user:pw@proxy:3128/x@evil.example', /an "@" follows the host/],
    ['http://user:1234/x@proxy.corp:3128', /percent-encode "\/", "\?" and "#" in a password/],
    ['http://user:p/w@proxy.corp:3128/x', /no path, query or fragment/],
    ['http://:pw@proxy.corp', /user name/],
    ['http://proxy corp:3128', /spaces/],
  ])('rejects %j', (text, message) => {
    expect(() => parseProxyUrl(text)).toThrow(message);
    try {
      parseProxyUrl(text);
    } catch (err) {
      expect((err as { code?: string }).code).toBe('OMA_ERR_CONFIG_INVALID');
    }
  });

  it('never puts the password (or any of the input) in an error message', () => {
    const password = 'Sup3r$ecret';
    const bad = [
      `http://user:${password}@proxy.corp:99999`,
      `http://user:${password}@proxy.corp:3128/path`,
      `user:${password}`,
      `http://user:${password}@`,
      `http://user:${password}@[bad]:1`,
      `http://user:${password}@host:${password}`,
      `http://user:${password}@a:b:c`,
      `http://user:${password}@proxy:3128/x@evil.example`,
      `http://user:${password}/x@proxy:3128/y`,
    ];
    for (const text of bad) {
      let message = '';
      try {
        parseProxyUrl(text);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, text).not.toBe('');
      expect(message, text).not.toContain(password);
      expect(message, text).not.toContain('Sup3r');
    }
  });

  it('keeps the password out of JSON and inspection', () => {
    const spec = parseProxyUrl('http://user:hunter2@proxy.corp:3128');
    expect(JSON.stringify(spec)).not.toContain('hunter2');
    expect(String(spec.password)).toBe('[redacted]');
  });
});

describe('redactedProxyUrl and proxyAuthorization', () => {
  it('hides the password', () => {
    expect(redactedProxyUrl(parseProxyUrl('http://user:p@ss:/#word@proxy.corp:3128'))).toBe('http://user:***@proxy.corp:3128');
    expect(redactedProxyUrl(parseProxyUrl('https://[::1]'))).toBe('https://[::1]:443');
    expect(redactedProxyUrl(parseProxyUrl('http://user@proxy.corp:3128'))).toBe('http://user@proxy.corp:3128');
    expect(redactedProxyUrl(parseProxyUrl('proxy.corp:8080'))).toBe('http://proxy.corp:8080');
  });

  it('builds the Basic header from the decoded credentials', () => {
    const spec = parseProxyUrl('http://user:p%40ss:/#word@proxy.corp:3128');
    expect(proxyAuthorization(spec)).toBe(`Basic ${Buffer.from('user:p@ss:/#word').toString('base64')}`);
    expect(proxyAuthorization(parseProxyUrl('proxy.corp:3128'))).toBeUndefined();
  });
});

describe('readProxyConf', () => {
  it('reads the one-line OMS file, tolerating a trailing newline', () => {
    const file = join(dir, 'proxy.conf');
    writeFileSync(file, 'http://omsuser:p@ss:w/rd#1@proxy.corp:8080\n');
    const spec = readProxyConf(file)!;
    expect(spec).toMatchObject({ protocol: 'http:', host: 'proxy.corp', port: 8080, username: 'omsuser' });
    expect(spec.password?.reveal()).toBe('p@ss:w/rd#1');
  });

  it('treats an empty file as no proxy', () => {
    const file = join(dir, 'empty.conf');
    writeFileSync(file, '\n');
    expect(readProxyConf(file)).toBeUndefined();
  });

  it('names the file in errors, and not the password', () => {
    expect(() => readProxyConf(join(dir, 'missing.conf'))).toThrow(/cannot read proxy file .*missing\.conf: ENOENT/);
    const file = join(dir, 'bad.conf');
    writeFileSync(file, 'socks5://user:hunter2@proxy.corp:1080');
    expect(() => readProxyConf(file)).toThrow(/proxy file .*bad\.conf: invalid proxy URL: unsupported scheme/);
    expect(() => readProxyConf(file)).not.toThrow(/hunter2/);
  });
});

describe('bypassesProxy', () => {
  const cases: Array<[string, number, string[], boolean]> = [
    ['dce.eastus-1.ingest.monitor.azure.com', 443, [], false],
    ['anything.example', 443, ['*'], true],
    ['example.com', 443, ['example.com'], true],
    ['api.example.com', 443, ['example.com'], true],
    ['api.example.com', 443, ['.example.com'], true],
    ['example.com', 443, ['.example.com'], true],
    ['api.example.com', 443, ['*.example.com'], true],
    ['notexample.com', 443, ['example.com'], false],
    ['example.com.evil', 443, ['example.com'], false],
    ['API.Example.COM.', 443, ['example.com'], true],
    ['example.com', 443, ['example.com:8443'], false],
    ['example.com', 8443, ['example.com:8443'], true],
    ['10.1.2.3', 443, ['10.0.0.0/8'], true],
    ['11.1.2.3', 443, ['10.0.0.0/8'], false],
    ['10.1.2.3', 443, ['10.1.2.3'], true],
    ['10.1.2.3', 443, ['10.1.2.4'], false],
    ['[::1]', 443, ['::1'], true],
    ['::1', 443, ['[::1]'], true],
    ['[0:0:0:0:0:0:0:1]', 443, ['[::1]:443'], true],
    ['[::1]', 80, ['[::1]:443'], false],
    ['[fd00::5]', 443, ['fd00::/8'], true],
    ['127.0.0.1', 443, [], false],
    ['localhost', 443, [], false],
    ['169.254.169.254', 80, [], true],
    ['169.254.169.254', 80, ['other.example'], true],
    ['10.1.2.3', 443, ['bogus entry!', '10.0.0.0/8'], true],
  ];
  it.each(cases)('%s:%d with %j → %s', (host, port, noProxy, expected) => {
    expect(bypassesProxy(host, port, noProxy)).toBe(expected);
  });

  it('checks entries', () => {
    for (const ok of ['*', 'example.com', '.example.com', '*.example.com', 'example.com:443', '10.0.0.0/8', '10.1.2.3', '[::1]', '::1', 'fd00::/8', '[::1]:8080']) {
      expect(checkNoProxyEntry(ok), ok).toBeUndefined();
    }
    for (const bad of ['', 'exa mple.com', '10.0.0.0/33', 'example.com:99999', 'http://example.com', '[::1', '10.0.0.0/x']) {
      expect(checkNoProxyEntry(bad), bad).toBeDefined();
    }
  });
});

describe('ProxySpec type', () => {
  it('is what parseProxyUrl returns', () => {
    const spec: ProxySpec = parseProxyUrl('proxy.corp:3128');
    expect(spec.port).toBe(3128);
  });
});
