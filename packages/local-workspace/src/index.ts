export {
  LocalWorkspace,
  type IssueTokenOverrides,
  type LocalWorkspaceClient,
  type LocalWorkspaceManagedIdentity,
  type LocalWorkspaceOptions,
} from './workspace.js';
export { defaultDcr, resolveStream, checkDcrs, type LocalDcr, type LocalStream } from './dcr.js';
export {
  WorkspaceStore,
  WorkspaceStoreError,
  MAX_QUERY_LIMIT,
  DEFAULT_QUERY_LIMIT,
  type QueryResult,
  type StoreQuery,
  type StoredColumn,
  type TableInfo,
  type WorkspaceStoreErrorCode,
  type WorkspaceStoreOptions,
} from './store/workspace-store.js';
export {
  FaultInjector,
  FaultRuleError,
  parseFaultRule,
  type ActiveFault,
  type FaultAction,
  type FaultDecision,
  type FaultMatch,
  type FaultRoute,
  type FaultRule,
  type LatencyFault,
  type ResetFault,
  type StatusFault,
} from './faults.js';
export type { LocalDataCollectorOptions } from './routes/data-collector.js';
export { RequestLog, type RequestLogEntry } from './request-log.js';
export { readEndpointFile, readQueryToken, type EndpointInfo } from './endpoint-file.js';
export { queryWorkspace, listTables, type QueryWorkspaceOptions, type WorkspaceAccess } from './client.js';
export {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  DEFAULT_DCR_IMMUTABLE_ID,
  DEFAULT_MAX_INFLATED_BODY_BYTES,
  DEFAULT_TENANT_ID,
  MAX_INGEST_BODY_BYTES,
  MONITOR_AUDIENCE,
  MONITOR_SCOPES,
  QUERY_TOKEN_FILE,
  SUPPORTED_API_VERSIONS,
} from './constants.js';
