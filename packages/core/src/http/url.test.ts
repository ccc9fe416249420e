import { describe, expect, it } from 'vitest';
import { checkServiceUrl, isInsecureRemoteUrl, isLoopbackHost } from './url.js';
import { userAgent } from './user-agent.js';

describe('isLoopbackHost', () => {
  it('accepts 127.0.0.0/8, ::1 and localhost', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '[::1]', '::1', 'localhost', 'LOCALHOST', 'api.localhost']) {
      expect(isLoopbackHost(h), h).toBe(true);
    }
  });

  it('rejects everything else', () => {
    for (const h of ['128.0.0.1', '10.0.0.1', 'example.com', 'localhost.example.com', '[::2]', '0.0.0.0']) {
      expect(isLoopbackHost(h), h).toBe(false);
    }
  });
});

describe('service URLs', () => {
  it('checks the shape', () => {
    expect(checkServiceUrl('https://dce.eastus-1.ingest.monitor.azure.com')).toBeUndefined();
    expect(checkServiceUrl('https://dce.example/prefix/')).toBeUndefined();
    expect(checkServiceUrl('not a url')).toMatch(/absolute URL/);
    expect(checkServiceUrl('ftp://example.com')).toMatch(/scheme/);
    expect(checkServiceUrl('https://user:pw@example.com')).toMatch(/credentials/);
    expect(checkServiceUrl('https://example.com/?x=1')).toMatch(/query/);
  });

  it('flags plain http only towards remote hosts', () => {
    expect(isInsecureRemoteUrl('http://example.com')).toBe(true);
    expect(isInsecureRemoteUrl('http://127.0.0.1:8080')).toBe(false);
    expect(isInsecureRemoteUrl('http://[::1]:8080')).toBe(false);
    expect(isInsecureRemoteUrl('https://example.com')).toBe(false);
  });
});

describe('userAgent', () => {
  it('names the agent version and the OS, with header-safe characters only', () => {
    expect(userAgent('1.2.3', { osType: 'Linux', osName: 'Ubuntu 24.04 LTS' })).toBe('OMA/1.2.3 (Linux; Ubuntu 24.04 LTS)');
    expect(userAgent('1.0.0', { osType: 'Windows', osName: 'Windows Server (2022)\r\n' })).toBe('OMA/1.0.0 (Windows; Windows Server _2022___)');
  });
});
