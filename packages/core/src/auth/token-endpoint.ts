import { timeoutSignal } from '../http/abort.js';
import { readBodyText } from '../http/body.js';
import type { TlsClientOptions } from '../http/dispatcher.js';
import type { Egress } from '../http/egress.js';
import { LazyDispatcher } from '../http/request-dispatcher.js';
import { retryAfterMs, type HeaderBag } from '../http/retry-after.js';
import { trimTrailingSlash } from '../http/url.js';
import type { Clock } from '../ports/clock.js';
import type { CredentialOptions } from './cached-token-credential.js';
import type { AccessToken } from './credential.js';
import { AuthError } from './errors.js';

/** Longest error text kept from a token endpoint response. */
const MAX_ERROR_TEXT = 512;

/** Largest token response read. */
export const MAX_TOKEN_RESPONSE_BYTES = 256 * 1024;

interface TokenErrorBody {
  error?: unknown;
  error_description?: unknown;
  error_codes?: unknown;
}

interface TokenResponseBody {
  access_token?: unknown;
  expires_in?: unknown;
  expires_on?: unknown;
}

/** A token endpoint's answer, read to the end. */
export interface TokenHttpResponse {
  readonly status: number;
  readonly headers: HeaderBag;
  readonly text: string;
}

/** A number, or a string holding one (IMDS and Arc send numbers as strings). */
function numeric(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/**
 * Reads a successful token response: `access_token` plus `expires_in` (seconds, number or numeric string)
 * or, failing that, `expires_on` (epoch seconds). `source` names the service in errors.
 */
export function parseTokenResponse(res: TokenHttpResponse, nowMs: number, source = 'token endpoint'): AccessToken {
  let body: TokenResponseBody;
  try {
    body = JSON.parse(res.text) as TokenResponseBody;
  } catch (err) {
    throw new AuthError(`${source} returned HTTP ${res.status} with a body that is not JSON`, { status: res.status, cause: err });
  }
  if (typeof body !== 'object' || body === null) throw new AuthError(`${source} returned a body that is not a JSON object`, { status: res.status });
  const token = body.access_token;
  if (typeof token !== 'string' || token === '') {
    throw new AuthError(`${source} response lacks access_token`, { status: res.status });
  }
  const expiresIn = numeric(body.expires_in);
  if (expiresIn !== undefined && expiresIn > 0) return { token, expiresAtMs: nowMs + expiresIn * 1000 };
  const expiresOn = numeric(body.expires_on);
  if (expiresOn !== undefined && expiresOn * 1000 > nowMs) return { token, expiresAtMs: expiresOn * 1000 };
  throw new AuthError(`${source} response lacks a valid expires_in`, { status: res.status });
}

/**
 * Turns an error answer into an AuthError: Entra's `error: first line of error_description` (the trace and
 * correlation ids on later lines are dropped), the `AADSTS` codes, and the Retry-After delay if any.
 */
export function tokenError(res: TokenHttpResponse, nowMs: number, source = 'token endpoint'): AuthError {
  let detail = '';
  let codes: number[] = [];
  try {
    const body = JSON.parse(res.text) as TokenErrorBody;
    const description = typeof body.error_description === 'string' ? body.error_description : '';
    const error = typeof body.error === 'string' ? body.error : '';
    detail = [error, description.split(/\r?\n/)[0] ?? ''].filter((s) => s !== '').join(': ');
    if (Array.isArray(body.error_codes)) codes = body.error_codes.filter((c): c is number => typeof c === 'number');
  } catch {
    detail = res.text.replace(/\s+/g, ' ').trim();
  }
  if (detail.length > MAX_ERROR_TEXT) detail = `${detail.slice(0, MAX_ERROR_TEXT)}…`;
  const retryAfter = retryAfterMs(res.headers, nowMs);
  return new AuthError(`${source} returned HTTP ${res.status}${detail ? `: ${detail}` : ''}`, {
    status: res.status,
    aadstsCodes: codes,
    ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
  });
}

export interface TokenEndpointOptions {
  /** `{authority}/{tenant}/oauth2/v2.0/token`. */
  readonly tokenUrl: URL;
  readonly clock: Clock;
  readonly userAgent: string;
  /** Timeout of one token request. */
  readonly requestTimeoutMs: number;
  readonly tls?: TlsClientOptions;
  /** Proxy and TLS settings of the connection to Entra ID. */
  readonly egress?: Egress;
}

/**
 * Posts client-credential forms to one Entra ID token endpoint (docs/protocol-notes.md#client-secret, #client-certificate) over one
 * connection, and reads the answer into an `AccessToken` or an `AuthError`.
 */
export class TokenEndpointClient {
  private readonly connection: LazyDispatcher;

  constructor(private readonly opts: TokenEndpointOptions) {
    this.connection = new LazyDispatcher(opts.tokenUrl.origin, opts);
  }

  get tokenUrl(): URL {
    return this.opts.tokenUrl;
  }

  /** Posts `form`; never includes the form (it holds a secret or an assertion) in an error. */
  async post(form: URLSearchParams, signal: AbortSignal): Promise<AccessToken> {
    const url = this.opts.tokenUrl;
    const timeout = timeoutSignal(this.opts.requestTimeoutMs, signal);
    let res: TokenHttpResponse;
    try {
      const r = await this.connection.get().request({
        origin: url.origin,
        path: url.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          'user-agent': this.opts.userAgent,
        },
        body: form.toString(),
        signal: timeout.signal,
      });
      res = { status: r.statusCode, headers: r.headers, text: await readBodyText(r.body, MAX_TOKEN_RESPONSE_BYTES) };
    } catch (err) {
      if (signal.aborted) throw err;
      throw new AuthError(`token request to ${url.host} failed`, { cause: err });
    } finally {
      timeout.dispose();
    }
    const now = this.opts.clock.now();
    if (res.status < 200 || res.status > 299) throw tokenError(res, now);
    return parseTokenResponse(res, now);
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

/** `{authorityHost}/{tenantId}/oauth2/v2.0/token`. */
export function tokenEndpointUrl(authorityHost: string, tenantId: string): URL {
  return new URL(`${trimTrailingSlash(authorityHost)}/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`);
}

/** Where and as whom a client-credentials flow (secret or certificate) asks Entra ID for tokens. */
export interface ClientCredentialOptions extends CredentialOptions {
  readonly tenantId: string;
  readonly clientId: string;
  /** Authority host, e.g. https://login.microsoftonline.com. */
  readonly authorityHost: string;
  readonly scope: string;
  readonly tls?: TlsClientOptions;
  /** Proxy and TLS settings of the connection to Entra ID. */
  readonly egress?: Egress;
}

/** The client of the tenant's token endpoint, `{authorityHost}/{tenantId}/oauth2/v2.0/token`. */
export function tenantTokenEndpoint(opts: ClientCredentialOptions): TokenEndpointClient {
  return new TokenEndpointClient({
    tokenUrl: tokenEndpointUrl(opts.authorityHost, opts.tenantId),
    clock: opts.clock,
    userAgent: opts.userAgent,
    requestTimeoutMs: opts.requestTimeoutMs,
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.egress ? { egress: opts.egress } : {}),
  });
}

/** The client-credentials form: `grant_type`, `client_id`, the client's authentication (`clientAuth`) and `scope`. */
export function clientCredentialsForm(opts: Pick<ClientCredentialOptions, 'clientId' | 'scope'>, clientAuth: Record<string, string>): URLSearchParams {
  return new URLSearchParams({ grant_type: 'client_credentials', client_id: opts.clientId, ...clientAuth, scope: opts.scope });
}
