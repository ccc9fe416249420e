import { sign, verify, type KeyObject } from 'node:crypto';

/** Claims of the tokens this workspace issues and accepts. */
export interface AccessTokenClaims {
  readonly aud: string;
  readonly iss: string;
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
  readonly appid: string;
  readonly tid: string;
  readonly [claim: string]: unknown;
}

export type JwtDecodeResult =
  | { readonly ok: true; readonly header: Record<string, unknown>; readonly payload: Record<string, unknown> }
  | { readonly ok: false; readonly reason: 'malformed' | 'algorithm' | 'signature' };

export function base64UrlEncode(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Signs `payload` as a compact JWS with RS256 (RSASSA-PKCS1-v1_5, SHA-256) and `privateKey`. */
export function signRs256(header: Record<string, unknown>, payload: Record<string, unknown>, privateKey: KeyObject): string {
  const input = `${base64UrlEncode(JSON.stringify({ ...header, alg: 'RS256' }))}.${base64UrlEncode(JSON.stringify(payload))}`;
  return `${input}.${base64UrlEncode(sign('sha256', Buffer.from(input), privateKey))}`;
}

const SEGMENT_RE = /^[A-Za-z0-9_-]+$/;

function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  if (!SEGMENT_RE.test(segment)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decodes a compact JWS and checks its RS256 signature with `publicKey`. Only RS256 is accepted (`none`,
 * HS256 and every other algorithm fail), so a token can only come from the holder of the private key.
 */
export function verifyRs256(token: string, publicKey: KeyObject): JwtDecodeResult {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed' };
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJsonSegment(h);
  const payload = decodeJsonSegment(p);
  if (!header || !payload || !SEGMENT_RE.test(s)) return { ok: false, reason: 'malformed' };
  if (header.alg !== 'RS256') return { ok: false, reason: 'algorithm' };
  let valid = false;
  try {
    valid = verify('sha256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, 'base64url'));
  } catch {
    valid = false;
  }
  return valid ? { ok: true, header, payload } : { ok: false, reason: 'signature' };
}
