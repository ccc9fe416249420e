import { z } from 'zod';
import { egressOptionsShape } from '../../http/egress-config.js';
import { secretSchema } from '../../config/secret.js';
import { bytesSchema, durationMsSchema } from '../../config/units.js';
import { checkServiceUrl, INSECURE_HTTP_MESSAGE, isInsecureRemoteUrl } from '../../http/url.js';
import { deadLetterOptionSchema, retryOptionSchema } from '../shared/config.js';

/** The only version of the HTTP Data Collector API (docs/protocol-notes.md#data-collector-request). */
export const DATA_COLLECTOR_API_VERSION = '2016-04-01';

/** Largest body of one post the service accepts (docs/protocol-notes.md#data-collector-limits: 30 MB per post). */
export const MAX_POST_BYTES = 30_000_000;

/** Default largest request body: far under the limit, so that memory stays small (about 3 requests are held). */
export const DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** Smallest `maxRequestBytes`: room for a record with one field at the 32 KB limit. */
export const MIN_REQUEST_BYTES = 65_536;

/** The service truncates field values beyond 32 KB (docs/protocol-notes.md#data-collector-limits); the sink cuts them first, on a UTF-8 boundary. */
export const MAX_FIELD_BYTES = 32_768;

/** Host of the service per cloud, after `{workspaceId}.` (docs/protocol-notes.md#data-collector-request). */
export const DATA_COLLECTOR_HOSTS = {
  public: 'ods.opinsights.azure.com',
  usgov: 'ods.opinsights.azure.us',
  china: 'ods.opinsights.azure.cn',
} as const;

export type DataCollectorCloud = keyof typeof DATA_COLLECTOR_HOSTS;

/** Log-Type: letters, digits and `_`, starting with a letter, at most 100 characters (docs/protocol-notes.md#data-collector-request). */
export const LOG_TYPE_RE = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;

/** Property names the service refuses (docs/protocol-notes.md#data-collector-body); matched without regard to case. */
export const RESERVED_PROPERTIES = ['TimeGenerated', 'RawData', 'tenant'] as const;

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TABLE_RE = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;
/** A property the sink sends: letters, digits, `_`; short enough that the column name with its suffix fits 45 characters. */
const PROPERTY_RE = /^[A-Za-z][A-Za-z0-9_]{0,42}$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const RESOURCE_ID_RE = /^\/subscriptions\/[^/\s]+\/[\x21-\x7e]+$/;

/** True for standard base64 (`+/`, `=` padding, no whitespace) of at least one byte. */
export function isBase64(value: string): boolean {
  return value.length > 0 && value.length % 4 === 0 && BASE64_RE.test(value);
}

function isReserved(name: string): boolean {
  const lower = name.toLowerCase();
  return RESERVED_PROPERTIES.some((r) => r.toLowerCase() === lower);
}

function propertyName(defaultName: string, what: string) {
  return z
    .string()
    .regex(PROPERTY_RE, 'expected a property name: a letter, then letters, digits or _, at most 43 characters')
    .refine((v) => !isReserved(v), 'must not be a reserved property name (TimeGenerated, RawData, tenant)')
    .default(defaultName)
    .describe(what);
}

