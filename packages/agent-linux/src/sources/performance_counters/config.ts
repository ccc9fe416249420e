import { z } from 'zod';
import { parseCounterSpecifier } from './specifier.js';

/** Sampling interval range, in whole seconds, as data collection rules allow it (`samplingFrequencyInSeconds`). */
export const PERF_SAMPLING_MIN_S = 1;
export const PERF_SAMPLING_MAX_S = 1800;

const frequencySchema = z
  .number()
  .int('expected a whole number of seconds')
  .min(PERF_SAMPLING_MIN_S, `expected at least ${PERF_SAMPLING_MIN_S} second`)
  .max(PERF_SAMPLING_MAX_S, `expected at most ${PERF_SAMPLING_MAX_S} seconds`);

const specifiersSchema = z
  .array(
    z.string().refine((s) => parseCounterSpecifier(s) !== undefined, {
      error: (issue) => `not a counter specifier: ${JSON.stringify(issue.input)} (expected \\Object(Instance)\\Counter, e.g. \\Processor(_Total)\\% Processor Time)`,
    }),
  )
  .min(1);

export const counterGroupSchema = z.strictObject({
  samplingFrequencySeconds: frequencySchema.describe('Seconds between samples of this group (1–1800); samples fall on multiples of it.'),
  counterSpecifiers: specifiersSchema.describe('Counters of this group, as \\Object(Instance)\\Counter with * wildcards.'),
});
export type CounterGroup = z.output<typeof counterGroupSchema>;

/** The set collected when the config names no counters: Processor and Memory every 10 s, the rest every 60 s. */
export const DEFAULT_COUNTER_GROUPS: readonly CounterGroup[] = [
  { samplingFrequencySeconds: 10, counterSpecifiers: ['\\Processor(*)\\% Processor Time', '\\Processor(_Total)\\*', '\\Memory(*)\\*'] },
  {
    samplingFrequencySeconds: 60,
    counterSpecifiers: [
      '\\Logical Disk(*)\\% Free Space',
      '\\Logical Disk(*)\\% Used Space',
      '\\Logical Disk(*)\\Free Megabytes',
      '\\Logical Disk(*)\\% Free Inodes',
      '\\Logical Disk(*)\\Disk Reads/sec',
      '\\Logical Disk(*)\\Disk Writes/sec',
      '\\Logical Disk(*)\\Logical Disk Bytes/sec',
      '\\Physical Disk(*)\\*',
      '\\Network(*)\\Total Bytes Transmitted',
      '\\Network(*)\\Total Bytes Received',
      '\\Network(*)\\Total Rx Errors',
      '\\Network(*)\\Total Tx Errors',
      '\\System(*)\\*',
    ],
  },
];

export const performanceCountersConfigSchema = z
  .strictObject({
    counterSpecifiers: specifiersSchema
      .optional()
      .describe('Counters to sample every samplingFrequencySeconds (\\Object(Instance)\\Counter, * wildcards); with neither this nor counterGroups, the default set.'),
    samplingFrequencySeconds: frequencySchema.default(60).describe('Seconds between samples of counterSpecifiers (1–1800).'),
    counterGroups: z
      .array(counterGroupSchema)
      .min(1)
      .optional()
      .describe('Groups of counters, each with its own sampling frequency (instead of counterSpecifiers).'),
  })
  .refine((c) => c.counterSpecifiers === undefined || c.counterGroups === undefined, {
    error: 'give counterSpecifiers or counterGroups, not both',
    path: ['counterGroups'],
  });
export type PerformanceCountersConfig = z.output<typeof performanceCountersConfigSchema>;

/** The groups a config collects: its counterGroups, its counterSpecifiers as one group, or the default set. */
export function counterGroupsOf(config: PerformanceCountersConfig): readonly CounterGroup[] {
  if (config.counterGroups) return config.counterGroups;
  if (config.counterSpecifiers) return [{ samplingFrequencySeconds: config.samplingFrequencySeconds, counterSpecifiers: config.counterSpecifiers }];
  return DEFAULT_COUNTER_GROUPS;
}
