import type { Clock } from '../ports/clock.js';
import type { AccessToken, TokenCredential } from './credential.js';
import { TokenCache } from './token-cache.js';

/** What every credential is built with, besides its own settings. */
export interface CredentialOptions {
  readonly clock: Clock;
  /** User-Agent of token requests. */
  readonly userAgent: string;
  /** Timeout of one token request. */
  readonly requestTimeoutMs: number;
  /** Told when a refresh fails while the cached token is still valid (it keeps being used). */
  readonly onRefreshError?: (err: unknown) => void;
}

/** The connection of a credential to its token service, released when the credential closes. */
export interface TokenServiceClient {
  close(): Promise<void>;
}

/**
 * Base of the credentials: caches the token `fetchToken` gets (through `client`) and refreshes it ahead of
 * expiry (`TokenCache`); `close` aborts a fetch in progress and releases the client's connection. A
 * credential adds only how it fetches a token.
 */
export abstract class CachedTokenCredential<C extends TokenServiceClient> implements TokenCredential {
  private readonly cache: TokenCache;

  protected constructor(
    protected readonly client: C,
    opts: Pick<CredentialOptions, 'clock' | 'onRefreshError'>,
  ) {
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

  /** Gets a fresh token; `signal` aborts when the credential closes. */
  protected abstract fetchToken(signal: AbortSignal): Promise<AccessToken>;
}
