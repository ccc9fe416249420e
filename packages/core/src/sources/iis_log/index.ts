import type { SourceDefinition } from '../../pipeline/component.js';
import { HOST_OS } from '../../platform/host-os.js';
import { iisLogConfigSchema } from './config.js';
import { iisLogDcr } from './dcr.js';
import { createIisLogSource } from './iis-log.js';

export {
  defaultLogDirectories,
  IIS_DEFAULT_FILE_PATTERNS,
  IIS_DEFAULT_LOG_DIRECTORIES,
  iisLogConfigSchema,
  iisLogConfigSchemaFor,
  type IisLogConfig,
} from './config.js';
export { iisLogDcr } from './dcr.js';
export { createIisLogSource, iisFilePatterns, tailConfig } from './iis-log.js';
export { compileHeader, W3C_FIELD_COLUMNS, W3cEncoder, w3cRecordFormat, type W3cDropReason, type W3cEvents } from './w3c.js';

export const iisLogSource: SourceDefinition<typeof iisLogConfigSchema> = {
  kind: 'source',
  type: 'iis_log',
  description: 'Tails IIS W3C logs (every site folder by default on Windows) into W3CIISLog.',
  schema: iisLogConfigSchema,
  create: (config, ctx) => createIisLogSource(config, ctx, HOST_OS),
  outputTables: (config) => [config.table],
  dcr: iisLogDcr,
};
