import { ComponentRegistry, mapDcrToSources } from '@oma/core';
import { describe, expect, it } from 'vitest';
import { counterSpecifierWarnings, performanceCountersDcr, performanceCountersSource } from './index.js';

/**
 * Maps a rule holding one `performanceCounters` entry through core's DCR mapper: what it reports (paths
 * relative to the entry) and the options of the source it makes (empty when the entry is not applied).
 */
function mapEntry(entry: Record<string, unknown>) {
  const m = mapDcrToSources({ properties: { dataSources: { performanceCounters: [entry] } } }, new ComponentRegistry([performanceCountersSource]));
  const prefix = 'properties.dataSources.performanceCounters[0]';
  const report = m.report.map((r) => [r.severity, r.path.startsWith(`${prefix}.`) ? r.path.slice(prefix.length + 1) : r.path, r.message]);
  const { type: _t, ...set } = (Object.values(m.sources)[0] ?? { type: '' }) as Record<string, unknown>;
  return { report, set };
}

describe('performance_counters DCR mapping', () => {
  it('declares the performanceCounters kind and its streams', () => {
    expect(performanceCountersSource.dcr).toBe(performanceCountersDcr);
    expect(performanceCountersDcr).toMatchObject({
      kind: 'performanceCounters',
      streams: ['Microsoft-Perf'],
      keys: ['name', 'streams', 'samplingFrequencyInSeconds', 'counterSpecifiers'],
      unsupported: { 'Microsoft-InsightsMetrics': expect.stringMatching(/InsightsMetrics/) },
    });
  });

  it('sets samplingFrequencySeconds and counterSpecifiers, and warns about counters Linux does not have', () => {
    const { report, set } = mapEntry({
      name: 'perf60',
      streams: ['Microsoft-Perf'],
      samplingFrequencyInSeconds: 60,
      counterSpecifiers: ['\\Processor(_Total)\\% Processor Time', '\\Memory\\Available MBytes', '\\LogicalDisk(*)\\% Free Space', '\\Network Interface(*)\\Bytes Total/sec'],
    });
    expect(set).toEqual({
      samplingFrequencySeconds: 60,
      counterSpecifiers: ['\\Processor(_Total)\\% Processor Time', '\\Memory\\Available MBytes', '\\LogicalDisk(*)\\% Free Space', '\\Network Interface(*)\\Bytes Total/sec'],
    });
    expect(report).toEqual([
      ['warning', 'counterSpecifiers[1]', 'unknown counter "Available MBytes" of Memory in "\\Memory\\Available MBytes": not collected'],
      ['warning', 'counterSpecifiers[3]', expect.stringMatching(/^unknown performance object "Network Interface"/)],
    ]);
    // what fromDcr sets is a valid config of the source
    expect(performanceCountersSource.schema.safeParse(set).success).toBe(true);
  });

  it.each([[undefined, 'missing (required)'], [0, 'expected a whole number of seconds from 1 to 1800'], [1801, /from 1 to 1800/], [2.5, /whole number/], ['60', /whole number/]])(
    'reports samplingFrequencyInSeconds %j as an error',
    (f, message) => {
      const { report, set } = mapEntry({ name: 'p', streams: ['Microsoft-Perf'], samplingFrequencyInSeconds: f, counterSpecifiers: ['\\Memory'] });
      expect(report).toEqual([['error', 'samplingFrequencyInSeconds', typeof message === 'string' ? message : expect.stringMatching(message)]]);
      expect(set.samplingFrequencySeconds).toBeUndefined();
    },
  );

  it('requires counterSpecifiers', () => {
    const { report, set } = mapEntry({ name: 'p', streams: ['Microsoft-Perf'], samplingFrequencyInSeconds: 10 });
    expect(report).toEqual([['error', 'counterSpecifiers', 'missing (required)']]);
    expect(set.counterSpecifiers).toBeUndefined();
  });
});

describe('counterSpecifierWarnings', () => {
  it('names each unknown specifier at its path in the config, for counterSpecifiers and counterGroups', () => {
    const parse = (o: unknown) => performanceCountersSource.schema.parse(o);
    expect(counterSpecifierWarnings(parse({ counterSpecifiers: ['\\Memory\\*', '\\Memory\\Available MBytes'] }), ['sources', 'perf'])).toEqual([
      { path: 'sources.perf.counterSpecifiers[1]', message: 'unknown counter "Available MBytes" of Memory in "\\Memory\\Available MBytes": not collected' },
    ]);
    const groups = { counterGroups: [{ samplingFrequencySeconds: 1, counterSpecifiers: ['\\Memory'] }, { samplingFrequencySeconds: 60, counterSpecifiers: ['\\Memory', '\\LogicalDisk(*)\\Free Space'] }] };
    expect(counterSpecifierWarnings(parse(groups), ['sources', 'perf'])).toEqual([
      { path: 'sources.perf.counterGroups[1].counterSpecifiers[1]', message: expect.stringMatching(/^unknown counter "Free Space" of Logical Disk/) },
    ]);
    expect(counterSpecifierWarnings(parse({}), ['sources', 'perf'])).toEqual([]);
  });
});
