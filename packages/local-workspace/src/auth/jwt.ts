import type { KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, errors } from 'jose';

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
export function signRs256(header: Record<string, unknown>, payload: Record<string, unknown>, privateKey: KeyObject): Promise<string> {
  return new CompactSign(Buffer.from(JSON.stringify(payload))).setProtectedHeader({ ...header, alg: 'RS256' }).sign(privateKey);
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
 * Header and claims of a compact JWS whose three segments are base64url and whose header and claims are
 * JSON objects, without checking its signature; undefined otherwise. Lets a caller pick the key (e.g. by
 * `x5t`) and refuse precisely before verifying.
 */
export function decodeJws(token: string): { readonly header: Record<string, unknown>; readonly payload: Record<string, unknown> } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const header = decodeJsonSegment(parts[0]!);
  const payload = decodeJsonSegment(parts[1]!);
  return header && payload && SEGMENT_RE.test(parts[2]!) ? { header, payload } : undefined;
}

/**
 * Decodes a compact JWS and checks its signature with `publicKey` (jose). Only the `algorithms` given are
 * accepted (`none`, HMAC with a public key and every other algorithm fail), so a token can only come from
 * the holder of the private key.
 */
export async function verifyJws(token: string, publicKey: KeyObject, algorithms: readonly string[]): Promise<JwtDecodeResult> {
  const decoded = decodeJws(token);
  if (!decoded) return { ok: false, reason: 'malformed' };
  if (typeof decoded.header.alg !== 'string' || !algorithms.includes(decoded.header.alg)) return { ok: false, reason: 'algorithm' };
  try {
    await compactVerify(token, publicKey, { algorithms: [...algorithms] });
  } catch (err) {
    return { ok: false, reason: err instanceof errors.JWSSignatureVerificationFailed ? 'signature' : 'malformed' };
  }
  return { ok: true, ...decoded };
}
