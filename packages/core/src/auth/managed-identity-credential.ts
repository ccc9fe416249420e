import type { Egress } from '../http/egress.js';
import type { Clock } from '../ports/clock.js';
import type { AccessToken, TokenCredential } from './credential.js';
import { AuthError } from './errors.js';
import {
  DEFAULT_MANAGED_IDENTITY_RETRY,
  isRetryableImdsStatus,
  ManagedIdentityClient,
  retryManagedIdentityRequest,
  type ManagedIdentityRetryOptions,
  type RetryOutcome,
} from './managed-identity-request.js';
import { TokenCache } from './token-cache.js';
import { parseTokenResponse, tokenError } from './token-endpoint.js';

/** The Azure Instance Metadata Service token endpoint (reference §1.4). */
export const IMDS_TOKEN_ENDPOINT = 'http://169.254.169.254/metadata/identity/oauth2/token';
export const IMDS_API_VERSION = '2018-02-01';

/** Picks one user-assigned identity; without it IMDS uses the system-assigned identity. */
export type ManagedIdentitySelector = { readonly clientId: string } | { readonly objectId: string } | { readonly resourceId: string };

export interface ManagedIdentityCredentialOptions {
  /** Resource (audience) of the token, e.g. https://monitor.azure.com (no `/.default`). */
  readonly resource: string;
  /** Token endpoint; default IMDS_TOKEN_ENDPOINT. */
  readonly endpoint?: string;
  readonly identity?: ManagedIdentitySelector;
  readonly clock: Clock;
  readonly userAgent: string;
  /** Timeout of one request. */
  readonly requestTimeoutMs: number;
  /** Only its TLS settings are used: IMDS is never reached through a proxy. */
  readonly egress?: Egress;
  readonly retry?: Partial<ManagedIdentityRetryOptions>;
  /** Jitter source, [0, 1); injectable for tests. */
  readonly random?: () => number;
  /** Told when a refresh fails while the cached token is still valid (it keeps being used). */
  readonly onRefreshError?: (err: unknown) => void;
}

/** The IMDS query parameter of each selector kind. */
function selectorParam(identity: ManagedIdentitySelector): [string, string] {
  if ('clientId' in identity) return ['client_id', identity.clientId];
  if ('objectId' in identity) return ['object_id', identity.objectId];
  return ['msi_res_id', identity.resourceId];
}

/**
 * A managed identity of an Azure VM or scale set, through IMDS: `GET {endpoint}?api-version=2018-02-01&
 * resource=…[&client_id|object_id|msi_res_id=…]` with `Metadata: true`, directly (never proxied).
 * 404, 410, 429 and 5xx are retried with exponential backoff inside one `getToken`.
 */
export class ManagedIdentityCredential implements TokenCredential {
  private readonly cache: TokenCache;
  private readonly client: ManagedIdentityClient;
  private readonly retry: ManagedIdentityRetryOptions;

  constructor(private readonly opts: ManagedIdentityCredentialOptions) {
    this.client = new ManagedIdentityClient({
      url: new URL(opts.endpoint ?? IMDS_TOKEN_ENDPOINT),
      clock: opts.clock,
      userAgent: opts.userAgent,
      requestTimeoutMs: opts.requestTimeoutMs,
      source: 'IMDS',
      ...(opts.egress ? { egress: opts.egress } : {}),
    });
    this.retry = { ...DEFAULT_MANAGED_IDENTITY_RETRY, ...opts.retry };
    this.cache = new TokenCache((signal) => this.fetchToken(signal), opts.clock, opts.onRefreshError);
  }

  getToken(signal: AbortSignal): Promise<AccessToken> {
    return this.cache.get(signal);
  }

  invalidate(): void {
    this.cache.invalidate();
  }

  async close(): Promise<void> {
    this.cache.close();
    await this.client.close();
  }

  private async fetchToken(signal: AbortSignal): Promise<AccessToken> {
    const query = new URLSearchParams({ 'api-version': IMDS_API_VERSION, resource: this.opts.resource });
    if (this.opts.identity) query.set(...selectorParam(this.opts.identity));
    const outcome = await retryManagedIdentityRequest((s) => this.client.get(query, {}, s), {
      retry: this.retry,
      retryable: isRetryableImdsStatus,
      clock: this.opts.clock,
      random: this.opts.random ?? Math.random,
      signal,
    });
    return managedIdentityToken(outcome, this.opts.clock.now(), 'IMDS');
  }
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
