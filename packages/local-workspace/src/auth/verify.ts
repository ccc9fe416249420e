import type { KeyObject } from 'node:crypto';
import { verifyJws, type AccessTokenClaims } from './jwt.js';
import { tokenIssuer } from './token-issuer.js';

/** Why a request was not authenticated; `code` goes in the error body, `message` explains. */
export interface AuthFailure {
  readonly ok: false;
  readonly code: 'MissingToken' | 'InvalidToken' | 'ExpiredToken' | 'InvalidAudience';
  readonly message: string;
}

export type AuthResult = { readonly ok: true; readonly claims: AccessTokenClaims } | AuthFailure;

export interface BearerVerifierOptions {
  /** Public key of the workspace's token signing key. */
  readonly key: KeyObject;
  readonly tenantId: string;
  /** Accepted `aud` values. */
  readonly audiences: readonly string[];
  readonly now: () => number;
  /** Allowed clock skew for `nbf` and `exp`, seconds. */
  readonly skewSec: number;
}

function fail(code: AuthFailure['code'], message: string): AuthFailure {
  return { ok: false, code, message };
}

/**
 * Authenticates ingestion requests by their `Authorization: Bearer` header: signature (the workspace's
 * public key), audience, issuer and tenant, and the `nbf`/`exp` window with a small skew allowance.
 */
export class BearerVerifier {
  constructor(private readonly opts: BearerVerifierOptions) {}

  async verify(authorization: string | undefined): Promise<AuthResult> {
    if (authorization === undefined || authorization.trim() === '') {
      return fail('MissingToken', 'The request has no Authorization header; a bearer token is required.');
    }
    const m = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(authorization);
    if (!m?.[1]) return fail('InvalidToken', 'The Authorization header must be "Bearer <token>".');
    const decoded = await verifyJws(m[1], this.opts.key, ['RS256']);
    if (!decoded.ok) {
      return fail(
        'InvalidToken',
        decoded.reason === 'signature'
          ? 'The access token signature is invalid.'
          : decoded.reason === 'algorithm'
            ? 'The access token signing algorithm is not accepted.'
            : 'The access token is malformed.',
      );
    }
    const c = decoded.payload;
    if (typeof c.exp !== 'number' || typeof c.nbf !== 'number' || typeof c.aud !== 'string') {
      return fail('InvalidToken', 'The access token lacks the exp, nbf or aud claim.');
    }
    if (!this.opts.audiences.includes(c.aud)) {
      return fail('InvalidAudience', `The access token audience '${c.aud.slice(0, 100)}' is not valid for this API.`);
    }
    if (c.iss !== tokenIssuer(this.opts.tenantId) || c.tid !== this.opts.tenantId) {
      return fail('InvalidToken', 'The access token was issued for another tenant.');
    }
    const now = this.opts.now() / 1000;
    if (now > c.exp + this.opts.skewSec) return fail('ExpiredToken', 'The access token has expired.');
    if (now < c.nbf - this.opts.skewSec) return fail('InvalidToken', 'The access token is not valid yet (nbf).');
    return { ok: true, claims: c as AccessTokenClaims };
  }
}
