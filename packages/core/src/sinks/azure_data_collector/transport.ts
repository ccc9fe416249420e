import type { Egress } from '../../http/egress.js';
import { PostEndpoint, type PostResult } from '../../http/post.js';
import { DATA_COLLECTOR_API_VERSION } from './config.js';
import { DATA_COLLECTOR_CONTENT_TYPE, DATA_COLLECTOR_RESOURCE, rfc1123Date, sharedKeyAuthorization } from './signature.js';

export interface DataCollectorTransportOptions {
  /** `https://{workspaceId}.ods.opinsights.azure.com` or an override; may carry a path prefix. */
  readonly baseUrl: string;
  readonly workspaceId: string;
  /** The decoded workspace key. */
  readonly key: Buffer;
  readonly requestTimeoutMs: number;
  /** Connections to the endpoint (requests in flight at once). */
  readonly connections: number;
  readonly userAgent: string;
  /** `x-ms-AzureResourceId`, when configured. */
  readonly azureResourceId?: string;
  /** Clock of the `x-ms-date` header. */
  readonly now: () => number;
  /** Proxy and TLS settings of the destination. */
  readonly egress?: Egress;
}

export interface DataCollectorPost {
  readonly logType: string;
  /** The JSON array, UTF-8. */
  readonly body: Buffer;
  /** Property named in the `time-generated-field` header, if any. */
  readonly timeGeneratedField?: string;
  /** Aborts the request (stopping); the result is then `aborted`. */
  readonly signal: AbortSignal;
}

/** What one post came to; an answer also carries the `x-ms-date` it was signed for. */
export type DataCollectorResult =
  | (Extract<PostResult, { kind: 'response' }> & { readonly xMsDate: string })
  | Exclude<PostResult, { kind: 'response' }>;

/**
 * Posts request bodies to `{base}/api/logs?api-version=2016-04-01`, each signed with the workspace key
 * (docs/protocol-notes.md#data-collector-request, #data-collector-signature). Every call takes a fresh `x-ms-date` and signs again, so a retry is never
 * refused for an old date.
 */
export class DataCollectorTransport {
  private readonly endpoint: PostEndpoint;
  private readonly path: string;

  constructor(private readonly opts: DataCollectorTransportOptions) {
    // The one place this destination's connections are made.
    this.endpoint = new PostEndpoint(opts.baseUrl, opts);
    this.path = `${this.endpoint.basePath}${DATA_COLLECTOR_RESOURCE}?api-version=${DATA_COLLECTOR_API_VERSION}`;
  }

  /** Origin of the endpoint (scheme, host, port). */
  get origin(): string {
    return this.endpoint.origin;
  }

  /** The full URL requests go to (for logs). */
  get url(): string {
    return `${this.endpoint.origin}${this.path}`;
  }

  /** Headers of one attempt, signed for `xMsDate` and the body's byte length. */
  headersFor(req: Pick<DataCollectorPost, 'logType' | 'body' | 'timeGeneratedField'>, xMsDate: string): Record<string, string> {
    const headers: Record<string, string> = {
      authorization: sharedKeyAuthorization(this.opts.workspaceId, this.opts.key, req.body.length, xMsDate),
      'content-type': DATA_COLLECTOR_CONTENT_TYPE,
      'Log-Type': req.logType,
      'x-ms-date': xMsDate,
      'user-agent': this.opts.userAgent,
    };
    if (req.timeGeneratedField !== undefined) headers['time-generated-field'] = req.timeGeneratedField;
    if (this.opts.azureResourceId !== undefined) headers['x-ms-AzureResourceId'] = this.opts.azureResourceId;
    return headers;
  }

  async post(req: DataCollectorPost): Promise<DataCollectorResult> {
    if (req.signal.aborted) return { kind: 'aborted' };
    const xMsDate = rfc1123Date(this.opts.now());
    const res = await this.endpoint.post(this.path, this.headersFor(req, xMsDate), req.body, req.signal);
    return res.kind === 'response' ? { ...res, xMsDate } : res;
  }

  /** Aborts requests in flight and closes the connections. */
  close(): Promise<void> {
    return this.endpoint.close();
  }
}
