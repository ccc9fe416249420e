import type { JournalBinding, SourceDefinition } from '@oma/core';
import { journaldConfigSchema } from './config.js';
import { JournaldSource } from './journald.js';

export { journaldConfigSchema, type JournaldConfig } from './config.js';
export { JournaldSource } from './journald.js';

/**
 * The `journald` source type over a journal binding. `binding` is called at each start, so that a
 * host where it cannot be made (the addon not built) fails only this source, once, at its start.
 */
export function journaldSource(binding: () => JournalBinding): SourceDefinition<typeof journaldConfigSchema> {
  return {
    kind: 'source',
    type: 'journald',
    description: 'Entries of the systemd journal (the system journal, a directory or files) as Syslog records.',
    schema: journaldConfigSchema,
    create: (config, ctx) => new JournaldSource(config, ctx, binding),
    outputTables: () => ['Syslog'],
  };
}
