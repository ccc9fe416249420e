import type { Dispatcher } from 'undici';
import { timeoutSignal } from '../../http/abort.js';
import { discardBody, readBodyText } from '../../http/body.js';
import { createDispatcher, type TlsClientOptions } from '../../http/dispatcher.js';
import type { Egress } from '../../http/egress.js';
import type { HeaderBag } from '../../http/retry-after.js';
import { trimTrailingSlash } from '../../http/url.js';

export const LOGS_INGESTION_API_VERSION = '2023-01-01';

/** Most of an error response body kept for logs and dead-letter files. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

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

export type IngestionResult =
  /** The service answered; `body` holds the start of a non-2xx body (empty for 2xx). */
  | { readonly kind: 'response'; readonly status: number; readonly headers: HeaderBag; readonly body: string }
  /** No answer: connection failure, reset, timeout. */
  | { readonly kind: 'error'; readonly error: Error }
  | { readonly kind: 'aborted' };

/** Posts request bodies to `{endpoint}/dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01`. */
export class IngestionTransport {
  private readonly base: URL;
  private readonly basePath: string;
  private readonly dispatcher: Dispatcher;

  constructor(private readonly opts: IngestionTransportOptions) {
    this.base = new URL(opts.endpoint);
    this.basePath = trimTrailingSlash(this.base.pathname);
    this.dispatcher = createDispatcher(this.base.origin, {
      connections: opts.connections,
      headersTimeoutMs: opts.requestTimeoutMs,
      bodyTimeoutMs: opts.requestTimeoutMs,
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.egress ? { egress: opts.egress } : {}),
    });
  }

  /** Path and query of the stream's URL. */
  pathFor(stream: string): string {
    return (
      `${this.basePath}/dataCollectionRules/${encodeURIComponent(this.opts.dcrImmutableId)}` +
      `/streams/${encodeURIComponent(stream)}?api-version=${LOGS_INGESTION_API_VERSION}`
    );
  }

  /** Origin of the endpoint, as requests are dispatched to it. */
  get origin(): string {
    return this.base.origin;
  }

  /** The stream's full URL (for logs). */
  urlFor(stream: string): string {
    return `${this.base.origin}${this.pathFor(stream)}`;
  }

  async post(req: IngestionPost): Promise<IngestionResult> {
    if (req.signal.aborted) return { kind: 'aborted' };
    const headers: Record<string, string> = {
      authorization: `Bearer ${req.token}`,
      'content-type': 'application/json',
      'x-ms-client-request-id': req.requestId,
      'user-agent': this.opts.userAgent,
    };
    if (this.opts.compression === 'gzip') headers['content-encoding'] = 'gzip';
    const timeout = timeoutSignal(this.opts.requestTimeoutMs, req.signal);
    try {
      const res = await this.dispatcher.request({
        origin: this.base.origin,
        path: this.pathFor(req.stream),
        method: 'POST',
        headers,
        body: req.body,
        signal: timeout.signal,
      });
      const ok = res.statusCode >= 200 && res.statusCode <= 299;
      let body = '';
      if (ok) await discardBody(res.body);
      else body = await readBodyText(res.body, MAX_ERROR_BODY_BYTES);
      return { kind: 'response', status: res.statusCode, headers: res.headers, body };
    } catch (err) {
      if (req.signal.aborted) return { kind: 'aborted' };
      return { kind: 'error', error: err instanceof Error ? err : new Error(String(err)) };
    } finally {
      timeout.dispose();
    }
  }

  /** Aborts requests in flight and closes the connections. */
  async close(): Promise<void> {
    await this.dispatcher.destroy();
  }
}
