import type { AccessToken } from './credential.js';
import { CachedTokenCredential } from './cached-token-credential.js';
import { isRetryableImdsStatus, ManagedIdentityClient, type ManagedIdentityOptions } from './managed-identity-request.js';

/** The Azure Instance Metadata Service token endpoint (docs/protocol-notes.md#imds). */
export const IMDS_TOKEN_ENDPOINT = 'http://169.254.169.254/metadata/identity/oauth2/token';
export const IMDS_API_VERSION = '2018-02-01';

/** Picks one user-assigned identity; without it IMDS uses the system-assigned identity. */
export type ManagedIdentitySelector = { readonly clientId: string } | { readonly objectId: string } | { readonly resourceId: string };

export interface ManagedIdentityCredentialOptions extends ManagedIdentityOptions {
  readonly identity?: ManagedIdentitySelector;
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
export class ManagedIdentityCredential extends CachedTokenCredential<ManagedIdentityClient> {
  constructor(private readonly opts: ManagedIdentityCredentialOptions) {
    super(new ManagedIdentityClient({ ...opts, url: new URL(opts.endpoint ?? IMDS_TOKEN_ENDPOINT), source: 'IMDS' }), opts);
  }

  protected fetchToken(signal: AbortSignal): Promise<AccessToken> {
    const query = new URLSearchParams({ 'api-version': IMDS_API_VERSION, resource: this.opts.resource });
    if (this.opts.identity) query.set(...selectorParam(this.opts.identity));
    return this.client.token((s) => this.client.get(query, {}, s), isRetryableImdsStatus, signal);
  }
}
