import type { TlsClientOptions } from '../http/dispatcher.js';
import type { Egress } from '../http/egress.js';
import type { Clock } from '../ports/clock.js';
import { CLIENT_ASSERTION_TYPE, createClientAssertion, type ClientAssertionAlgorithm } from './client-assertion.js';
import type { ClientCertificate } from './client-certificate.js';
import type { AccessToken, TokenCredential } from './credential.js';
import { TokenCache } from './token-cache.js';
import { TokenEndpointClient, tokenEndpointUrl } from './token-endpoint.js';

export interface ClientCertificateCredentialOptions {
  readonly tenantId: string;
  readonly clientId: string;
  /** From `loadClientCertificate`. */
  readonly certificate: ClientCertificate;
  /** Authority host, e.g. https://login.microsoftonline.com. */
  readonly authorityHost: string;
  readonly scope: string;
  /** RS256 + `x5t` (default) or PS256 + `x5t#S256`. */
  readonly algorithm?: ClientAssertionAlgorithm;
  /** Sends the certificate chain (`x5c`), for subject name and issuer authentication. */
  readonly sendCertificateChain?: boolean;
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

/**
 * The client-credentials flow with a certificate (reference §1.3): the same form as with a secret, but
 * with a freshly signed client assertion (`private_key_jwt`) in place of `client_secret`.
 */
export class ClientCertificateCredential implements TokenCredential {
  private readonly cache: TokenCache;
  private readonly endpoint: TokenEndpointClient;

  constructor(private readonly opts: ClientCertificateCredentialOptions) {
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
    const assertion = createClientAssertion({
      certificate: this.opts.certificate,
      clientId: this.opts.clientId,
      audience: this.endpoint.tokenUrl.href,
      nowMs: this.opts.clock.now(),
      ...(this.opts.algorithm ? { algorithm: this.opts.algorithm } : {}),
      ...(this.opts.sendCertificateChain ? { sendCertificateChain: true } : {}),
    });
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.opts.clientId,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: assertion,
      scope: this.opts.scope,
    });
    return this.endpoint.post(form, signal);
  }
}
