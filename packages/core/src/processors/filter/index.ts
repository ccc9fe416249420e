import type { ProcessorDefinition } from '../../pipeline/component.js';
import { filterConfigSchema } from './config.js';
import { FilterProcessor } from './filter.js';

export { filterConfigSchema, type FilterConfig } from './config.js';
export { FilterProcessor } from './filter.js';

export const filterProcessor: ProcessorDefinition<typeof filterConfigSchema> = {
  kind: 'processor',
  type: 'filter',
  description: 'Keeps or drops records by regular expressions on columns.',
  schema: filterConfigSchema,
  create: (config, ctx) => new FilterProcessor(config, ctx),
};
