import { describe, expect, it } from 'vitest';
import { HostAllowlist, formatTarget, hostPatternProblem, normalizeHost, parseAuthority } from './allowlist.js';
import { DEFAULT_ALLOWED_HOSTS } from './config.js';

describe('parseAuthority', () => {
  it.each([
    ['example.com:443', { host: 'example.com', port: 443 }],
    ['EXAMPLE.com.:8443', { host: 'example.com', port: 8443 }],
    ['127.0.0.1:1', { host: '127.0.0.1', port: 1 }],
    ['[::1]:443', { host: '::1', port: 443 }],
    ['[0:0:0:0:0:0:0:1]:443', { host: '::1', port: 443 }],
    ['my_host-1.corp:65535', { host: 'my_host-1.corp', port: 65535 }],
  ])('parses %s', (input, expected) => {
    expect(parseAuthority(input)).toEqual(expected);
  });

  it.each([
    'example.com',
    'example.com:',
    ':443',
    'example.com:0',
    'example.com:65536',
    'example.com:44a',
    'example.com:+443',
    '::1:443',
    '[::1]443',
    '[example.com]:443',
    'http://example.com:443',
    '/path',
    'exa mple.com:443',
    '-bad.com:443',
    `${'a'.repeat(64)}.com:443`,
    '',
  ])('rejects %j', (input) => {
    expect(parseAuthority(input)).toBeUndefined();
  });

  it('formats IPv6 targets with brackets', () => {
    expect(formatTarget({ host: '::1', port: 443 })).toBe('[::1]:443');
    expect(formatTarget({ host: 'a.b', port: 80 })).toBe('a.b:80');
  });
});

describe('HostAllowlist', () => {
  const list = new HostAllowlist(['*.ods.opinsights.azure.com', 'Login.MicrosoftOnline.com', '10.0.0.5', '[::1]']);

  it('matches exact hosts case-insensitively (after normalization)', () => {
    expect(list.allows(normalizeHost('LOGIN.microsoftonline.com')!)).toBe(true);
    expect(list.allows('login.microsoftonline.com')).toBe(true);
    expect(list.allows('xlogin.microsoftonline.com')).toBe(false);
    expect(list.allows('login.microsoftonline.com.evil.example')).toBe(false);
  });

  it('matches wildcards on label boundaries, at any depth, but not the bare suffix', () => {
    expect(list.allows('ws1.ods.opinsights.azure.com')).toBe(true);
    expect(list.allows('a.b.ods.opinsights.azure.com')).toBe(true);
    expect(list.allows('ods.opinsights.azure.com')).toBe(false);
    expect(list.allows('evilods.opinsights.azure.com')).toBe(false);
    expect(list.allows('ws1.ods.opinsights.azure.com.evil.example')).toBe(false);
  });

  it('matches IP addresses exactly', () => {
    expect(list.allows('10.0.0.5')).toBe(true);
    expect(list.allows('10.0.0.50')).toBe(false);
    expect(list.allows(normalizeHost('0:0:0:0:0:0:0:1')!)).toBe(true);
  });

  it('covers the Azure Monitor hosts by default', () => {
    const defaults = new HostAllowlist(DEFAULT_ALLOWED_HOSTS);
    for (const host of [
      'my-dce-abcd.westeurope-1.ingest.monitor.azure.com',
      'login.microsoftonline.com',
      '00000000-0000-0000-0000-000000000000.ods.opinsights.azure.com',
      'global.handler.control.monitor.azure.com',
      'my-dce.usgovvirginia-1.ingest.monitor.azure.us',
      'login.microsoftonline.us',
      'login.chinacloudapi.cn',
      'ws.oms.opinsights.azure.cn',
    ]) {
      expect(defaults.allows(host), host).toBe(true);
    }
    expect(defaults.allows('example.com')).toBe(false);
    expect(defaults.allows('management.azure.com')).toBe(false);
  });

  it('rejects invalid patterns with a message', () => {
    expect(hostPatternProblem('*')).toMatch(/invalid/);
    expect(hostPatternProblem('*.')).toMatch(/invalid/);
    expect(hostPatternProblem('a.*.com')).toMatch(/first label/);
    expect(hostPatternProblem('*.10.0.0.1')).toMatch(/wildcard/);
    expect(hostPatternProblem('exa mple.com')).toMatch(/not a host name/);
    expect(hostPatternProblem('*.monitor.azure.com')).toBeUndefined();
    expect(() => new HostAllowlist(['ok.com', 'bad host'])).toThrow(/bad host/);
  });
});
