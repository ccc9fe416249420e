import { z } from 'zod';
import { HOST_OS } from '../../platform/host-os.js';
import { customLogConfigSchema } from '../custom_log/config.js';

/** Where IIS writes the W3C logs of its sites by default: one folder per site (W3SVC<site id>). */
export const IIS_DEFAULT_LOG_DIRECTORIES: readonly string[] = ['C:\\inetpub\\logs\\LogFiles\\W3SVC*'];

/** File names of IIS W3C logs: `u_ex<date>.log` when logging in UTF-8 (the default), `ex<date>.log` otherwise. */
export const IIS_DEFAULT_FILE_PATTERNS: readonly string[] = ['u_ex*.log', 'ex*.log'];

/** The site log folders read when `logDirectories` is not set, on `hostOs`; undefined where IIS does not run. */
export function defaultLogDirectories(hostOs: NodeJS.Platform): readonly string[] | undefined {
  return hostOs === 'win32' ? IIS_DEFAULT_LOG_DIRECTORIES : undefined;
}

const tail = customLogConfigSchema.shape;

/** The `iis_log` options; `logDirectories` is required unless `hostOs` has a default for it (Windows). */
export function iisLogConfigSchemaFor(hostOs: NodeJS.Platform) {
  return z
    .strictObject({
      logDirectories: z
        .array(z.string().min(1))
        .min(1)
        .optional()
        .describe('Folders holding the W3C log files (wildcards allowed, found again at each scan); default on Windows `C:\\inetpub\\logs\\LogFiles\\W3SVC*` (every site), required elsewhere.'),
      filePatterns: z
        .array(z.string().min(1))
        .min(1)
        .default([...IIS_DEFAULT_FILE_PATTERNS])
        .describe('Names of the log files in those folders (wildcards allowed).'),
      table: z
        .literal('W3CIISLog')
        .default('W3CIISLog')
        .describe('Table the records go to: W3CIISLog (stored in the custom table W3CIISLog_CL, which Azure takes through the Logs Ingestion API).'),
      startAt: tail.startAt,
      maxLineBytes: tail.maxLineBytes.describe('Longest line read; a longer one is dropped (counted as line_truncated).'),
      maxBatchRecords: tail.maxBatchRecords,
      maxBatchBytes: tail.maxBatchBytes,
      readBufferBytes: tail.readBufferBytes,
      rotateWaitMs: tail.rotateWaitMs,
      scanIntervalMs: tail.scanIntervalMs,
      pollIntervalMs: tail.pollIntervalMs,
    })
    .superRefine((c, ctx) => {
      if (c.logDirectories === undefined && defaultLogDirectories(hostOs) === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['logDirectories'],
          message: 'required on this platform (IIS log folders are found by default on Windows only): name the folders holding the u_ex*.log files',
        });
      }
    });
}

export const iisLogConfigSchema = iisLogConfigSchemaFor(HOST_OS);

export type IisLogConfig = z.output<typeof iisLogConfigSchema>;
