import type { Exchange } from '../http/exchange.js';
import { entraError } from './token.js';
import type { RequestState, ServerContext } from './context.js';

/** The base URL as the client reached the workspace (scheme and Host header). */
function baseUrl(ctx: ServerContext, ex: Exchange): string {
  const host = ex.req.headers.host ?? `${ex.req.socket.localAddress ?? '127.0.0.1'}:${ex.req.socket.localPort ?? 0}`;
  return `${ctx.scheme}://${host}`;
}

function checkTenant(ctx: ServerContext, ex: Exchange, state: RequestState, tenant: string): boolean {
  if (ex.req.method !== 'GET') {
    entraError(ctx, ex, state, 405, 'invalid_request', 900561, `The endpoint only accepts GET requests. Received a ${ex.req.method ?? ''} request.`);
    return false;
  }
  if (tenant.toLowerCase() === ctx.tenantId.toLowerCase()) return true;
  entraError(
    ctx,
    ex,
    state,
    400,
    'invalid_tenant',
    90002,
    `Tenant '${tenant.slice(0, 80)}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
  );
  return false;
}

/**
 * GET /{tenant}/v2.0/.well-known/openid-configuration: the OpenID Connect discovery document of the tenant,
 * shaped like Entra ID's. MSAL (under `@azure/identity`) reads it first to find the token endpoint; with
 * `disableInstanceDiscovery` it asks nothing else before the token request.
 */
export function handleOpenIdConfiguration(ctx: ServerContext, ex: Exchange, state: RequestState, tenant: string): void {
  if (!checkTenant(ctx, ex, state, tenant)) return;
  const base = `${baseUrl(ctx, ex)}/${ctx.tenantId}`;
  ex.json(
    200,
    {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${base}/oidc/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'appid', 'ver'],
      tenant_region_scope: null,
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
    },
    { 'cache-control': 'max-age=86400, private' },
  );
}

/** GET /{tenant}/discovery/v2.0/keys: the public keys that verify the access tokens the workspace issues. */
export function handleJwks(ctx: ServerContext, ex: Exchange, state: RequestState, tenant: string): void {
  if (!checkTenant(ctx, ex, state, tenant)) return;
  ex.json(200, { keys: [ctx.tokenJwk] }, { 'cache-control': 'max-age=86400, private' });
}
