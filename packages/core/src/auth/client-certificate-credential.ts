import { CLIENT_ASSERTION_TYPE, createClientAssertion, type ClientAssertionAlgorithm } from './client-assertion.js';
import type { ClientCertificate } from './client-certificate.js';
import type { AccessToken } from './credential.js';
import { CachedTokenCredential } from './cached-token-credential.js';
import { clientCredentialsForm, tenantTokenEndpoint, type ClientCredentialOptions, type TokenEndpointClient } from './token-endpoint.js';

export interface ClientCertificateCredentialOptions extends ClientCredentialOptions {
  /** From `loadClientCertificate`. */
  readonly certificate: ClientCertificate;
  /** RS256 + `x5t` (default) or PS256 + `x5t#S256`. */
  readonly algorithm?: ClientAssertionAlgorithm;
  /** Sends the certificate chain (`x5c`), for subject name and issuer authentication. */
  readonly sendCertificateChain?: boolean;
}

/**
 * The client-credentials flow with a certificate (docs/protocol-notes.md#client-certificate): the same form as with a secret, but
 * with a freshly signed client assertion (`private_key_jwt`) in place of `client_secret`.
 */
export class ClientCertificateCredential extends CachedTokenCredential<TokenEndpointClient> {
  constructor(private readonly opts: ClientCertificateCredentialOptions) {
    super(tenantTokenEndpoint(opts), opts);
  }

  protected fetchToken(signal: AbortSignal): Promise<AccessToken> {
    const assertion = createClientAssertion({
      certificate: this.opts.certificate,
      clientId: this.opts.clientId,
      audience: this.client.tokenUrl.href,
      nowMs: this.opts.clock.now(),
      ...(this.opts.algorithm ? { algorithm: this.opts.algorithm } : {}),
      ...(this.opts.sendCertificateChain ? { sendCertificateChain: true } : {}),
    });
    return this.client.post(clientCredentialsForm(this.opts, { client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion }), signal);
  }
}
