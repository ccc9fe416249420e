import { z } from 'zod';
import { bytesSchema, durationMsSchema } from '@oma/core';
import { SEVERITY_KEYWORDS } from './syslog-keywords.js';

const KIB = 1024;
const MIB = 1024 * 1024;

/** `FIELD=value`, as journalctl takes matches: an upper-case field name (letters, digits, _). */
const MATCH_RE = /^[A-Z0-9_]+=/;

export const journaldConfigSchema = z
  .strictObject({
    directory: z
      .string()
      .min(1)
      .optional()
      .describe('Read the journal files in this directory (and files that appear in it later) instead of the system journal.'),
    files: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Read only these journal files instead of the system journal.'),
    localOnly: z
      .boolean()
      .default(false)
      .describe('System journal only: read the files of this machine only, not journals of others kept here (SD_JOURNAL_LOCAL_ONLY).'),
    units: z
      .array(z.string().min(1))
      .default([])
      .describe('Systemd units to read (_SYSTEMD_UNIT; a name without a suffix gets .service); empty: every unit.'),
    matches: z
      .array(z.string().regex(MATCH_RE, 'expected FIELD=value, such as _TRANSPORT=kernel'))
      .default([])
      .describe('Further journal matches FIELD=value: an entry must match each field named (any of its values) and a unit.'),
    minPriority: z
      .enum(SEVERITY_KEYWORDS)
      .default('debug')
      .describe('Least severe priority read (emerg … debug); an entry without PRIORITY counts as info.'),
    processNameFields: z
      .array(z.string().regex(/^[A-Z0-9_]+$/, 'expected a journal field name such as SYSLOG_IDENTIFIER'))
      .min(1)
      .default(['SYSLOG_IDENTIFIER', '_COMM'])
      .describe('Journal fields tried in turn for ProcessName.'),
    maxFieldBytes: bytesSchema
      .pipe(z.number().int().min(256).max(16 * MIB))
      .default(64 * KIB)
      .describe('Longest field value kept (MESSAGE included); longer ones are cut (counted as field_truncated).'),
    maxBatchRecords: z.number().int().min(1).max(100_000).default(2000).describe('Most entries read per call and per emitted batch.'),
    maxBatchBytes: bytesSchema
      .pipe(z.number().int().min(4 * KIB).max(64 * MIB))
      .default(MIB)
      .describe('Most bytes of encoded records (JSON) per emitted batch.'),
    startAt: z
      .enum(['tail', 'head'])
      .default('tail')
      .describe('Where to start when there is no saved cursor: new entries only (tail) or the oldest entry (head).'),
    waitTimeoutMs: durationMsSchema
      .pipe(z.number().min(10).max(60_000))
      .default(1000)
      .describe('Longest wait for a change notice before the journal is read again anyway.'),
  })
  .refine((c) => c.directory === undefined || c.files === undefined, {
    message: 'set directory or files, not both',
    path: ['files'],
  });

export type JournaldConfig = z.output<typeof journaldConfigSchema>;
