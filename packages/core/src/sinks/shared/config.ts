import { z } from 'zod';
import { bytesSchema, durationMsSchema } from '../../config/units.js';

/** Backoff between retries of failed requests, shared by the Azure sinks. */
export const retryConfigSchema = z
  .strictObject({
    initialDelayMs: durationMsSchema
      .default(1_000)
      .refine((v) => v >= 1, 'initialDelayMs must be at least 1ms')
      .describe('Delay before the first retry of a failed request; doubles with each further failure (with jitter).'),
    maxDelayMs: durationMsSchema
      .default(300_000)
      .refine((v) => v >= 1, 'maxDelayMs must be at least 1ms')
      .describe('Longest delay between retries. Retries never stop; the durable queue limits what is kept.'),
  })
  .refine((r) => r.initialDelayMs <= r.maxDelayMs, { message: 'initialDelayMs must not exceed maxDelayMs', path: ['initialDelayMs'] });

/** The dead-letter directory of rejected records, shared by the Azure sinks. */
export const deadLetterConfigSchema = z.strictObject({
  maxBytes: bytesSchema
    .default(100 * 1024 * 1024)
    .describe(
      'Disk space for the dead-letter directory (records the service rejected, with its error); the oldest files are deleted first. 0 keeps none.',
    ),
});

/** The `retry` option of a sink, all defaults when left out. */
export const retryOptionSchema = retryConfigSchema.prefault({}).describe('Backoff between retries of failed requests (capped exponential with jitter).');

/** The `deadLetter` option of a sink, all defaults when left out. */
export const deadLetterOptionSchema = deadLetterConfigSchema.prefault({}).describe('Where rejected records are kept for inspection.');

export type RetryConfig = z.output<typeof retryConfigSchema>;
export type DeadLetterConfig = z.output<typeof deadLetterConfigSchema>;
