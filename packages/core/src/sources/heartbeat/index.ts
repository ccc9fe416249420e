import type { SourceDefinition } from '../../pipeline/component.js';
import { heartbeatConfigSchema } from './config.js';
import { HeartbeatSource } from './heartbeat.js';

export { heartbeatConfigSchema, type HeartbeatConfig } from './config.js';
export { HeartbeatSource } from './heartbeat.js';

export const heartbeatSource: SourceDefinition<typeof heartbeatConfigSchema> = {
  kind: 'source',
  type: 'heartbeat',
  description: 'A Heartbeat record at start and every minute, like the Log Analytics agent.',
  schema: heartbeatConfigSchema,
  create: (config, ctx) => new HeartbeatSource(config, ctx),
  outputTables: () => ['Heartbeat'],
};
