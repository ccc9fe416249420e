import { z } from 'zod';
import { durationMsSchema } from '../../config/units.js';

export const heartbeatConfigSchema = z.strictObject({
  intervalMs: durationMsSchema
    .default(60_000)
    .refine((v) => v >= 1000, 'intervalMs must be at least 1s')
    .describe('Interval between Heartbeat records; one is also sent at start.'),
  category: z.string().default('Direct Agent').describe('Category column; "Direct Agent" matches the Log Analytics agent.'),
});
export type HeartbeatConfig = z.output<typeof heartbeatConfigSchema>;
