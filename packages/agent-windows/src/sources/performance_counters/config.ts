import { z } from 'zod';
import { formatCounterPath, parseCounterPath, type CounterPath } from './path.js';

/** Sampling interval range, in whole seconds, as data collection rules allow it (`samplingFrequencyInSeconds`). */
export const PERF_SAMPLING_MIN_S = 1;
export const PERF_SAMPLING_MAX_S = 1800;
/** MMA's default sample interval for Windows counters. */
export const PERF_SAMPLING_DEFAULT_S = 10;

const frequencySchema = z
  .number()
  .int('expected a whole number of seconds')
  .min(PERF_SAMPLING_MIN_S, `expected at least ${PERF_SAMPLING_MIN_S} second`)
  .max(PERF_SAMPLING_MAX_S, `expected at most ${PERF_SAMPLING_MAX_S} seconds`);

// Specifiers that do not parse are reported by `oma validate` (configWarnings) and skipped when the
// source runs, as a DCR's are: one bad line does not stop the others.
const specifiersSchema = z.array(z.string().min(1)).min(1);

export const counterGroupSchema = z.strictObject({
  samplingFrequencySeconds: frequencySchema.describe('Seconds between samples of this group (1–1800); samples fall on multiples of it.'),
  counterSpecifiers: specifiersSchema.describe('Counters of this group, as \\Object(Instance)\\Counter in English, (*) for every instance.'),
});
export type CounterGroup = z.output<typeof counterGroupSchema>;

/**
 * The set collected when the config names no counters: the starter set the Azure portal suggested
 * for Windows machines in the MMA era (docs/windows-performance-counters.md#default-set; recalled in
 * the protocol reference, §8.5 "Performance counters"), every 10 s as MMA sampled by default.
 */
export const DEFAULT_COUNTER_GROUPS: readonly CounterGroup[] = [
  {
    samplingFrequencySeconds: PERF_SAMPLING_DEFAULT_S,
    counterSpecifiers: [
      '\\LogicalDisk(*)\\% Free Space',
      '\\LogicalDisk(*)\\Avg. Disk sec/Read',
      '\\LogicalDisk(*)\\Avg. Disk sec/Write',
      '\\LogicalDisk(*)\\Current Disk Queue Length',
      '\\LogicalDisk(*)\\Disk Reads/sec',
      '\\LogicalDisk(*)\\Disk Transfers/sec',
      '\\LogicalDisk(*)\\Disk Writes/sec',
      '\\LogicalDisk(*)\\Free Megabytes',
      '\\Memory\\% Committed Bytes In Use',
      '\\Memory\\Available MBytes',
      '\\Network Adapter(*)\\Bytes Received/sec',
      '\\Network Adapter(*)\\Bytes Sent/sec',
      '\\Network Interface(*)\\Bytes Total/sec',
      '\\Processor(_Total)\\% Processor Time',
      '\\System\\Processor Queue Length',
    ],
  },
];

export const windowsPerformanceCountersConfigSchema = z
  .strictObject({
    counterSpecifiers: specifiersSchema
      .optional()
      .describe('Counters to sample every samplingFrequencySeconds (\\Object(Instance)\\Counter in English, (*) for every instance); with neither this nor counterGroups, the default set.'),
    samplingFrequencySeconds: frequencySchema.default(PERF_SAMPLING_DEFAULT_S).describe('Seconds between samples of counterSpecifiers (1–1800).'),
    counterGroups: z
      .array(counterGroupSchema)
      .min(1)
      .optional()
      .describe('Groups of counters, each with its own sampling frequency (instead of counterSpecifiers); one PDH query per group.'),
  })
  .refine((c) => c.counterSpecifiers === undefined || c.counterGroups === undefined, {
    error: 'give counterSpecifiers or counterGroups, not both',
    path: ['counterGroups'],
  });
export type WindowsPerformanceCountersConfig = z.output<typeof windowsPerformanceCountersConfigSchema>;

/** The groups a config collects: its counterGroups, its counterSpecifiers as one group, or the default set. */
export function counterGroupsOf(config: WindowsPerformanceCountersConfig): readonly CounterGroup[] {
  if (config.counterGroups) return config.counterGroups;
  if (config.counterSpecifiers) return [{ samplingFrequencySeconds: config.samplingFrequencySeconds, counterSpecifiers: config.counterSpecifiers }];
  return DEFAULT_COUNTER_GROUPS;
}

/** A specifier the source collects: what it adds to PDH, and the names its Perf rows carry. */
export interface CollectedSpecifier {
  readonly text: string;
  readonly path: CounterPath;
  /** The English path added to the query: no machine, a leading `\`, `&` for `&amp;`. */
  readonly englishPath: string;
  /** A note for the log and `oma validate` on what was changed (a machine part dropped). */
  readonly note?: string;
}

export type SpecifierCheck = { readonly ok: true; readonly specifier: CollectedSpecifier } | { readonly ok: false; readonly problem: string };

/** Reads one specifier: what the source adds to PDH, or why it cannot collect it. */
export function checkSpecifier(text: string): SpecifierCheck {
  const path = parseCounterPath(text);
  if (!path) return { ok: false, problem: `not a counter specifier: ${JSON.stringify(text)} (expected \\Object(Instance)\\Counter, e.g. \\Processor(_Total)\\% Processor Time)` };
  if (path.counter.includes('*')) {
    return { ok: false, problem: `wildcard counter names are not collected on Windows: ${JSON.stringify(text)} (name each counter; * is allowed in the instance)` };
  }
  const { machine, ...local } = path;
  const englishPath = formatCounterPath(local);
  const note = machine === undefined ? undefined : `the machine part of ${JSON.stringify(text)} is ignored: OMA collects this computer's counters`;
  return { ok: true, specifier: { text, path: local, englishPath, ...(note === undefined ? {} : { note }) } };
}
