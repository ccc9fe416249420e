import { formatPath, type ConfigIssue, type DcrEntryReader, type DcrSourceMapping, type SourceDefinition } from '@oma/core';
import { PERF_SAMPLING_MAX_S, PERF_SAMPLING_MIN_S, performanceCountersConfigSchema, type PerformanceCountersConfig } from './config.js';
import { PerformanceCountersSource } from './performance-counters.js';
import { selectCounters } from './specifier.js';

export {
  counterGroupsOf,
  DEFAULT_COUNTER_GROUPS,
  PERF_SAMPLING_MAX_S,
  PERF_SAMPLING_MIN_S,
  performanceCountersConfigSchema,
  type CounterGroup,
  type PerformanceCountersConfig,
} from './config.js';
export { PERF_OBJECTS, type PerfObject } from './counters.js';
export { parseCounterSpecifier, selectCounters, type CounterSpecifier } from './specifier.js';
export { PerformanceCountersSource, type PerformanceCountersDeps } from './performance-counters.js';
export { nodeProcFiles, type ProcFiles } from './snapshot.js';

/**
 * What `oma validate` can say about a config's counter specifiers beyond the schema: those naming an
 * object or counter Linux does not have (the source logs and skips them). `base` is the source's config
 * path, e.g. `['sources', 'perf']`; each warning carries the specifier's own path.
 */
export function counterSpecifierWarnings(config: PerformanceCountersConfig, base: ReadonlyArray<PropertyKey>): ConfigIssue[] {
  const lists: Array<[ReadonlyArray<PropertyKey>, readonly string[]]> = config.counterGroups
    ? config.counterGroups.map((g, i) => [[...base, 'counterGroups', i, 'counterSpecifiers'], g.counterSpecifiers])
    : config.counterSpecifiers
      ? [[[...base, 'counterSpecifiers'], config.counterSpecifiers]]
      : [];
  return lists.flatMap(([at, specifiers]) =>
    selectCounters(specifiers).unknown.map((u) => ({ path: formatPath([...at, u.index]), message: `${u.message}: not collected` })),
  );
}

/** Reads a `performanceCounters` data source of a DCR: its sampling frequency and counter specifiers. */
function fromDcr(reader: DcrEntryReader): void {
  const f = reader.entry.samplingFrequencyInSeconds;
  if (f === undefined) reader.error(['samplingFrequencyInSeconds'], 'missing (required)');
  else if (typeof f !== 'number' || !Number.isInteger(f) || f < PERF_SAMPLING_MIN_S || f > PERF_SAMPLING_MAX_S) {
    reader.error(['samplingFrequencyInSeconds'], `expected a whole number of seconds from ${PERF_SAMPLING_MIN_S} to ${PERF_SAMPLING_MAX_S}`);
  } else reader.set('samplingFrequencySeconds', f, ['samplingFrequencyInSeconds']);
  const specifiers = reader.stringList('counterSpecifiers', true);
  if (!specifiers) return;
  for (const u of selectCounters(specifiers).unknown) {
    reader.warning(['counterSpecifiers', u.index], `${u.message}: not collected`);
  }
  reader.set('counterSpecifiers', specifiers, ['counterSpecifiers']);
}

export const performanceCountersDcr: DcrSourceMapping = {
  kind: 'performanceCounters',
  streams: ['Microsoft-Perf'],
  keys: ['name', 'streams', 'samplingFrequencyInSeconds', 'counterSpecifiers'],
  unsupported: { 'Microsoft-InsightsMetrics': 'Azure Monitor Metrics (InsightsMetrics) are not supported by OMA; counters go to Perf through Microsoft-Perf' },
  fromDcr,
};

export const performanceCountersSource: SourceDefinition<typeof performanceCountersConfigSchema> = {
  kind: 'source',
  type: 'performance_counters',
  description: 'Performance counters of this host from /proc, /sys and statfs (Processor, Memory, Logical Disk, Physical Disk, Network, System, Process) into Perf.',
  schema: performanceCountersConfigSchema,
  create: (config, ctx) => new PerformanceCountersSource(config, ctx),
  outputTables: () => ['Perf'],
  configWarnings: (config, base) => counterSpecifierWarnings(config, base),
  dcr: performanceCountersDcr,
};
