import { createHash, X509Certificate } from 'node:crypto';
import { decodeJws, verifyJws } from './jwt.js';

/** A certificate registered for a client, like one uploaded to an app registration. */
export interface RegisteredCertificate {
  readonly x509: X509Certificate;
  /** base64url SHA-1 of the DER. */
  readonly x5t: string;
  /** base64url SHA-256 of the DER. */
  readonly x5tS256: string;
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Parses every PEM certificate in `pem`; throws when there is none or one is invalid. */
export function parseRegisteredCertificates(pem: string): RegisteredCertificate[] {
  const blocks = [...pem.matchAll(PEM_CERT_RE)].map((m) => m[0]);
  if (blocks.length === 0) throw new Error('no PEM certificate found');
  return blocks.map((b) => {
    const x509 = new X509Certificate(b);
    return {
      x509,
      x5t: createHash('sha1').update(x509.raw).digest('base64url'),
      x5tS256: createHash('sha256').update(x509.raw).digest('base64url'),
    };
  });
}

/**
 * Remembers the `jti` of accepted assertions until they expire, so that an assertion cannot be replayed.
 * Bounded: past `max` entries the expired ones are dropped, then the oldest.
 */
export class JtiCache {
  readonly #seen = new Map<string, number>();

  constructor(private readonly max = 10_000) {}

  /** Records `key` until `expiresAtMs`; false when it is already recorded and not yet expired. */
  add(key: string, expiresAtMs: number, nowMs: number): boolean {
    const until = this.#seen.get(key);
    if (until !== undefined && until >= nowMs) return false;
    if (this.#seen.size >= this.max) {
      for (const [k, t] of this.#seen) if (t < nowMs) this.#seen.delete(k);
      for (const k of this.#seen.keys()) {
        if (this.#seen.size < this.max) break;
        this.#seen.delete(k);
      }
    }
    this.#seen.delete(key);
    this.#seen.set(key, expiresAtMs);
    return true;
  }

  get size(): number {
    return this.#seen.size;
  }
}

export interface AssertionCheck {
  readonly assertion: string;
  readonly clientId: string;
  readonly certificates: readonly RegisteredCertificate[];
  /** Accepted `aud` values: this token endpoint's URLs. */
  readonly audiences: readonly string[];
  readonly nowMs: number;
  /** Clock skew allowed on `nbf` and `exp`, seconds. */
  readonly skewSec: number;
  readonly jtis: JtiCache;
}

/** Why an assertion was refused: an Entra error, code and description (docs/protocol-notes.md#client-certificate). */
export interface AssertionFailure {
  readonly ok: false;
  readonly code: number;
  readonly description: string;
}

export type AssertionResult = { readonly ok: true } | AssertionFailure;

function refuse(code: number, description: string): AssertionFailure {
  return { ok: false, code, description };
}

function isoSec(sec: number): string {
  return Number.isFinite(sec) ? new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') : String(sec);
}

const DOCS = 'Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials.';

/**
 * Verifies a client assertion the way Entra ID does for a certificate credential: a compact JWS signed
 * RS256 or PS256 by a registered certificate found by its `x5t` or `x5t#S256` header (AADSTS700027 when
 * the key is unknown, expired or the signature is wrong), `iss` = `sub` = client id (AADSTS700021), `aud`
 * one of this endpoint's URLs (AADSTS700023), `nbf` ≤ now ≤ `exp` within the skew (AADSTS700024), a
 * `jti` not seen before within its lifetime (AADSTS50027 otherwise, like any malformed assertion).
 */
export async function verifyClientAssertion(check: AssertionCheck): Promise<AssertionResult> {
  const decoded = decodeJws(check.assertion);
  if (!decoded) return refuse(50027, 'JWT token is invalid or malformed.');
  const { header, payload: claims } = decoded;
  const alg = header.alg;
  if (alg !== 'RS256' && alg !== 'PS256') {
    return refuse(700027, `Client assertion contains an invalid signature. [Reason - The signing algorithm '${String(alg).slice(0, 20)}' is not supported.]`);
  }
  const x5t = typeof header.x5t === 'string' ? header.x5t : undefined;
  const x5tS256 = typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : undefined;
  if (x5t === undefined && x5tS256 === undefined) {
    return refuse(700027, 'Client assertion contains an invalid signature. [Reason - The assertion header has no x5t or x5t#S256 key identifier.]');
  }
  const cert = check.certificates.find((c) => (x5tS256 !== undefined ? c.x5tS256 === x5tS256 : c.x5t === x5t));
  if (!cert) {
    const given = x5tS256 ?? x5t ?? '';
    return refuse(
      700027,
      `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${Buffer.from(given, 'base64url').toString('hex').toUpperCase().slice(0, 64)}']`,
    );
  }
  // The signature (jose, with the algorithm the header names and no other) before any claim.
  const valid = (await verifyJws(check.assertion, cert.x509.publicKey, [alg])).ok;
  if (!valid) return refuse(700027, 'Client assertion contains an invalid signature. [Reason - The signature does not verify with the registered certificate.]');
  if (check.nowMs > Date.parse(cert.x509.validTo)) {
    return refuse(700027, 'Client assertion contains an invalid signature. [Reason - The key used is expired.]');
  }
  if (claims.iss !== check.clientId || claims.sub !== check.clientId) {
    return refuse(700021, `Client assertion application identifier doesn't match 'client_id' parameter. ${DOCS}`);
  }
  if (typeof claims.aud !== 'string' || !check.audiences.includes(claims.aud)) {
    return refuse(700023, `Client assertion audience claim does not match Realm issuer. ${DOCS}`);
  }
  const { exp, nbf, jti } = claims;
  if (typeof exp !== 'number' || (nbf !== undefined && typeof nbf !== 'number')) return refuse(50027, 'JWT token is invalid or malformed. [Reason - exp or nbf is not a number.]');
  const now = check.nowMs / 1000;
  if (now > exp + check.skewSec || (typeof nbf === 'number' && now < nbf - check.skewSec)) {
    return refuse(
      700024,
      `Client assertion is not within its valid time range. Current time: ${isoSec(Math.floor(now))}, assertion valid from ${typeof nbf === 'number' ? isoSec(nbf) : 'unset'}, expiry time of assertion ${isoSec(exp)}. ${DOCS}`,
    );
  }
  if (typeof jti !== 'string' || jti === '') return refuse(50027, 'JWT token is invalid or malformed. [Reason - The assertion has no jti claim.]');
  if (!check.jtis.add(`${check.clientId}\n${jti}`, (exp + check.skewSec) * 1000, check.nowMs)) {
    return refuse(50027, 'JWT token is invalid or malformed. [Reason - The assertion was already used (jti replayed).]');
  }
  return { ok: true };
}
