import { z } from 'zod';
import { bytesSchema, durationMsSchema } from '../../config/units.js';
import { CUSTOM_TABLE_RE } from '../../model/tables.js';
import { RECORD_START_FORMATS } from './timestamp-formats.js';

/** File names of compressed rotations, never read unless `excludeCompressed` is false. */
export const COMPRESSED_PATTERNS: readonly string[] = ['*.gz', '*.zip', '*.bz2', '*.xz'];

const KIB = 1024;
const MIB = 1024 * 1024;

export const customLogConfigSchema = z.strictObject({
  table: z
    .string()
    .regex(CUSTOM_TABLE_RE, 'expected a custom table name: a letter, then letters, digits or _, ending in _CL')
    .describe('Custom table the records go to (ends in _CL).'),
  filePatterns: z
    .array(z.string().min(1))
    .min(1)
    .describe('Files to tail: paths with * and ? wildcards (** for any depth), relative to the working directory.'),
  excludePatterns: z
    .array(z.string().min(1))
    .default([])
    .describe('Files to skip: a pattern without a directory matches file names, one with a directory whole paths.'),
  excludeCompressed: z
    .boolean()
    .default(true)
    .describe('Skip compressed rotations (*.gz, *.zip, *.bz2, *.xz).'),
  startAt: z
    .enum(['end', 'beginning'])
    .default('end')
    .describe('Where to start in files present at the very first start (no checkpoint); later files are read from the beginning.'),
  recordStartTimestampFormat: z
    .enum(RECORD_START_FORMATS)
    .optional()
    .describe('Multi-line records: a record starts at a line beginning with this timestamp, which becomes TimeGenerated.'),
  maxLineBytes: bytesSchema
    .pipe(z.number().int().min(256).max(16 * MIB))
    .default(64 * KIB)
    .describe('Longest record kept; longer lines or records are truncated (counted as line_truncated).'),
  partialLineFlushMs: durationMsSchema
    .pipe(z.number().min(10).max(3_600_000))
    .default(1000)
    .describe('How long a last line without newline (or an open multi-line record) may stay unchanged before it is sent.'),
  maxBatchRecords: z.number().int().min(1).max(100_000).default(10_000).describe('Most records per emitted batch.'),
  maxBatchBytes: bytesSchema
    .pipe(z.number().int().min(4 * KIB).max(64 * MIB))
    .default(MIB)
    .describe('Most bytes of encoded records (JSON) per emitted batch; a single longer record makes a batch of its own.'),
  readBufferBytes: bytesSchema
    .pipe(z.number().int().min(4 * KIB).max(64 * MIB))
    .default(256 * KIB)
    .describe('Size of each read from a file.'),
  rotateWaitMs: durationMsSchema
    .pipe(z.number().min(0).max(3_600_000))
    .default(5000)
    .describe('How long a renamed-away or deleted file is kept open once it stops growing.'),
  scanIntervalMs: durationMsSchema
    .pipe(z.number().min(10).max(60_000))
    .default(1000)
    .describe('How often the patterns are expanded again to find new, renamed and removed files.'),
  pollIntervalMs: durationMsSchema
    .pipe(z.number().min(10).max(10_000))
    .default(250)
    .describe('How often open files are checked for new data when all are caught up.'),
});

export type CustomLogConfig = z.output<typeof customLogConfigSchema>;
