import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import { runOma, useScenario } from './helpers.js';

/** True when / is a filesystem the performance_counters source counts as a Logical Disk (not overlay, tmpfs…). */
function rootIsRealFilesystem(): boolean {
  const root = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4] === '/')
    .at(-1);
  const fsType = root?.split(' - ')[1]?.split(' ')[0];
  const nodev = readFileSync('/proc/filesystems', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('nodev'))
    .map((l) => l.split('\t')[1]);
  return fsType !== undefined && !nodev.includes(fsType);
}

/** A performanceCounters data source of a data collection rule. */
function perfDcr(): unknown {
  return {
    location: 'westeurope',
    properties: {
      dataSources: {
        performanceCounters: [
          {
            name: 'perfRule',
            streams: ['Microsoft-Perf'],
            samplingFrequencyInSeconds: 1,
            counterSpecifiers: ['\\Memory\\Available MBytes Memory', '\\Network Interface(*)\\Bytes Total/sec'],
          },
        ],
      },
      destinations: { logAnalytics: [{ name: 'law', workspaceResourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law' }] },
      dataFlows: [{ streams: ['Microsoft-Perf'], destinations: ['law'] }],
    },
  };
}

type Row = Record<string, unknown>;

describe.runIf(process.platform === 'linux')('performance counters through `oma run` into the local workspace (Linux only)', () => {
  const sc = useScenario('oma-e2e-perf-');

  it('stores samples of the selected counters in Perf_CL with their OMS names, from the config and from a rule', async () => {
    const config = sc.path('oma.yaml');
    const rule = sc.path('dcr.json');
    writeFileSync(rule, JSON.stringify(perfDcr()));
    writeFileSync(
      config,
      [
        `dataDir: ${sc.path('data')}`,
        'statusIntervalMs: 0',
        'observability: { enabled: false }',
        `dataCollectionRule: { file: ${JSON.stringify(rule)} }`,
        'sources:',
        '  perf:',
        '    type: performance_counters',
        '    counterGroups:',
        "      - { samplingFrequencySeconds: 1, counterSpecifiers: ['\\Processor(_Total)\\% Processor Time', '\\Logical Disk(*)\\% Free Space', '\\System\\Uptime'] }",
        "      - { samplingFrequencySeconds: 2, counterSpecifiers: ['\\Memory(*)\\% Used Memory'] }",
        'destinations:',
        '  local: { type: local_workspace }',
        '',
      ].join('\n'),
    );
    const validate = await runOma(['validate', '--config', config]);
    expect(validate.code, validate.stderr).toBe(0);

    const agent = sc.startOma(['run', '--config', config]);
    await agent.waitForOutput(/local workspace: http:\/\/127\.0\.0\.1:\d+/);
    const rows = async (): Promise<Row[]> => {
      const r = await runOma(['query', 'Perf_CL', '--json', '--limit', '10000', '--config', config]);
      if (r.code !== 0) throw new Error(`oma query failed (${r.code}): ${r.stderr}`);
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Row);
    };
    const has = (all: Row[], object: string, instance: string, counter: string): Row | undefined =>
      all.find((r) => r.ObjectName === object && r.InstanceName === instance && r.CounterName === counter);

    // % Processor Time is a rate: it appears from the second sample on.
    let all: Row[] = [];
    await vi.waitFor(
      async () => {
        all = await rows();
        expect(has(all, 'Processor', '_Total', '% Processor Time')).toBeDefined();
        expect(has(all, 'Memory', 'Memory', '% Used Memory')).toBeDefined();
        expect(has(all, 'Memory', 'Memory', 'Available MBytes Memory')).toBeDefined();
        expect(has(all, 'System', '_Total', 'Uptime')).toBeDefined();
      },
      { timeout: 30_000, interval: 500 },
    );
    const computer = hostname().split('.')[0]!;
    const cpu = has(all, 'Processor', '_Total', '% Processor Time')!;
    expect(cpu).toMatchObject({ Computer: computer, CounterPath: `\\\\${computer}\\Processor(_Total)\\% Processor Time` });
    expect(cpu.CounterValue).toBeGreaterThanOrEqual(0);
    expect(cpu.CounterValue).toBeLessThanOrEqual(100);
    // samples fall on whole seconds
    for (const r of all) expect(String(r.TimeGenerated)).toMatch(/:\d\d(\.000)?Z$/);
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    expect(Number(has(all, 'System', '_Total', 'Uptime')!.CounterValue)).toBeLessThanOrEqual(uptime);
    if (rootIsRealFilesystem()) expect(has(all, 'Logical Disk', '/', '% Free Space')).toMatchObject({ CounterPath: `\\\\${computer}\\Logical Disk(/)\\% Free Space` });
    // only what was selected: nothing of Network (unknown as "Network Interface") or Physical Disk
    expect(new Set(all.map((r) => r.ObjectName))).toEqual(new Set(['Processor', 'Memory', 'System', ...(rootIsRealFilesystem() ? ['Logical Disk'] : [])]));
    expect(agent.stderr).toMatch(/"component":"dcr-perfrule"[^\n]*"counterSpecifier":"\\\\Network Interface\(\*\)\\\\Bytes Total\/sec"[^\n]*"msg":"performance counter not known on Linux; ignored"/);
  });
});
