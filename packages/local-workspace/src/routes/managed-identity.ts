import { issueAccessToken } from '../auth/token-issuer.js';
import type { ManagedIdentityRecord } from '../auth/identities.js';
import { MONITOR_AUDIENCE } from '../constants.js';
import type { Exchange } from '../http/exchange.js';
import { applyFaults, logRejection, type RequestState, type ServerContext } from './context.js';

/** API versions of the IMDS identity endpoint the workspace accepts (docs/protocol-notes.md#imds). */
export const IMDS_API_VERSIONS: readonly string[] = ['2018-02-01', '2019-08-01'];
/** API versions of the Azure Arc identity endpoint (docs/protocol-notes.md#arc). */
export const ARC_API_VERSIONS: readonly string[] = ['2019-11-01', '2020-06-01'];

const NO_STORE = { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' };

/** An IMDS-style error: `{ error, error_description }`. */
function imdsError(ctx: ServerContext, ex: Exchange, state: RequestState, status: number, error: string, description: string, headers = {}): void {
  state.errorCode = error;
  logRejection(ctx, ex, state, status, error);
  ex.json(status, { error, error_description: description }, { ...NO_STORE, ...headers });
}

/** Checks method, `Metadata: true`, api-version and resource; answers and returns undefined when one is wrong. */
function common(ctx: ServerContext, ex: Exchange, state: RequestState, versions: readonly string[]): string | undefined {
  if (ex.req.method !== 'GET') {
    imdsError(ctx, ex, state, 405, 'invalid_request', `The endpoint only accepts GET requests. Received a ${(ex.req.method ?? '').slice(0, 20)} request.`, {
      allow: 'GET',
    });
    return undefined;
  }
  if ((ex.req.headers.metadata ?? '').toString().toLowerCase() !== 'true') {
    imdsError(ctx, ex, state, 400, 'invalid_request', 'Required metadata header not specified');
    return undefined;
  }
  const q = ex.url.searchParams;
  const version = q.get('api-version');
  if (!version) {
    imdsError(ctx, ex, state, 400, 'invalid_request', "Required query variable 'api-version' is missing");
    return undefined;
  }
  if (!versions.includes(version)) {
    imdsError(ctx, ex, state, 400, 'invalid_request', `Unsupported api-version '${version.slice(0, 40)}'. Supported versions: ${versions.join(', ')}`);
    return undefined;
  }
  const resource = q.get('resource');
  if (!resource) {
    imdsError(ctx, ex, state, 400, 'invalid_request', "Required query variable 'resource' is missing");
    return undefined;
  }
  if (resource !== MONITOR_AUDIENCE && resource !== `${MONITOR_AUDIENCE}/`) {
    state.errorCode = 'invalid_resource';
    logRejection(ctx, ex, state, 400, 'invalid_resource');
    ex.json(
      400,
      {
        error: 'invalid_resource',
        error_description: `AADSTS500011: The resource principal named ${resource.slice(0, 120)} was not found in the tenant named ${ctx.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
        error_codes: [500011],
      },
      NO_STORE,
    );
    return undefined;
  }
  return resource;
}

/** Answers a token for `identity`, every number as a string like IMDS does. */
async function answerToken(ctx: ServerContext, ex: Exchange, identity: ManagedIdentityRecord, resource: string): Promise<void> {
  const nowMs = ctx.now();
  const token = await issueAccessToken({
    key: ctx.tokenKey,
    keyId: ctx.tokenKeyId,
    clientId: identity.clientId,
    objectId: identity.objectId,
    tenantId: ctx.tenantId,
    audience: resource,
    nowMs,
    lifetimeSec: ctx.tokenLifetimeSec,
    extraClaims: { appidacr: '2', ...(identity.resourceId === undefined ? {} : { xms_mirid: identity.resourceId }) },
  });
  const now = Math.floor(nowMs / 1000);
  ctx.log.debug({ clientId: identity.clientId }, 'managed identity token issued');
  ex.json(
    200,
    {
      access_token: token.accessToken,
      client_id: identity.clientId,
      expires_in: String(token.expiresIn),
      expires_on: String(now + token.expiresIn),
      ext_expires_in: String(token.expiresIn),
      not_before: String(now),
      resource,
      token_type: 'Bearer',
    },
    NO_STORE,
  );
}

/**
 * GET /metadata/identity/oauth2/token: the Azure IMDS identity endpoint (docs/protocol-notes.md#imds). Requires
 * `Metadata: true`, a known api-version and the monitor resource; `client_id`, `object_id` or `msi_res_id`
 * (also `mi_res_id`) pick a configured user-assigned identity, none the system-assigned one (or the only
 * user-assigned one when there is no system-assigned identity, like IMDS).
 */
export async function handleImds(ctx: ServerContext, ex: Exchange, state: RequestState): Promise<void> {
  state.route = 'imds';
  if (await applyFaults(ctx, ex, state, 'imds')) return;
  const resource = common(ctx, ex, state, IMDS_API_VERSIONS);
  if (resource === undefined) return;
  const q = ex.url.searchParams;
  const selectors = (
    [
      ['client_id', (m: ManagedIdentityRecord, v: string) => m.clientId.toLowerCase() === v.toLowerCase()],
      ['object_id', (m: ManagedIdentityRecord, v: string) => m.objectId.toLowerCase() === v.toLowerCase()],
      ['msi_res_id', (m: ManagedIdentityRecord, v: string) => m.resourceId?.toLowerCase() === v.toLowerCase()],
      ['mi_res_id', (m: ManagedIdentityRecord, v: string) => m.resourceId?.toLowerCase() === v.toLowerCase()],
    ] as const
  ).filter(([name]) => q.has(name));
  if (selectors.length > 1) {
    imdsError(ctx, ex, state, 400, 'invalid_request', 'Only one of client_id, object_id and msi_res_id may be specified');
    return;
  }
  const ids = ctx.identity;
  let identity: ManagedIdentityRecord | undefined;
  if (selectors.length === 1) {
    const [name, matches] = selectors[0]!;
    const value = q.get(name) ?? '';
    identity = ids.managedIdentities.find((m) => matches(m, value));
  } else if (ids.systemAssigned) {
    identity = ids.systemAssigned;
  } else if (ids.managedIdentities.length > 1) {
    imdsError(
      ctx,
      ex,
      state,
      400,
      'invalid_request',
      'Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request',
    );
    return;
  } else {
    identity = ids.managedIdentities[0];
  }
  if (!identity) {
    imdsError(ctx, ex, state, 400, 'invalid_request', 'Identity not found');
    return;
  }
  await answerToken(ctx, ex, identity, resource);
}

/**
 * GET /arc/metadata/identity/oauth2/token: the Azure Arc agent's identity endpoint (docs/protocol-notes.md#arc). Without
 * an Authorization header it writes a random key to `<dataDir>/arc-tokens/<random>.key` and answers 401
 * with `WWW-Authenticate: Basic realm=<that file>`; `Authorization: Basic <key>` is then accepted once.
 */
export async function handleArc(ctx: ServerContext, ex: Exchange, state: RequestState): Promise<void> {
  state.route = 'imds';
  if (await applyFaults(ctx, ex, state, 'imds')) return;
  const resource = common(ctx, ex, state, ARC_API_VERSIONS);
  if (resource === undefined) return;
  const authorization = ex.req.headers.authorization;
  if (authorization === undefined) {
    const realm = ctx.identity.arc.issue();
    state.errorCode = 'challenge';
    ex.json(
      401,
      { error: 'unauthorized_client', error_description: 'Read the key file named in WWW-Authenticate and repeat the request with Authorization: Basic <key>.' },
      { ...NO_STORE, 'www-authenticate': `Basic realm=${realm}` },
    );
    return;
  }
  const m = /^Basic ([^\s]+)\s*$/i.exec(authorization);
  if (!m?.[1] || !ctx.identity.arc.redeem(m[1])) {
    imdsError(ctx, ex, state, 401, 'invalid_client', 'The Basic authorization key is not valid, has expired or was already used.');
    return;
  }
  await answerToken(ctx, ex, ctx.identity.arcIdentity, resource);
}
