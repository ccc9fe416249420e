import type { Secret } from '../config/secret.js';
import type { TlsClientOptions } from '../http/dispatcher.js';
import type { Egress } from '../http/egress.js';
import type { Clock } from '../ports/clock.js';
import type { AccessToken, TokenCredential } from './credential.js';
import { TokenCache } from './token-cache.js';
import { TokenEndpointClient, tokenEndpointUrl } from './token-endpoint.js';

export interface ClientSecretCredentialOptions {
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: Secret;
  /** Authority host, e.g. https://login.microsoftonline.com. */
  readonly authorityHost: string;
  readonly scope: string;
  readonly clock: Clock;
  readonly userAgent: string;
  /** Timeout of one token request. */
  readonly requestTimeoutMs: number;
  readonly tls?: TlsClientOptions;
  /** Proxy and TLS settings of the connection to Entra ID. */
  readonly egress?: Egress;
  /** Told when a refresh fails while the cached token is still valid (it keeps being used). */
  readonly onRefreshError?: (err: unknown) => void;
}

/** `POST {authority}/{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials` and a client secret. */
export class ClientSecretCredential implements TokenCredential {
  private readonly cache: TokenCache;
  private readonly endpoint: TokenEndpointClient;

  constructor(private readonly opts: ClientSecretCredentialOptions) {
    this.endpoint = new TokenEndpointClient({
      tokenUrl: tokenEndpointUrl(opts.authorityHost, opts.tenantId),
      clock: opts.clock,
      userAgent: opts.userAgent,
      requestTimeoutMs: opts.requestTimeoutMs,
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.egress ? { egress: opts.egress } : {}),
    });
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
    await this.endpoint.close();
  }

  private fetchToken(signal: AbortSignal): Promise<AccessToken> {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.opts.clientId,
      client_secret: this.opts.clientSecret.reveal(),
      scope: this.opts.scope,
    });
    return this.endpoint.post(form, signal);
  }
}
