import type { Secret } from '../config/secret.js';
import type { AccessToken } from './credential.js';
import { CachedTokenCredential } from './cached-token-credential.js';
import { clientCredentialsForm, tenantTokenEndpoint, type ClientCredentialOptions, type TokenEndpointClient } from './token-endpoint.js';

export interface ClientSecretCredentialOptions extends ClientCredentialOptions {
  readonly clientSecret: Secret;
}

/** `POST {authority}/{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials` and a client secret. */
export class ClientSecretCredential extends CachedTokenCredential<TokenEndpointClient> {
  constructor(private readonly opts: ClientSecretCredentialOptions) {
    super(tenantTokenEndpoint(opts), opts);
  }

  protected fetchToken(signal: AbortSignal): Promise<AccessToken> {
    return this.client.post(clientCredentialsForm(this.opts, { client_secret: this.opts.clientSecret.reveal() }), signal);
  }
}
