import { createHash, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { signRs256 } from './jwt.js';

export interface IssueTokenOptions {
  /** The workspace's private signing key (RSA). */
  readonly key: KeyObject;
  readonly keyId: string;
  readonly clientId: string;
  readonly tenantId: string;
  readonly audience: string;
  readonly nowMs: number;
  readonly lifetimeSec: number;
  /** Object id of the principal (`oid`, `sub`); default derived from the client id. */
  readonly objectId?: string;
  /** More claims, e.g. `xms_mirid` of a managed identity. */
  readonly extraClaims?: Readonly<Record<string, unknown>>;
}

export interface IssuedToken {
  readonly accessToken: string;
  readonly expiresIn: number;
}

/** Issuer claim of the tokens, shaped like Entra ID's v1 tokens for Azure resources. */
export function tokenIssuer(tenantId: string): string {
  return `https://sts.windows.net/${tenantId}/`;
}

/** A stable GUID derived from `seed`, e.g. the object id of a client id, so that `oid` and `sub` look like Entra's. */
export function guidFor(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Issues a JWT-shaped access token (RS256 with the workspace's key) for the client-credentials flow. */
export async function issueAccessToken(opts: IssueTokenOptions): Promise<IssuedToken> {
  const now = Math.floor(opts.nowMs / 1000);
  const oid = opts.objectId ?? guidFor(`oid:${opts.clientId}`);
  const payload = {
    aud: opts.audience,
    iss: tokenIssuer(opts.tenantId),
    iat: now,
    nbf: now,
    exp: now + opts.lifetimeSec,
    appid: opts.clientId,
    appidacr: '1',
    idp: tokenIssuer(opts.tenantId),
    idtyp: 'app',
    oid,
    sub: oid,
    tid: opts.tenantId,
    uti: randomBytes(16).toString('base64url'),
    jti: randomUUID(),
    ver: '1.0',
    ...opts.extraClaims,
  };
  return { accessToken: await signRs256({ typ: 'JWT', kid: opts.keyId }, payload, opts.key), expiresIn: opts.lifetimeSec };
}
