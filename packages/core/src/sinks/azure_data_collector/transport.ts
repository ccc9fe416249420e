import type { Dispatcher } from 'undici';
import { timeoutSignal } from '../../http/abort.js';
import { discardBody, readBodyText } from '../../http/body.js';
import { createDispatcher } from '../../http/dispatcher.js';
import type { Egress } from '../../http/egress.js';
import type { HeaderBag } from '../../http/retry-after.js';
import { trimTrailingSlash } from '../../http/url.js';
import { DATA_COLLECTOR_API_VERSION } from './config.js';
import { DATA_COLLECTOR_CONTENT_TYPE, DATA_COLLECTOR_RESOURCE, rfc1123Date, sharedKeyAuthorization } from './signature.js';

/** Most of an error response body kept for logs and dead-letter files. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

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

export type DataCollectorResult =
  /** The service answered; `body` holds the start of a non-2xx body (empty for 2xx). */
  | { readonly kind: 'response'; readonly status: number; readonly headers: HeaderBag; readonly body: string; readonly xMsDate: string }
  /** No answer: connection failure, reset, timeout. */
  | { readonly kind: 'error'; readonly error: Error }
  | { readonly kind: 'aborted' };

/**
 * Posts request bodies to `{base}/api/logs?api-version=2016-04-01`, each signed with the workspace key
 * (reference §3.2, §3.3). Every call takes a fresh `x-ms-date` and signs again, so a retry is never
 * refused for an old date.
 */
export class DataCollectorTransport {
  private readonly base: URL;
  private readonly path: string;
  private readonly dispatcher: Dispatcher;

  constructor(private readonly opts: DataCollectorTransportOptions) {
    this.base = new URL(opts.baseUrl);
    this.path = `${trimTrailingSlash(this.base.pathname)}${DATA_COLLECTOR_RESOURCE}?api-version=${DATA_COLLECTOR_API_VERSION}`;
    // The one place this destination's connections are made.
    this.dispatcher = createDispatcher(this.base.origin, {
      connections: opts.connections,
      headersTimeoutMs: opts.requestTimeoutMs,
      bodyTimeoutMs: opts.requestTimeoutMs,
      ...(opts.egress ? { egress: opts.egress } : {}),
    });
  }

  /** Origin of the endpoint (scheme, host, port). */
  get origin(): string {
    return this.base.origin;
  }

  /** The full URL requests go to (for logs). */
  get url(): string {
    return `${this.base.origin}${this.path}`;
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
    const timeout = timeoutSignal(this.opts.requestTimeoutMs, req.signal);
    try {
      const res = await this.dispatcher.request({
        origin: this.base.origin,
        path: this.path,
        method: 'POST',
        headers: this.headersFor(req, xMsDate),
        body: req.body,
        signal: timeout.signal,
      });
      const ok = res.statusCode >= 200 && res.statusCode <= 299;
      let body = '';
      if (ok) await discardBody(res.body);
      else body = await readBodyText(res.body, MAX_ERROR_BODY_BYTES);
      return { kind: 'response', status: res.statusCode, headers: res.headers, body, xMsDate };
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
