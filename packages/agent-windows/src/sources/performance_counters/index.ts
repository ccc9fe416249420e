import { formatPath, type ConfigIssue, type DcrEntryReader, type DcrSourceMapping, type PdhBinding, type SourceDefinition } from '@oma/core';
import { checkSpecifier, PERF_SAMPLING_MAX_S, PERF_SAMPLING_MIN_S, windowsPerformanceCountersConfigSchema, type WindowsPerformanceCountersConfig } from './config.js';
import { WindowsPerformanceCountersSource } from './performance-counters.js';

export {
  checkSpecifier,
  counterGroupsOf,
  DEFAULT_COUNTER_GROUPS,
  PERF_SAMPLING_DEFAULT_S,
  PERF_SAMPLING_MAX_S,
  PERF_SAMPLING_MIN_S,
  windowsPerformanceCountersConfigSchema,
  type CollectedSpecifier,
  type CounterGroup,
  type WindowsPerformanceCountersConfig,
} from './config.js';
export { formatCounterPath, hasInstanceWildcard, parseCounterPath, perfCounterPath, type CounterPath } from './path.js';
export { pdhStatusName, perfRecords, UNAVAILABLE_RETRY_MS, WindowsPerformanceCountersSource } from './performance-counters.js';

/** What `oma validate` and the DCR mapper say about one specifier: why it is not collected, or what is changed. */
function specifierIssue(text: string): string | undefined {
  const check = checkSpecifier(text);
  if (!check.ok) return `${check.problem}: not collected`;
  return check.specifier.note;
}

/**
 * What `oma validate` can say about a config's counter specifiers beyond the schema: those that do
 * not parse or name a wildcard counter (the source logs and skips them), and machine parts it
 * ignores. `base` is the source's config path; each warning carries the specifier's own path.
 */
export function counterSpecifierWarnings(config: WindowsPerformanceCountersConfig, base: ReadonlyArray<PropertyKey>): ConfigIssue[] {
  const lists: Array<[ReadonlyArray<PropertyKey>, readonly string[]]> = config.counterGroups
    ? config.counterGroups.map((g, i) => [[...base, 'counterGroups', i, 'counterSpecifiers'], g.counterSpecifiers])
    : config.counterSpecifiers
      ? [[[...base, 'counterSpecifiers'], config.counterSpecifiers]]
      : [];
  const issues: ConfigIssue[] = [];
  for (const [at, specifiers] of lists) {
    specifiers.forEach((text, i) => {
      const message = specifierIssue(text);
      if (message !== undefined) issues.push({ path: formatPath([...at, i]), message });
    });
  }
  return issues;
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
  specifiers.forEach((text, i) => {
    const message = specifierIssue(text);
    if (message !== undefined) reader.warning(['counterSpecifiers', i], message);
  });
  reader.set('counterSpecifiers', specifiers, ['counterSpecifiers']);
}

export const windowsPerformanceCountersDcr: DcrSourceMapping = {
  kind: 'performanceCounters',
  streams: ['Microsoft-Perf'],
  keys: ['name', 'streams', 'samplingFrequencyInSeconds', 'counterSpecifiers'],
  unsupported: { 'Microsoft-InsightsMetrics': 'Azure Monitor Metrics (InsightsMetrics) are not supported by OMA; counters go to Perf through Microsoft-Perf' },
  fromDcr,
};

/**
 * The Windows `performance_counters` source type over a PDH binding. `binding` is called at each
 * start, so that a binding that cannot load fails the start (retried with backoff), not the agent.
 */
export function windowsPerformanceCountersSource(binding: () => PdhBinding): SourceDefinition<typeof windowsPerformanceCountersConfigSchema> {
  return {
    kind: 'source',
    type: 'performance_counters',
    description: 'Windows performance counters through PDH (English counter paths, * instances) into Perf; the Azure portal starter set by default.',
    schema: windowsPerformanceCountersConfigSchema,
    create: (config, ctx) => new WindowsPerformanceCountersSource(config, ctx, binding),
    outputTables: () => ['Perf'],
    configWarnings: (config, base) => counterSpecifierWarnings(config, base),
    dcr: windowsPerformanceCountersDcr,
  };
}
