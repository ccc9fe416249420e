import type { Dispatcher } from 'undici';
import { timeoutSignal } from './abort.js';
import { discardBody, readBodyText } from './body.js';
import { requestDispatcher, type RequestDispatcherOptions } from './request-dispatcher.js';
import type { HeaderBag } from './retry-after.js';
import { trimTrailingSlash } from './url.js';

/** Most of an error response body kept for logs and dead-letter files, unless a caller says otherwise. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** What one POST came to. Expected failures are values: `postOnce` never throws. */
export type PostResult =
  /** The service answered; `body` holds the start of a non-2xx body (empty for 2xx). */
  | { readonly kind: 'response'; readonly status: number; readonly headers: HeaderBag; readonly body: string }
  /** No answer: connection failure, reset, timeout. */
  | { readonly kind: 'error'; readonly error: Error }
  /** The caller's signal aborted (stopping). */
  | { readonly kind: 'aborted' };

export interface PostRequest {
  readonly origin: string;
  /** Path and query. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** Time the whole request may take; it then ends as an `error` (ETIMEDOUT). */
  readonly timeoutMs: number;
  /** Aborts the request; the result is then `aborted`. */
  readonly signal: AbortSignal;
  /** Most of an error response body kept (default MAX_ERROR_BODY_BYTES). */
  readonly maxErrorBodyBytes?: number;
}

/**
 * Sends one POST through `dispatcher`: a 2xx body is discarded (the connection is reused), the start of
 * any other body is read as text.
 */
export async function postOnce(dispatcher: Dispatcher, req: PostRequest): Promise<PostResult> {
  if (req.signal.aborted) return { kind: 'aborted' };
  const timeout = timeoutSignal(req.timeoutMs, req.signal);
  try {
    const res = await dispatcher.request({
      origin: req.origin,
      path: req.path,
      method: 'POST',
      headers: req.headers,
      body: req.body,
      signal: timeout.signal,
    });
    const ok = res.statusCode >= 200 && res.statusCode <= 299;
    let body = '';
    if (ok) await discardBody(res.body);
    else body = await readBodyText(res.body, req.maxErrorBodyBytes ?? MAX_ERROR_BODY_BYTES);
    return { kind: 'response', status: res.statusCode, headers: res.headers, body };
  } catch (err) {
    if (req.signal.aborted) return { kind: 'aborted' };
    return { kind: 'error', error: err instanceof Error ? err : new Error(String(err)) };
  } finally {
    timeout.dispose();
  }
}

export interface PostEndpointOptions extends RequestDispatcherOptions {
  /** Connections to the endpoint (requests in flight at once). */
  readonly connections: number;
}

/**
 * The connections to one service endpoint and the POSTs sent over them: the one place a sink's
 * destination dispatcher is made. The base URL may carry a path prefix (`basePath`).
 */
export class PostEndpoint {
  private readonly base: URL;
  private readonly dispatcher: Dispatcher;
  private readonly requestTimeoutMs: number;

  constructor(baseUrl: string, opts: PostEndpointOptions) {
    this.base = new URL(baseUrl);
    this.requestTimeoutMs = opts.requestTimeoutMs;
    this.dispatcher = requestDispatcher(this.base.origin, opts);
  }

  /** Origin of the endpoint (scheme, host, port), as requests are dispatched to it. */
  get origin(): string {
    return this.base.origin;
  }

  /** Path of the base URL without a trailing slash: the prefix of request paths. */
  get basePath(): string {
    return trimTrailingSlash(this.base.pathname);
  }

  /** POSTs `body` to `path` (path and query) of the endpoint; see `postOnce`. */
  post(path: string, headers: Record<string, string>, body: Buffer, signal: AbortSignal): Promise<PostResult> {
    return postOnce(this.dispatcher, { origin: this.base.origin, path, headers, body, timeoutMs: this.requestTimeoutMs, signal });
  }

  /** Aborts requests in flight and closes the connections. */
  async close(): Promise<void> {
    await this.dispatcher.destroy();
  }
}