export const azureDataCollectorConfigSchema = z
  .strictObject({
    ...egressOptionsShape,
    workspaceId: z
      .string()
      .regex(GUID_RE, 'expected the workspace id, a GUID such as 00000000-0000-0000-0000-000000000000')
      .describe('Workspace ID of the Log Analytics workspace (portal: workspace > Agents > Workspace ID).'),
    sharedKey: secretSchema
      .refine((s) => isBase64(s.reveal()), 'expected a workspace key in base64 (88 characters for the usual 64-byte key)')
      .describe('Primary or secondary key of the workspace (portal: workspace > Agents), base64: a string, { env: NAME } or { file: PATH }.'),
    cloud: z
      .enum(['public', 'usgov', 'china'])
      .default('public')
      .describe('Azure cloud: public (*.ods.opinsights.azure.com), usgov (*.azure.us) or china (*.azure.cn).'),
    endpoint: z
      .string()
      .superRefine((v, ctx) => {
        const problem = checkServiceUrl(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe(
        'Base URL replacing https://{workspaceId}.ods.opinsights.azure.com (a local workspace, a test server). Must be https (plain http only towards a loopback host).',
      ),
    allowInsecureHttp: z
      .boolean()
      .default(false)
      .describe('Allow a plain http endpoint on hosts other than loopback. Signed requests then cross the network in clear text; only for tests.'),
    logTypes: z
      .record(
        z.string().regex(TABLE_RE, 'expected a table name'),
        z
          .string()
          .regex(LOG_TYPE_RE, 'expected a Log-Type: a letter, then letters, digits or _, at most 100 characters')
          .refine((v) => !/_CL$/i.test(v), 'must not end in _CL: the service appends _CL to the Log-Type'),
      )
      .optional()
      .describe('Log-Type to send each table as, by table name; the service stores it in table <Log-Type>_CL. A table not listed is sent as its name without a trailing _CL.'),
    timeGeneratedField: propertyName(
      'Timestamp',
      "Property that carries each record's TimeGenerated (a reserved name) and is named in the time-generated-field header, so that the service sets TimeGenerated from it.",
    ),
    rawDataField: propertyName('Message', 'Property that carries RawData (a reserved name), e.g. the line of a custom text log.'),
    tenantField: propertyName('TenantName', 'Property that carries a record property named tenant (a reserved name).'),
    azureResourceId: z
      .string()
      .max(1024)
      .regex(RESOURCE_ID_RE, 'expected an Azure resource id such as /subscriptions/<id>/resourceGroups/<group>/providers/<type>/<name>')
      .optional()
      .describe('Azure resource the records belong to (x-ms-AzureResourceId header); fills _ResourceId for resource-context access.'),
    maxConcurrency: z.number().int().min(1).max(64).default(2).describe('Requests in flight at once to this destination.'),
    flushIntervalMs: durationMsSchema
      .default(1_000)
      .describe('How long records of a table may wait for more records to fill a request before it is sent anyway.'),
    maxRequestBytes: bytesSchema
      .default(DEFAULT_MAX_REQUEST_BYTES)
      .refine(
        (v) => v >= MIN_REQUEST_BYTES && v <= MAX_POST_BYTES,
        `maxRequestBytes must be between ${MIN_REQUEST_BYTES} and ${MAX_POST_BYTES} (the service accepts 30 MB per post)`,
      )
      .describe(
        'Largest JSON body of one request (sent uncompressed; the service accepts 30 MB). About maxConcurrency + 1 requests are held in memory.',
      ),
    requestTimeoutMs: durationMsSchema
      .default(60_000)
      .refine((v) => v >= 100, 'requestTimeoutMs must be at least 100ms')
      .describe('Time one request may take before it is abandoned and retried.'),
    retry: retryOptionSchema,
    deadLetter: deadLetterOptionSchema,
  })
  .refine((cfg) => cfg.allowInsecureHttp || cfg.endpoint === undefined || !isInsecureRemoteUrl(cfg.endpoint), {
    message: INSECURE_HTTP_MESSAGE,
    path: ['endpoint'],
    when: (p) => hasString(p.value, 'endpoint'),
  })
  .refine((cfg) => new Set([cfg.timeGeneratedField, cfg.rawDataField, cfg.tenantField].map((n) => n.toLowerCase())).size === 3, {
    message: 'timeGeneratedField, rawDataField and tenantField must be different names',
    path: ['timeGeneratedField'],
    when: (p) => ['timeGeneratedField', 'rawDataField', 'tenantField'].every((k) => hasString(p.value, k)),
  })
  .describe(
    'Sends records to a Log Analytics workspace through the legacy HTTP Data Collector API (workspace id + shared key; deprecated, retired 14 September 2026).',
  );

export type AzureDataCollectorConfig = z.output<typeof azureDataCollectorConfigSchema>;

function hasString(v: unknown, key: string): boolean {
  return typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)[key] === 'string';
}

/** Base URL of the service: the configured endpoint, or `https://{workspaceId}.ods.opinsights.azure.{com,us,cn}`. */
export function dataCollectorBaseUrl(config: Pick<AzureDataCollectorConfig, 'endpoint' | 'workspaceId' | 'cloud'>): string {
  return config.endpoint ?? `https://${config.workspaceId.toLowerCase()}.${DATA_COLLECTOR_HOSTS[config.cloud]}`;
}

/**
 * The Log-Type records of `table` are sent as: the configured one, else the table name without a trailing
 * `_CL` (the service appends `_CL` again, so `MyApp_CL` stays `MyApp_CL`).
 */
export function logTypeForTable(table: string, logTypes: Readonly<Record<string, string>> | undefined): string {
  return logTypes?.[table] ?? table.replace(/_CL$/, '');
}
