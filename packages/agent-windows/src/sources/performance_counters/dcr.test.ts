import { ComponentRegistry, mapDcrToSources, type PdhBinding } from '@oma/core';
import { describe, expect, it } from 'vitest';
import { counterSpecifierWarnings, DEFAULT_COUNTER_GROUPS, windowsPerformanceCountersDcr, windowsPerformanceCountersSource } from './index.js';

const noBinding = (): PdhBinding => {
  throw new Error('not used');
};
const definition = windowsPerformanceCountersSource(noBinding);

/**
 * Maps a rule holding one `performanceCounters` entry through core's DCR mapper: what it reports (paths
 * relative to the entry) and the options of the source it makes (empty when the entry is not applied).
 */
function mapEntry(entry: Record<string, unknown>) {
  const m = mapDcrToSources({ properties: { dataSources: { performanceCounters: [entry] } } }, new ComponentRegistry([definition]));
  const prefix = 'properties.dataSources.performanceCounters[0]';
  const report = m.report.map((r) => [r.severity, r.path.startsWith(`${prefix}.`) ? r.path.slice(prefix.length + 1) : r.path, r.message]);
  const { type: _t, ...set } = (Object.values(m.sources)[0] ?? { type: '' }) as Record<string, unknown>;
  return { report, set };
}

describe('Windows performance_counters DCR mapping', () => {
  it('declares the performanceCounters kind, Microsoft-Perf, and why InsightsMetrics is not collected', () => {
    expect(definition.dcr).toBe(windowsPerformanceCountersDcr);
    expect(definition.type).toBe('performance_counters');
    expect(windowsPerformanceCountersDcr).toMatchObject({
      kind: 'performanceCounters',
      streams: ['Microsoft-Perf'],
      keys: ['name', 'streams', 'samplingFrequencyInSeconds', 'counterSpecifiers'],
      unsupported: { 'Microsoft-InsightsMetrics': expect.stringMatching(/InsightsMetrics.*not supported/) },
    });
    expect(definition.outputTables?.(definition.schema.parse({}))).toEqual(['Perf']);
  });

  it('sets samplingFrequencySeconds and counterSpecifiers, and warns about the specifiers it will not collect', () => {
    const specifiers = [
      '\\Processor Information(_Total)\\% Processor Time',
      '\\Memory\\Available MBytes',
      '\\LogicalDisk(*)\\% Free Space',
      '\\Memory\\Free &amp; Zero Page List Bytes',
      '\\Processor(_Total)\\*',
      'not a path',
      '\\\\DC01\\System\\Processor Queue Length',
    ];
    const { report, set } = mapEntry({ name: 'perf10', streams: ['Microsoft-Perf', 'Microsoft-InsightsMetrics'], samplingFrequencyInSeconds: 10, counterSpecifiers: specifiers });
    expect(set).toEqual({ samplingFrequencySeconds: 10, counterSpecifiers: specifiers });
    expect(report).toEqual([
      ['warning', 'streams[1]', expect.stringMatching(/InsightsMetrics/)],
      ['warning', 'counterSpecifiers[4]', expect.stringMatching(/^wildcard counter names are not collected on Windows: .*: not collected$/)],
      ['warning', 'counterSpecifiers[5]', expect.stringMatching(/^not a counter specifier: "not a path".*: not collected$/)],
      ['warning', 'counterSpecifiers[6]', expect.stringMatching(/machine part .* is ignored/)],
    ]);
    expect(definition.schema.safeParse(set).success).toBe(true);
  });

  it.each([[undefined, 'missing (required)'], [0, 'expected a whole number of seconds from 1 to 1800'], [1801, /from 1 to 1800/], [2.5, /whole number/]])(
    'reports samplingFrequencyInSeconds %j as an error',
    (f, message) => {
      const { report, set } = mapEntry({ name: 'p', streams: ['Microsoft-Perf'], samplingFrequencyInSeconds: f, counterSpecifiers: ['\\Memory\\Available MBytes'] });
      expect(report).toEqual([['error', 'samplingFrequencyInSeconds', typeof message === 'string' ? message : expect.stringMatching(message)]]);
      expect(set.samplingFrequencySeconds).toBeUndefined();
    },
  );
});

describe('Windows performance_counters config', () => {
  const parse = (o: unknown) => definition.schema.parse(o);

  it('samples every 10 s by default, within 1..1800 s, with counterSpecifiers or counterGroups but not both', () => {
    expect(parse({ counterSpecifiers: ['\\Memory\\Available MBytes'] }).samplingFrequencySeconds).toBe(10);
    expect(definition.schema.safeParse({ samplingFrequencySeconds: 0 }).success).toBe(false);
    expect(definition.schema.safeParse({ samplingFrequencySeconds: 1801 }).success).toBe(false);
    expect(definition.schema.safeParse({ counterSpecifiers: ['\\Memory\\Available MBytes'], counterGroups: [{ samplingFrequencySeconds: 1, counterSpecifiers: ['\\Memory\\Available MBytes'] }] }).success).toBe(false);
    expect(definition.schema.safeParse({ counterSpecifier: ['x'] }).success).toBe(false);
  });

  it('names each specifier it will not collect at its path, for counterSpecifiers and counterGroups', () => {
    expect(counterSpecifierWarnings(parse({ counterSpecifiers: ['\\Memory\\Available MBytes', 'Memory'] }), ['sources', 'perf'])).toEqual([
      { path: 'sources.perf.counterSpecifiers[1]', message: expect.stringMatching(/^not a counter specifier: "Memory"/) },
    ]);
    const groups = { counterGroups: [{ samplingFrequencySeconds: 1, counterSpecifiers: ['\\Memory\\Available MBytes'] }, { samplingFrequencySeconds: 60, counterSpecifiers: ['\\Memory\\*', '\\Process(*)\\Working Set'] }] };
    expect(counterSpecifierWarnings(parse(groups), ['sources', 'perf'])).toEqual([
      { path: 'sources.perf.counterGroups[1].counterSpecifiers[0]', message: expect.stringMatching(/^wildcard counter names are not collected/) },
    ]);
    expect(counterSpecifierWarnings(parse({}), ['sources', 'perf'])).toEqual([]);
  });

  it('has a default set (the starter set) whose every specifier is collected as written', () => {
    expect(DEFAULT_COUNTER_GROUPS).toHaveLength(1);
    expect(DEFAULT_COUNTER_GROUPS[0]!.samplingFrequencySeconds).toBe(10);
    expect(DEFAULT_COUNTER_GROUPS[0]!.counterSpecifiers).toHaveLength(15);
    expect(counterSpecifierWarnings(parse({ counterGroups: DEFAULT_COUNTER_GROUPS }), [])).toEqual([]);
  });
});
