import { timeoutSignal } from '../http/abort.js';
import { backoffWithJitterMs } from '../http/backoff.js';
import { readBodyText } from '../http/body.js';
import { DIRECT_EGRESS, type Egress } from '../http/egress.js';
import { LazyDispatcher } from '../http/request-dispatcher.js';
import { retryAfterMs } from '../http/retry-after.js';
import type { Clock } from '../ports/clock.js';
import type { CredentialOptions } from './cached-token-credential.js';
import type { AccessToken } from './credential.js';
import { AuthError } from './errors.js';
import { MAX_TOKEN_RESPONSE_BYTES, parseTokenResponse, tokenError, type TokenHttpResponse } from './token-endpoint.js';

/** How a managed identity credential retries inside one `getToken` (docs/protocol-notes.md#imds). */
export interface ManagedIdentityRetryOptions {
  /** Retries of 404 (identity not yet propagated), 429 and 5xx answers. */
  readonly maxRetries: number;
  /** Delay before the first retry; it doubles each time (with jitter) up to `maxDelayMs`. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /**
   * No retry is scheduled to start later than this after the first request. 410 (IMDS is updating) is
   * retried until then whatever `maxRetries` says, since IMDS may need about 70 s.
   */
  readonly maxTotalMs: number;
}

/** 1, 2, 4, 8, 16 s (with jitter) for 404/429/5xx; 410 until about 70 s have passed. */
export const DEFAULT_MANAGED_IDENTITY_RETRY: ManagedIdentityRetryOptions = Object.freeze({
  maxRetries: 5,
  initialDelayMs: 1_000,
  maxDelayMs: 16_000,
  maxTotalMs: 70_000,
});

/** The egress of a managed identity endpoint: never through a proxy, whatever the sink's proxy setting. */
export function directEgress(egress: Egress | undefined): Egress {
  return egress ? { noProxy: egress.noProxy, tls: egress.tls } : DIRECT_EGRESS;
}

/** The settings of a managed identity credential (IMDS, Azure Arc) besides its own. */
export interface ManagedIdentityOptions extends CredentialOptions {
  /** Resource (audience) of the token, e.g. https://monitor.azure.com (no `/.default`). */
  readonly resource: string;
  /** Token endpoint; each credential has its default. */
  readonly endpoint?: string;
  /** Only its TLS settings are used: managed identity endpoints are never reached through a proxy. */
  readonly egress?: Egress;
  readonly retry?: Partial<ManagedIdentityRetryOptions>;
  /** Jitter source, [0, 1); injectable for tests. */
  readonly random?: () => number;
}

export interface ManagedIdentityClientOptions {
  /** Token endpoint, e.g. http://169.254.169.254/metadata/identity/oauth2/token. */
  readonly url: URL;
  readonly clock: Clock;
  readonly userAgent: string;
  /** Timeout of one request. */
  readonly requestTimeoutMs: number;
  /** Only its TLS settings are used: managed identity endpoints are never reached through a proxy. */
  readonly egress?: Egress;
  /** Names the service in errors, e.g. `IMDS`. */
  readonly source: string;
  /** Retries of one `token` call; default DEFAULT_MANAGED_IDENTITY_RETRY. */
  readonly retry?: Partial<ManagedIdentityRetryOptions>;
  /** Jitter source, [0, 1). */
  readonly random?: () => number;
}

/** GETs tokens from a local managed identity endpoint (IMDS or the Azure Arc agent), directly. */
export class ManagedIdentityClient {
  private readonly connection: LazyDispatcher;
  private readonly retry: ManagedIdentityRetryOptions;

  constructor(private readonly opts: ManagedIdentityClientOptions) {
    this.connection = new LazyDispatcher(opts.url.origin, {
      requestTimeoutMs: opts.requestTimeoutMs,
      connectTimeoutMs: Math.min(opts.requestTimeoutMs, 10_000),
      egress: directEgress(opts.egress),
    });
    this.retry = { ...DEFAULT_MANAGED_IDENTITY_RETRY, ...opts.retry };
  }

