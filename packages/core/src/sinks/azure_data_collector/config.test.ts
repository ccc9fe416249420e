import { describe, expect, it } from 'vitest';
import { coreComponents } from '../../builtins.js';
import { parseAgentConfig, parseConfigText } from '../../config/agent-config.js';
import type { ConfigError } from '../../errors.js';
import { ComponentRegistry } from '../../pipeline/registry.js';
import { azureDataCollectorConfigSchema, dataCollectorBaseUrl, isBase64, logTypeForTable } from './config.js';

const WS = '0b8c4f5e-1234-4abc-9def-0123456789ab';
const KEY = Buffer.alloc(64, 7).toString('base64');
const base = { workspaceId: WS, sharedKey: KEY };

function issues(input: unknown): Array<{ path: string; message: string }> {
  const r = azureDataCollectorConfigSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('azure_data_collector config', () => {
  it('fills the documented defaults', () => {
    const c = azureDataCollectorConfigSchema.parse(base);
    expect(c).toMatchObject({
      cloud: 'public',
      allowInsecureHttp: false,
      timeGeneratedField: 'Timestamp',
      rawDataField: 'Message',
      tenantField: 'TenantName',
      maxConcurrency: 2,
      flushIntervalMs: 1000,
      maxRequestBytes: 4 * 1024 * 1024,
      requestTimeoutMs: 60_000,
      retry: { initialDelayMs: 1000, maxDelayMs: 300_000 },
      deadLetter: { maxBytes: 100 * 1024 * 1024 },
    });
    expect(c.sharedKey.toString()).toBe('[redacted]');
    expect(JSON.stringify(c)).not.toContain(KEY);
    expect(c.sharedKey.reveal()).toBe(KEY);
  });

  it('derives the host from the cloud, unless an endpoint is given', () => {
    const host = (cloud: string): string => dataCollectorBaseUrl(azureDataCollectorConfigSchema.parse({ ...base, cloud }));
    expect(host('public')).toBe(`https://${WS}.ods.opinsights.azure.com`);
    expect(host('usgov')).toBe(`https://${WS}.ods.opinsights.azure.us`);
    expect(host('china')).toBe(`https://${WS}.ods.opinsights.azure.cn`);
    expect(dataCollectorBaseUrl(azureDataCollectorConfigSchema.parse({ ...base, endpoint: 'http://127.0.0.1:9/x' }))).toBe('http://127.0.0.1:9/x');
    expect(issues({ ...base, cloud: 'germany' })).toMatchObject([{ path: 'cloud' }]);
  });

  it('checks the workspace id and the key without printing the key', () => {
    expect(issues({ ...base, workspaceId: 'not-a-guid' })).toEqual([{ path: 'workspaceId', message: expect.stringMatching(/GUID/) as string }]);
    const bad = 'this is not base64!';
    const found = issues({ ...base, sharedKey: bad });
    expect(found).toEqual([{ path: 'sharedKey', message: expect.stringMatching(/base64/) as string }]);
    expect(JSON.stringify(found)).not.toContain(bad);
    expect(issues({ ...base, sharedKey: `${KEY} ` })).toMatchObject([{ path: 'sharedKey' }]);
    // Any valid base64 is accepted (a key of another length only draws a warning at start).
    expect(issues({ ...base, sharedKey: Buffer.from('short').toString('base64') })).toEqual([]);
    process.env.OMA_TEST_DC_KEY = KEY;
    expect(azureDataCollectorConfigSchema.parse({ ...base, sharedKey: { env: 'OMA_TEST_DC_KEY' } }).sharedKey.reveal()).toBe(KEY);
    delete process.env.OMA_TEST_DC_KEY;
    expect(issues({ ...base, sharedKey: { env: 'OMA_TEST_DC_KEY' } })).toMatchObject([{ path: 'sharedKey', message: expect.stringMatching(/not set/) as string }]);
  });

  it('validates base64 strictly', () => {
    expect(isBase64(KEY)).toBe(true);
    expect(KEY).toHaveLength(88);
    for (const v of ['', 'abc', 'ab==cd==', 'a-b_', 'YQ', 'YQ=\n']) expect(isBase64(v), v).toBe(false);
    for (const v of ['YQ==', 'YWI=', 'YWJj']) expect(isBase64(v), v).toBe(true);
  });

  it('names the table whose Log-Type is invalid', () => {
    expect(issues({ ...base, logTypes: { App_CL: 'AppEvents', Syslog: 'Linux_Syslog2' } })).toEqual([]);
    expect(issues({ ...base, logTypes: { App_CL: 'App Events' } })).toEqual([
      { path: 'logTypes.App_CL', message: expect.stringMatching(/Log-Type/) as string },
    ]);
    expect(issues({ ...base, logTypes: { Perf: '1Perf' } })).toMatchObject([{ path: 'logTypes.Perf' }]);
    expect(issues({ ...base, logTypes: { Perf: 'x'.repeat(101) } })).toMatchObject([{ path: 'logTypes.Perf' }]);
    expect(issues({ ...base, logTypes: { Perf: 'Perf_CL' } })).toEqual([
      { path: 'logTypes.Perf', message: expect.stringMatching(/appends _CL/) as string },
    ]);
  });

  it('maps tables to Log-Types', () => {
    expect(logTypeForTable('MyApp_CL', undefined)).toBe('MyApp');
    expect(logTypeForTable('Syslog', undefined)).toBe('Syslog');
    expect(logTypeForTable('Syslog', { Syslog: 'LinuxSyslog' })).toBe('LinuxSyslog');
  });

  it('refuses reserved or clashing replacement names', () => {
    expect(issues({ ...base, timeGeneratedField: 'TimeGenerated' })).toMatchObject([{ path: 'timeGeneratedField', message: expect.stringMatching(/reserved/) as string }]);
    expect(issues({ ...base, rawDataField: 'rawdata' })).toMatchObject([{ path: 'rawDataField' }]);
    expect(issues({ ...base, tenantField: 'has-dash' })).toMatchObject([{ path: 'tenantField' }]);
    expect(issues({ ...base, rawDataField: 'timestamp' })).toEqual([
      { path: 'timeGeneratedField', message: expect.stringMatching(/different/) as string },
    ]);
    expect(issues({ ...base, timeGeneratedField: 'EventTime', rawDataField: 'Line' })).toEqual([]);
  });

  it('bounds the request size to the 30 MB post limit', () => {
    expect(azureDataCollectorConfigSchema.parse({ ...base, maxRequestBytes: '25MiB' }).maxRequestBytes).toBe(25 * 1024 * 1024);
    expect(issues({ ...base, maxRequestBytes: 30_000_000 })).toEqual([]);
    expect(issues({ ...base, maxRequestBytes: 30_000_001 })).toMatchObject([{ path: 'maxRequestBytes' }]);
    expect(issues({ ...base, maxRequestBytes: 1000 })).toMatchObject([{ path: 'maxRequestBytes' }]);
  });

  it('accepts https anywhere and plain http only on loopback', () => {
    expect(issues({ ...base, endpoint: 'http://127.0.0.1:8080' })).toEqual([]);
    expect(issues({ ...base, endpoint: 'http://logs.example.com' })).toEqual([
      { path: 'endpoint', message: expect.stringMatching(/loopback/) as string },
    ]);
    expect(issues({ ...base, endpoint: 'http://logs.example.com', allowInsecureHttp: true })).toEqual([]);
    expect(issues({ ...base, endpoint: 'https://logs.example.com/?a=1' })).toMatchObject([{ path: 'endpoint' }]);
  });

  it('checks the resource id and rejects unknown keys, reporting every problem', () => {
    const rid = '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1';
    expect(issues({ ...base, azureResourceId: rid })).toEqual([]);
    expect(issues({ ...base, azureResourceId: 'vm1' })).toMatchObject([{ path: 'azureResourceId' }]);
    const all = issues({ workspaceId: 'x', sharedKey: '!', maxConcurrency: 0, compression: 'gzip' });
    expect(all.map((i) => i.path).sort()).toEqual(['', 'maxConcurrency', 'sharedKey', 'workspaceId']);
  });

  it('is a destination type of the agent config, with paths in its errors', () => {
    const registry = new ComponentRegistry(coreComponents());
    const yaml = [
      'destinations:',
      '  legacy:',
      '    type: azure_data_collector',
      `    workspaceId: ${WS}`,
      '    sharedKey: { env: OMA_TEST_DC_KEY2 }',
      '    tables: [MyApp_CL]',
      '    logTypes: { MyApp_CL: MyApp }',
    ].join('\n');
    process.env.OMA_TEST_DC_KEY2 = KEY;
    try {
      const cfg = parseAgentConfig(parseConfigText(yaml), registry);
      expect(cfg.destinations).toMatchObject([{ id: 'legacy', type: 'azure_data_collector', tables: ['MyApp_CL'], options: { workspaceId: WS } }]);
      let err: ConfigError | undefined;
      try {
        parseAgentConfig(parseConfigText(yaml.replace('MyApp }', 'My-App }')), registry);
      } catch (e) {
        err = e as ConfigError;
      }
      expect(err?.issues).toEqual([{ path: 'destinations.legacy.logTypes.MyApp_CL', message: expect.stringMatching(/Log-Type/) as string }]);
    } finally {
      delete process.env.OMA_TEST_DC_KEY2;
    }
  });
});
