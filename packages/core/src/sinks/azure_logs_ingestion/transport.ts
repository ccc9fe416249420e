import type { TlsClientOptions } from '../../http/dispatcher.js';
import type { Egress } from '../../http/egress.js';
import { PostEndpoint, type PostResult } from '../../http/post.js';

export const LOGS_INGESTION_API_VERSION = '2023-01-01';

export interface IngestionTransportOptions {
  /** DCR logs-ingestion endpoint or DCE; may carry a path prefix. */
  readonly endpoint: string;
  readonly dcrImmutableId: string;
  readonly compression: 'gzip' | 'none';
  readonly requestTimeoutMs: number;
  /** Connections to the endpoint (requests in flight at once). */
  readonly connections: number;
  readonly userAgent: string;
  readonly tls?: TlsClientOptions;
  /** Proxy and TLS settings (direct, TLS 1.2 minimum when absent). */
  readonly egress?: Egress;
}

export interface IngestionPost {
  readonly stream: string;
  /** The JSON array, compressed as `compression` says. */
  readonly body: Buffer;
  readonly token: string;
  /** `x-ms-client-request-id`. */
  readonly requestId: string;
  /** Aborts the request (stopping); the result is then `aborted`. */
  readonly signal: AbortSignal;
}

/** What one post came to: the service's answer, no answer, or aborted. */
export type IngestionResult = PostResult;

/** Posts request bodies to `{endpoint}/dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01`. */
export class IngestionTransport {
  private readonly endpoint: PostEndpoint;

  constructor(private readonly opts: IngestionTransportOptions) {
    this.endpoint = new PostEndpoint(opts.endpoint, opts);
  }

  /** Path and query of the stream's URL. */
  pathFor(stream: string): string {
    return (
      `${this.endpoint.basePath}/dataCollectionRules/${encodeURIComponent(this.opts.dcrImmutableId)}` +
      `/streams/${encodeURIComponent(stream)}?api-version=${LOGS_INGESTION_API_VERSION}`
    );
  }

  /** Origin of the endpoint, as requests are dispatched to it. */
  get origin(): string {
    return this.endpoint.origin;
  }

  /** The stream's full URL (for logs). */
  urlFor(stream: string): string {
    return `${this.endpoint.origin}${this.pathFor(stream)}`;
  }

  post(req: IngestionPost): Promise<IngestionResult> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${req.token}`,
      'content-type': 'application/json',
      'x-ms-client-request-id': req.requestId,
      'user-agent': this.opts.userAgent,
    };
    if (this.opts.compression === 'gzip') headers['content-encoding'] = 'gzip';
    return this.endpoint.post(this.pathFor(req.stream), headers, req.body, req.signal);
  }

  /** Aborts requests in flight and closes the connections. */
  close(): Promise<void> {
    return this.endpoint.close();
  }
}