  /**
   * A token: `exchange` (one or more GETs) is repeated while its answer is `retryable` (see
   * `retryManagedIdentityRequest`), then the last answer is read as a token or an AuthError.
   */
  async token(exchange: (signal: AbortSignal) => Promise<TokenHttpResponse>, retryable: (status: number) => boolean, signal: AbortSignal): Promise<AccessToken> {
    const outcome = await retryManagedIdentityRequest(exchange, {
      retry: this.retry,
      retryable,
      clock: this.opts.clock,
      random: this.opts.random ?? Math.random,
      signal,
    });
    return managedIdentityToken(outcome, this.opts.clock.now(), this.opts.source);
  }

  /** One GET with `query` and `Metadata: true`; network failures become an AuthError. */
  async get(query: URLSearchParams, headers: Record<string, string>, signal: AbortSignal): Promise<TokenHttpResponse> {
    const url = this.opts.url;
    const timeout = timeoutSignal(this.opts.requestTimeoutMs, signal);
    try {
      const res = await this.connection.get().request({
        origin: url.origin,
        path: `${url.pathname}?${query.toString()}`,
        method: 'GET',
        headers: { metadata: 'true', accept: 'application/json', 'user-agent': this.opts.userAgent, ...headers },
        signal: timeout.signal,
      });
      return { status: res.statusCode, headers: res.headers, text: await readBodyText(res.body, MAX_TOKEN_RESPONSE_BYTES) };
    } catch (err) {
      if (signal.aborted) throw err;
      throw new AuthError(`${this.opts.source} token request to ${url.host} failed`, { cause: err });
    } finally {
      timeout.dispose();
    }
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

export interface RetryLoopOptions {
  readonly retry: ManagedIdentityRetryOptions;
  /** Statuses worth another attempt. */
  readonly retryable: (status: number) => boolean;
  readonly clock: Clock;
  readonly random: () => number;
  readonly signal: AbortSignal;
}

/** What the retry loop ends with: the last answer, and how many attempts it took. */
export interface RetryOutcome {
  readonly response: TokenHttpResponse;
  readonly attempts: number;
  /** True when the last answer was retryable but the budget was spent. */
  readonly exhausted: boolean;
}

/**
 * Calls `attempt` until it answers a status that is not retryable, backing off exponentially with
 * jitter (never less than the `Retry-After` asked for). 410 is retried until `maxTotalMs`; other
 * retryable statuses `maxRetries` times. Errors thrown by `attempt` end the loop.
 */
export async function retryManagedIdentityRequest(
  attempt: (signal: AbortSignal) => Promise<TokenHttpResponse>,
  opts: RetryLoopOptions,
): Promise<RetryOutcome> {
  const { retry, clock } = opts;
  const started = clock.now();
  for (let attempts = 1; ; attempts++) {
    const response = await attempt(opts.signal);
    if (!opts.retryable(response.status)) return { response, attempts, exhausted: false };
    const retries = attempts - 1;
    if (response.status !== 410 && retries >= retry.maxRetries) return { response, attempts, exhausted: true };
    const backoff = backoffWithJitterMs(attempts, { initialDelayMs: retry.initialDelayMs, maxDelayMs: retry.maxDelayMs }, opts.random);
    const delay = Math.max(backoff, retryAfterMs(response.headers, clock.now()) ?? 0);
    if (clock.now() + delay - started > retry.maxTotalMs) return { response, attempts, exhausted: true };
    await clock.sleep(delay, opts.signal);
  }
}

/** 404 (identity not yet there), 410 (IMDS updating), 429 and 5xx. */
export function isRetryableImdsStatus(status: number): boolean {
  return status === 404 || status === 410 || status === 429 || (status >= 500 && status <= 599);
}

/** The token of a successful answer, or the AuthError of the last failed one. */
export function managedIdentityToken(outcome: RetryOutcome, nowMs: number, source: string): AccessToken {
  const res = outcome.response;
  if (res.status >= 200 && res.status <= 299) return parseTokenResponse(res, nowMs, source);
  const err = tokenError(res, nowMs, source);
  if (!outcome.exhausted) throw err;
  throw new AuthError(`${err.message} (gave up after ${outcome.attempts} attempts)`, {
    status: res.status,
    aadstsCodes: err.aadstsCodes,
    ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
  });
}
