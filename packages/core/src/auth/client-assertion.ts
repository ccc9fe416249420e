import { constants, randomUUID, sign } from 'node:crypto';
import type { ClientCertificate } from './client-certificate.js';

/** JWT signature of a client assertion: RS256 with `x5t` (widest support) or PS256 with `x5t#S256`. */
export type ClientAssertionAlgorithm = 'RS256' | 'PS256';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Lifetime of one assertion; a fresh one is made for every token request. */
export const CLIENT_ASSERTION_LIFETIME_SEC = 600;

export interface ClientAssertionOptions {
  readonly certificate: ClientCertificate;
  readonly clientId: string;
  /** The token endpoint URL the assertion is sent to. */
  readonly audience: string;
  readonly nowMs: number;
  readonly algorithm?: ClientAssertionAlgorithm;
  /** Adds the `x5c` header (certificate chain) for subject name and issuer authentication. */
  readonly sendCertificateChain?: boolean;
}

/**
 * Builds and signs a client assertion (docs/protocol-notes.md#client-certificate): header `{alg, typ: 'JWT', x5t | x5t#S256}`, claims
 * `aud` = token endpoint, `iss` = `sub` = client id, a fresh `jti`, `nbf` = `iat` = now, `exp` = now + 10 min.
 */
export function createClientAssertion(opts: ClientAssertionOptions): string {
  const alg = opts.algorithm ?? 'RS256';
  const now = Math.floor(opts.nowMs / 1000);
  const header: Record<string, unknown> =
    alg === 'PS256' ? { alg, typ: 'JWT', 'x5t#S256': opts.certificate.x5tS256 } : { alg, typ: 'JWT', x5t: opts.certificate.x5t };
  if (opts.sendCertificateChain) header.x5c = opts.certificate.chain.map((der) => der.toString('base64'));
  const claims = {
    aud: opts.audience,
    iss: opts.clientId,
    sub: opts.clientId,
    jti: randomUUID(),
    nbf: now,
    iat: now,
    exp: now + CLIENT_ASSERTION_LIFETIME_SEC,
  };
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const key = opts.certificate.privateKey;
  const signature =
    alg === 'PS256'
      ? sign('sha256', Buffer.from(input), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
      : sign('sha256', Buffer.from(input), key);
  return `${input}.${signature.toString('base64url')}`;
}
