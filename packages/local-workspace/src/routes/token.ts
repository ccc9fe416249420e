import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { MONITOR_AUDIENCE, MONITOR_SCOPES } from '../constants.js';
import { verifyClientAssertion } from '../auth/client-assertion.js';
import { issueAccessToken } from '../auth/token-issuer.js';
import { readBody, RequestAbortedError } from '../http/body.js';
import type { Exchange } from '../http/exchange.js';
import { applyFaults, logRejection, type RequestState, type ServerContext } from './context.js';

const MAX_FORM_BYTES = 64 * 1024;

/** An error answer shaped like Entra ID's token endpoint. */
export function entraError(ctx: ServerContext, ex: Exchange, state: RequestState, status: number, error: string, code: number, description: string): void {
  const timestamp = new Date(ctx.now()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const traceId = randomUUID();
  const correlationId = randomUUID();
  state.errorCode = error;
  logRejection(ctx, ex, state, status, error);
  ex.json(
    status,
    {
      error,
      error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
    { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' },
  );
}

function missing(ctx: ServerContext, ex: Exchange, state: RequestState, param: string): void {
  entraError(ctx, ex, state, 400, 'invalid_request', 900144, `The request body must contain the following parameter: '${param}'.`);
}

function secretMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** The URLs a client assertion may name as `aud`: this token endpoint, v2.0 and v1, as the client reached it. */
function tokenAudiences(ex: Exchange, tenantSegment: string, tenantId: string, scheme: string): string[] {
  const host = ex.req.headers.host ?? `${ex.req.socket.localAddress ?? '127.0.0.1'}:${ex.req.socket.localPort ?? 0}`;
  const tenants = [...new Set([tenantSegment, encodeURIComponent(tenantSegment), tenantId])];
  return tenants.flatMap((t) => [`${scheme}://${host}/${t}/oauth2/v2.0/token`, `${scheme}://${host}/${t}/oauth2/token`]);
}

/**
 * POST /{tenantId}/oauth2/v2.0/token: the client-credentials flow with a secret (docs/protocol-notes.md#client-secret) or a
 * certificate's client assertion (docs/protocol-notes.md#client-certificate, for clients registered with `certificatePem`). Answers
 * Entra-shaped errors for a wrong tenant, grant type, scope, unknown client, wrong secret or a refused
 * assertion (see `verifyClientAssertion`).
 */
export async function handleToken(ctx: ServerContext, ex: Exchange, state: RequestState, tenant: string): Promise<void> {
  state.route = 'token';
  const { req } = ex;
  if (req.method !== 'POST') {
    entraError(ctx, ex, state, 405, 'invalid_request', 900561, `The endpoint only accepts POST requests. Received a ${req.method ?? ''} request.`);
    return;
  }
  if (await applyFaults(ctx, ex, state, 'token')) return;
  if (tenant.toLowerCase() !== ctx.tenantId.toLowerCase()) {
    entraError(
      ctx,
      ex,
      state,
      400,
      'invalid_request',
      90002,
      `Tenant '${tenant.slice(0, 80)}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
    );
    return;
  }
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/x-www-form-urlencoded') {
    missing(ctx, ex, state, 'grant_type');
    return;
  }
  let read;
  try {
    read = await readBody(req, MAX_FORM_BYTES);
  } catch (err) {
    if (!(err instanceof RequestAbortedError)) throw err;
    state.errorCode = 'RequestAborted';
    ctx.log.debug({ err }, 'token request aborted by the client');
    return;
  }
  state.bytes = read.bytes;
  if (read.kind === 'too-large') {
    if (!read.complete) ex.closeAfterResponse();
    entraError(ctx, ex, state, 413, 'invalid_request', 90000, `The request body exceeds ${MAX_FORM_BYTES} bytes.`);
    return;
  }
  const form = new URLSearchParams(read.body.toString('utf8'));
  const grantType = form.get('grant_type');
  if (!grantType) return missing(ctx, ex, state, 'grant_type');
  if (grantType !== 'client_credentials') {
    entraError(ctx, ex, state, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType.slice(0, 80)}'.`);
    return;
  }
  const clientId = form.get('client_id');
  if (!clientId) return missing(ctx, ex, state, 'client_id');
  const expected = ctx.clients.get(clientId);
  if (expected === undefined) {
    entraError(
      ctx,
      ex,
      state,
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId.slice(0, 80)}' was not found in the directory '${ctx.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    );
    return;
  }
  const scope = form.get('scope');
  if (!scope) return missing(ctx, ex, state, 'scope');
  const scopes = scope.split(' ').filter((s) => s !== '');
  if (scopes.length !== 1 || !MONITOR_SCOPES.includes(scopes[0]!)) {
    const resource = scopes.length === 1 && scopes[0]!.endsWith('/.default');
    entraError(
      ctx,
      ex,
      state,
      400,
      resource ? 'invalid_resource' : 'invalid_scope',
      resource ? 500011 : 1002012,
      resource
        ? `The resource principal named ${scopes[0]!.slice(0, -'/.default'.length).slice(0, 120)} was not found in the tenant named ${ctx.tenantId}.`
        : `The provided value for scope ${scope.slice(0, 120)} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    );
    return;
  }
  const assertion = form.get('client_assertion');
  if (assertion !== null || form.has('client_assertion_type')) {
    const type = form.get('client_assertion_type');
    if (!type) return missing(ctx, ex, state, 'client_assertion_type');
    if (!assertion) return missing(ctx, ex, state, 'client_assertion');
    if (type !== CLIENT_ASSERTION_TYPE) {
      entraError(ctx, ex, state, 400, 'invalid_request', 50027, `JWT token is invalid or malformed. [Reason - client_assertion_type must be ${CLIENT_ASSERTION_TYPE}.]`);
      return;
    }
    if (expected.certificates.length === 0) {
      entraError(ctx, ex, state, 401, 'invalid_client', 700027, 'Client assertion failed signature validation: no certificate is registered for this application.');
      return;
    }
    const verdict = await verifyClientAssertion({
      assertion,
      clientId,
      certificates: expected.certificates,
      audiences: tokenAudiences(ex, tenant, ctx.tenantId, ctx.scheme),
      nowMs: ctx.now(),
      skewSec: ctx.identity.skewSec,
      jtis: ctx.identity.jtis,
    });
    if (!verdict.ok) {
      entraError(ctx, ex, state, 401, 'invalid_client', verdict.code, verdict.description);
      return;
    }
  } else {
    const secret = form.get('client_secret');
    if (!secret) {
      entraError(ctx, ex, state, 401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
      return;
    }
    if (expected.secret === undefined || !secretMatches(secret, expected.secret)) {
      entraError(
        ctx,
        ex,
        state,
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId.slice(0, 80)}'.`,
      );
      return;
    }
  }
  const token = await issueAccessToken({
    key: ctx.tokenKey,
    keyId: ctx.tokenKeyId,
    clientId,
    tenantId: ctx.tenantId,
    audience: MONITOR_AUDIENCE,
    nowMs: ctx.now(),
    lifetimeSec: ctx.tokenLifetimeSec,
  });
  ctx.log.debug({ clientId }, 'access token issued');
  ex.json(
    200,
    { token_type: 'Bearer', expires_in: token.expiresIn, ext_expires_in: token.expiresIn, access_token: token.accessToken },
    { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' },
  );
}
