import type { Dispatcher } from 'undici';
import type { Secret } from '../config/secret.js';
import { timeoutSignal } from '../http/abort.js';
import { readBodyText } from '../http/body.js';
import { createDispatcher, type TlsClientOptions } from '../http/dispatcher.js';
import { retryAfterMs } from '../http/retry-after.js';
import { trimTrailingSlash } from '../http/url.js';
import type { Clock } from '../ports/clock.js';
import type { AccessToken, TokenCredential } from './credential.js';
import { AuthError } from './errors.js';
import { TokenCache } from './token-cache.js';

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
  /** Told when a refresh fails while the cached token is still valid (it keeps being used). */
  readonly onRefreshError?: (err: unknown) => void;
}

/** Longest error text kept from a token endpoint response. */
const MAX_ERROR_TEXT = 512;

interface TokenErrorBody {
  error?: unknown;
  error_description?: unknown;
  error_codes?: unknown;
}

interface TokenResponseBody {
  access_token?: unknown;
  expires_in?: unknown;
  token_type?: unknown;
}

/** `POST {authority}/{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials` and a client secret. */
export class ClientSecretCredential implements TokenCredential {
  private readonly cache: TokenCache;
  private readonly tokenUrl: URL;
  private dispatcher: Dispatcher | undefined;

  constructor(private readonly opts: ClientSecretCredentialOptions) {
    this.tokenUrl = new URL(`${trimTrailingSlash(opts.authorityHost)}/${encodeURIComponent(opts.tenantId)}/oauth2/v2.0/token`);
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
    const d = this.dispatcher;
    this.dispatcher = undefined;
    if (d) await d.destroy();
  }

  private getDispatcher(): Dispatcher {
    this.dispatcher ??= createDispatcher(this.tokenUrl.origin, {
      connections: 1,
      headersTimeoutMs: this.opts.requestTimeoutMs,
      bodyTimeoutMs: this.opts.requestTimeoutMs,
      ...(this.opts.tls ? { tls: this.opts.tls } : {}),
    });
    return this.dispatcher;
  }

  private async fetchToken(signal: AbortSignal): Promise<AccessToken> {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.opts.clientId,
      client_secret: this.opts.clientSecret.reveal(),
      scope: this.opts.scope,
    });
    const timeout = timeoutSignal(this.opts.requestTimeoutMs, signal);
    let status: number;
    let text: string;
    let headers: Record<string, string | string[] | undefined>;
    try {
      const res = await this.getDispatcher().request({
        origin: this.tokenUrl.origin,
        path: this.tokenUrl.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          'user-agent': this.opts.userAgent,
        },
        body: form.toString(),
        signal: timeout.signal,
      });
      status = res.statusCode;
      headers = res.headers;
      text = await readBodyText(res.body, 256 * 1024);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new AuthError(`token request to ${this.tokenUrl.host} failed`, { cause: err });
    } finally {
      timeout.dispose();
    }
    if (status < 200 || status > 299) throw tokenError(status, text, headers, this.opts.clock.now());
    let body: TokenResponseBody;
    try {
      body = JSON.parse(text) as TokenResponseBody;
    } catch (err) {
      throw new AuthError(`token endpoint returned HTTP ${status} with a body that is not JSON`, { status, cause: err });
    }
    const token = body.access_token;
    const expiresIn = typeof body.expires_in === 'string' ? Number(body.expires_in) : body.expires_in;
    if (typeof token !== 'string' || token === '') {
      throw new AuthError('token endpoint response lacks access_token', { status });
    }
    if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new AuthError('token endpoint response lacks a valid expires_in', { status });
    }
    return { token, expiresAtMs: this.opts.clock.now() + expiresIn * 1000 };
  }
}

function tokenError(
  status: number,
  text: string,
  headers: Record<string, string | string[] | undefined>,
  nowMs: number,
): AuthError {
  let detail = '';
  let codes: number[] = [];
  try {
    const body = JSON.parse(text) as TokenErrorBody;
    const description = typeof body.error_description === 'string' ? body.error_description : '';
    const error = typeof body.error === 'string' ? body.error : '';
    // Entra descriptions end with trace/correlation ids on later lines; the first line says what is wrong.
    detail = [error, description.split(/\r?\n/)[0] ?? ''].filter((s) => s !== '').join(': ');
    if (Array.isArray(body.error_codes)) codes = body.error_codes.filter((c): c is number => typeof c === 'number');
  } catch {
    detail = text.replace(/\s+/g, ' ').trim();
  }
  if (detail.length > MAX_ERROR_TEXT) detail = `${detail.slice(0, MAX_ERROR_TEXT)}…`;
  const retryAfter = retryAfterMs(headers, nowMs);
  return new AuthError(`token endpoint returned HTTP ${status}${detail ? `: ${detail}` : ''}`, {
    status,
    aadstsCodes: codes,
    ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
  });
}
