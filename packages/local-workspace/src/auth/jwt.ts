import { createHmac, timingSafeEqual } from 'node:crypto';

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

function hmac(key: Buffer, signingInput: string): Buffer {
  return createHmac('sha256', key).update(signingInput).digest();
}

/** Signs `payload` as a compact JWS with HS256. */
export function signHs256(header: Record<string, unknown>, payload: Record<string, unknown>, key: Buffer): string {
  const input = `${base64UrlEncode(JSON.stringify({ ...header, alg: 'HS256' }))}.${base64UrlEncode(JSON.stringify(payload))}`;
  return `${input}.${base64UrlEncode(hmac(key, input))}`;
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
 * Decodes a compact JWS and checks its HS256 signature with `key`. Only HS256 is accepted (`none` and
 * every other algorithm fail), so a token can only come from the holder of the key.
 */
export function verifyHs256(token: string, key: Buffer): JwtDecodeResult {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed' };
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJsonSegment(h);
  const payload = decodeJsonSegment(p);
  if (!header || !payload || !SEGMENT_RE.test(s)) return { ok: false, reason: 'malformed' };
  if (header.alg !== 'HS256') return { ok: false, reason: 'algorithm' };
  const expected = hmac(key, `${h}.${p}`);
  const given = Buffer.from(s, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature' };
  return { ok: true, header, payload };
}
