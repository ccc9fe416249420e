import type { SourceDefinition } from '../../pipeline/component.js';
import { customLogConfigSchema } from './config.js';
import { CustomLogSource } from './custom-log.js';
import { customLogDcr } from './dcr.js';
import { filePatternWarnings } from './pattern-check.js';

export { customLogConfigSchema, COMPRESSED_PATTERNS, type CustomLogConfig } from './config.js';
export { CustomLogSource } from './custom-log.js';
export { customLogDcr } from './dcr.js';
export { filePatternWarnings } from './pattern-check.js';
export { RECORD_START_FORMATS, timestampParser, type RecordStartFormat, type TimestampParser } from './timestamp-formats.js';

export const customLogSource: SourceDefinition<typeof customLogConfigSchema> = {
  kind: 'source',
  type: 'custom_log',
  description: 'Tails text log files (wildcards, rotation, multi-line records) into a custom _CL table.',
  schema: customLogConfigSchema,
  create: (config, ctx) => new CustomLogSource(config, ctx),
  outputTables: (config) => [config.table],
  configWarnings: (config, base) => filePatternWarnings(config, base),
  dcr: customLogDcr,
};
export { textRecordFormat, type RecordEncoder, type RecordFormat } from './record-format.js';
