import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, runOma } from './helpers.js';

interface Resource {
  type: string;
  properties: {
    streamDeclarations?: Record<string, unknown>;
    dataFlows?: { streams: string[]; outputStream: string }[];
    template?: { resources: { properties: { schema: { name: string } } }[] };
  };
}

describe('oma azure template', () => {
  // On Windows the shipped config has the Event Log and PDH sources instead (packages/cli/src/shipped-config.test.ts checks it per platform).
  it.skipIf(process.platform === 'win32')('turns the shipped default config into a DCR: the Heartbeat mirror, the custom log table and, on Linux, Syslog and the Perf mirror', async () => {
    const r = await runOma(['azure', 'template', '--config', join(REPO, 'config', 'oma.yaml')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const t = JSON.parse(r.stdout) as { resources: Resource[]; outputs: Record<string, unknown> };
    const dcr = t.resources.find((x) => x.type === 'Microsoft.Insights/dataCollectionRules')!;
    const linux = process.platform === 'linux';
    expect(Object.keys(dcr.properties.streamDeclarations!).sort()).toEqual(
      linux ? ['Custom-AppLogs_CL', 'Custom-Heartbeat', 'Custom-Perf', 'Custom-Syslog'] : ['Custom-AppLogs_CL', 'Custom-Heartbeat'],
    );
    expect(dcr.properties.dataFlows!.map((f) => [f.streams[0], f.outputStream])).toEqual([
      ['Custom-AppLogs_CL', 'Custom-AppLogs_CL'],
      ['Custom-Heartbeat', 'Custom-Heartbeat_CL'],
      ...(linux
        ? [
            ['Custom-Perf', 'Custom-Perf_CL'],
            ['Custom-Syslog', 'Microsoft-Syslog'],
          ]
        : []),
    ]);
    const tables = t.resources.find((x) => x.type === 'Microsoft.Resources/deployments')!.properties.template!.resources;
    expect(tables.map((x) => x.properties.schema.name)).toEqual(linux ? ['AppLogs_CL', 'Heartbeat_CL', 'Perf_CL'] : ['AppLogs_CL', 'Heartbeat_CL']);
    expect(Object.keys(t.outputs)).toEqual(expect.arrayContaining(['dcrImmutableId', 'logsIngestionEndpoint']));
  });

  it('exits 2 for a missing config file', async () => {
    const r = await runOma(['azure', 'template', '--config', join(REPO, 'config', 'no-such-file.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read/);
  });
});
