import type { DcrEntryReader, DcrPath } from '@oma/core';
import { describe, expect, it } from 'vitest';
import { counterSpecifierWarnings, performanceCountersDcr, performanceCountersSource } from './index.js';

/** A DCR entry reader over one `performanceCounters` entry that records what `fromDcr` reports and sets. */
function readerFor(entry: Record<string, unknown>) {
  const report: Array<[string, string, string]> = [];
  const set: Record<string, unknown> = {};
  const at = (p: DcrPath): string => p.join('.');
  const reader: DcrEntryReader = {
    entry,
    stream: 'Microsoft-Perf',
    error: (p, m) => void report.push(['error', at(p), m]),
    warning: (p, m) => void report.push(['warning', at(p), m]),
    info: (p, m) => void report.push(['info', at(p), m]),
    skip: (p, m) => void report.push(['skip', at(p), m]),
    stringList(key, required) {
      const v = entry[key];
      if (v === undefined) {
        if (required) report.push(['error', key, 'missing (required)']);
        return undefined;
      }
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
        report.push(['error', key, 'expected a list of strings']);
        return undefined;
      }
      return v;
    },
    enumList: () => undefined,
    set: (name, value) => void (set[name] = value),
    customTable: () => ({ table: '', at: [] }),
  };
  return { reader, report, set };
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
    const { reader, report, set } = readerFor({
      name: 'perf60',
      streams: ['Microsoft-Perf'],
      samplingFrequencyInSeconds: 60,
      counterSpecifiers: ['\\Processor(_Total)\\% Processor Time', '\\Memory\\Available MBytes', '\\LogicalDisk(*)\\% Free Space', '\\Network Interface(*)\\Bytes Total/sec'],
    });
    performanceCountersDcr.fromDcr(reader);
    expect(set).toEqual({
      samplingFrequencySeconds: 60,
      counterSpecifiers: ['\\Processor(_Total)\\% Processor Time', '\\Memory\\Available MBytes', '\\LogicalDisk(*)\\% Free Space', '\\Network Interface(*)\\Bytes Total/sec'],
    });
    expect(report).toEqual([
      ['warning', 'counterSpecifiers.1', 'unknown counter "Available MBytes" of Memory in "\\Memory\\Available MBytes": not collected'],
      ['warning', 'counterSpecifiers.3', expect.stringMatching(/^unknown performance object "Network Interface"/)],
    ]);
    // what fromDcr sets is a valid config of the source
    expect(performanceCountersSource.schema.safeParse(set).success).toBe(true);
  });

  it.each([[undefined, 'missing (required)'], [0, 'expected a whole number of seconds from 1 to 1800'], [1801, /from 1 to 1800/], [2.5, /whole number/], ['60', /whole number/]])(
    'reports samplingFrequencyInSeconds %j as an error',
    (f, message) => {
      const { reader, report, set } = readerFor({ name: 'p', streams: ['Microsoft-Perf'], samplingFrequencyInSeconds: f, counterSpecifiers: ['\\Memory'] });
      performanceCountersDcr.fromDcr(reader);
      expect(report).toEqual([['error', 'samplingFrequencyInSeconds', typeof message === 'string' ? message : expect.stringMatching(message)]]);
      expect(set.samplingFrequencySeconds).toBeUndefined();
    },
  );

  it('requires counterSpecifiers', () => {
    const { reader, report, set } = readerFor({ name: 'p', streams: ['Microsoft-Perf'], samplingFrequencyInSeconds: 10 });
    performanceCountersDcr.fromDcr(reader);
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
