import { z } from 'zod';
import { authSchema } from '../../auth/config.js';
import { bytesSchema, durationMsSchema } from '../../config/units.js';
import { egressOptionsShape } from '../../http/egress-config.js';
import { checkServiceUrl, INSECURE_HTTP_MESSAGE, isInsecureRemoteUrl } from '../../http/url.js';
import { deadLetterOptionSchema, retryOptionSchema } from '../shared/config.js';

/**
 * Largest JSON array (before compression) one request may carry: the service inflates the body and
 * refuses more than 50 MiB (docs/protocol-notes.md#logs-ingestion-limits).
 */
export const MAX_REQUEST_JSON_BYTES = 50 * 1024 * 1024;
/** Default cap of the JSON array of one request: well under the service's, and it bounds the sink's memory. */
export const DEFAULT_REQUEST_JSON_BYTES = 10 * 1024 * 1024;
/** Largest request body on the wire (after compression) the service accepts. */
export const MAX_REQUEST_WIRE_BYTES = 1_048_576;

const TABLE_RE = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;
const STREAM_RE = /^(?:Custom|Microsoft)-[A-Za-z][A-Za-z0-9_]{0,99}$/;

export const azureLogsIngestionConfigSchema = z
  .strictObject({
    endpoint: z
      .string()
      .superRefine((v, ctx) => {
        const problem = checkServiceUrl(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .describe(
        'Logs ingestion endpoint of the data collection rule, or a data collection endpoint (DCE), e.g. https://my-dce-a1b2.eastus-1.ingest.monitor.azure.com. Must be https (plain http only towards a loopback host).',
      ),
    dcrImmutableId: z
      .string()
      .regex(/^dcr-[0-9a-f]{32}$/i, 'expected dcr- followed by 32 hex digits')
      .describe('Immutable id of the data collection rule (its immutableId property), e.g. dcr-000a00a000a00000a000000aa000a0aa.'),
    streams: z
      .record(
        z.string().regex(TABLE_RE, 'expected a table name'),
        z.string().regex(STREAM_RE, 'expected a stream name such as Custom-MyTable_CL or Microsoft-Syslog'),
      )
      .optional()
      .describe('Stream of the data collection rule to send each table to, by table name. A table not listed goes to Custom-<table>.'),
    auth: authSchema,
    allowInsecureHttp: z
      .boolean()
      .default(false)
      .describe('Allow plain http endpoints on hosts other than loopback. Tokens then cross the network in clear text; only for tests.'),
    maxConcurrency: z.number().int().min(1).max(64).default(2).describe('Requests in flight at once to this destination.'),
    flushIntervalMs: durationMsSchema
      .default(1_000)
      .describe('How long records of a table may wait for more records to fill a request before it is sent anyway.'),
    maxRequestBytes: bytesSchema
      .default(DEFAULT_REQUEST_JSON_BYTES)
      .refine((v) => v >= 1024 && v <= MAX_REQUEST_JSON_BYTES, `maxRequestBytes must be between 1024 and ${MAX_REQUEST_JSON_BYTES}`)
      .describe(
        'Largest JSON body of one request before compression. Requests are packed until the compressed body nears 1 MiB (the service limit on the wire) or this is reached; without compression, 1 MiB is the cap.',
      ),
    compression: z.enum(['gzip', 'none']).default('gzip').describe('Request body encoding: gzip (recommended) or none.'),
    compressionLevel: z
      .number()
      .int()
      .min(1)
      .max(9)
      .default(1)
      .describe('gzip level, 1 (fastest) to 9 (smallest). Level 1 packs logs about 8:1 at a third of the CPU of level 6.'),
    requestTimeoutMs: durationMsSchema
      .default(30_000)
      .refine((v) => v >= 100, 'requestTimeoutMs must be at least 100ms')
      .describe('Time one request (or token request) may take before it is abandoned and retried.'),
    retry: retryOptionSchema,
    deadLetter: deadLetterOptionSchema,
    ...egressOptionsShape,
  })
  // Cross-field checks; `when` lets them run even if unrelated options have errors.
  .refine((cfg) => cfg.allowInsecureHttp || !isInsecureRemoteUrl(cfg.endpoint), {
    message: INSECURE_HTTP_MESSAGE,
    path: ['endpoint'],
    when: (p) => hasString(p.value, 'endpoint'),
  })
  .refine((cfg) => cfg.allowInsecureHttp || !('authorityHost' in cfg.auth) || cfg.auth.authorityHost === undefined || !isInsecureRemoteUrl(cfg.auth.authorityHost), {
    message: INSECURE_HTTP_MESSAGE,
    path: ['auth', 'authorityHost'],
    when: (p) => typeof p.value === 'object' && p.value !== null && hasString((p.value as { auth?: unknown }).auth, 'authorityHost'),
  })
  .describe('Sends records to a Log Analytics workspace through the Azure Monitor Logs Ingestion API (data collection rules).');

export type AzureLogsIngestionConfig = z.output<typeof azureLogsIngestionConfigSchema>;

function hasString(v: unknown, key: string): boolean {
  return typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)[key] === 'string';
}
