/** Azure clouds the agent can send to. */
export type CloudName = 'public' | 'usgov' | 'china';

export interface CloudEndpoints {
  /** Entra ID authority host (no trailing slash). */
  readonly authorityHost: string;
  /** Scope of a Logs Ingestion API token (client-credential flow, v2 endpoint). The double slash is intended. */
  readonly logsIngestionScope: string;
  /** Resource of a Logs Ingestion API token for v1-style endpoints (managed identity). */
  readonly logsIngestionResource: string;
}

/** Per-cloud endpoints (docs/protocol-notes.md#token-scope). */
export const CLOUDS: Readonly<Record<CloudName, CloudEndpoints>> = Object.freeze({
  public: {
    authorityHost: 'https://login.microsoftonline.com',
    logsIngestionScope: 'https://monitor.azure.com//.default',
    logsIngestionResource: 'https://monitor.azure.com',
  },
  usgov: {
    authorityHost: 'https://login.microsoftonline.us',
    logsIngestionScope: 'https://monitor.azure.us//.default',
    logsIngestionResource: 'https://monitor.azure.us',
  },
  china: {
    authorityHost: 'https://login.chinacloudapi.cn',
    logsIngestionScope: 'https://monitor.azure.cn//.default',
    logsIngestionResource: 'https://monitor.azure.cn',
  },
});

export const CLOUD_NAMES = Object.keys(CLOUDS) as [CloudName, ...CloudName[]];
