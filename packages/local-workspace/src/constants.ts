/** Largest request body the Logs Ingestion API takes on the wire, i.e. after gzip when the body is compressed (docs/protocol-notes.md#ingestion-limits). */
export const MAX_INGEST_BODY_BYTES = 1_048_576;

/**
 * Default cap on a gzip body once inflated (docs/protocol-notes.md#ingestion-limits: the service checks the inflated body against a
 * far larger cap than the wire body; the official SDKs send a little over 1,048,576 inflated bytes).
 */
export const DEFAULT_MAX_INFLATED_BODY_BYTES = 50 * 1024 * 1024;

/** API versions the ingestion route accepts (docs/protocol-notes.md#ingestion-url). */
export const SUPPORTED_API_VERSIONS: readonly string[] = ['2023-01-01', '2021-11-01-preview'];

/** Tenant the token endpoint serves unless configured otherwise. */
export const DEFAULT_TENANT_ID = '00000000-0000-0000-0000-00000000a11a';

/** Immutable id of the default data collection rule. */
export const DEFAULT_DCR_IMMUTABLE_ID = 'dcr-00000000000000000000000000000001';

/** Client accepted by the token endpoint when no `clients` are configured. Not a secret: loopback development only. */
export const DEFAULT_CLIENT_ID = '00000000-0000-0000-0000-0000000c11e7';
export const DEFAULT_CLIENT_SECRET = 'local-workspace-secret';

/** Audience of ingestion tokens and the scopes that ask for it (docs/protocol-notes.md#token-scope). */
export const MONITOR_AUDIENCE = 'https://monitor.azure.com';
export const MONITOR_SCOPES: readonly string[] = ['https://monitor.azure.com//.default', 'https://monitor.azure.com/.default'];

/** Name of the file, in the data directory, that tells other processes where the workspace listens. */
export const ENDPOINT_FILE = 'endpoint.json';
export const DATABASE_FILE = 'workspace.db';
/** Name of the file, in the data directory, holding the bearer token `/query` accepts (mode 600). */
export const QUERY_TOKEN_FILE = 'query-token';

/** Log Analytics table names as the store accepts them: a letter, then letters, digits and `_`. */
export const TABLE_NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

/** Stream names a DCR declares for API input. */
export const STREAM_NAME_RE = /^Custom-[A-Za-z0-9_]{1,100}$/;

/** Immutable ids of data collection rules. */
export const DCR_ID_RE = /^dcr-[A-Za-z0-9]{1,64}$/;
