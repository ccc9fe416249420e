import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rfc1123Date, sharedKeyAuthorization, sharedKeySignature, stringToSign } from './signature.js';

// A 64-byte key (bytes 0..63) and a body whose UTF-8 length (36) differs from its UTF-16 length (28).
const KEY_B64 = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==';
const KEY = Buffer.from(KEY_B64, 'base64');
const DATE = 'Thu, 01 Jan 2026 00:00:00 GMT';
const BODY = '[{"Message":"café ü 日本 🚀"}]';
/** Computed outside this code base (Python hmac/hashlib) over the 36-byte length. */
const KNOWN_SIGNATURE = 'Gm4nrOLJ1sFFCMRqeLuR7N5Mypf/jrmpe8idB4okp+c=';

/** HMAC-SHA256 (RFC 2104) from the hash alone, independent of createHmac. */
function hmacSha256(key: Uint8Array, message: Uint8Array): Buffer {
  const block = 64;
  const k = new Uint8Array(block);
  k.set(key.length > block ? createHash('sha256').update(key).digest() : key);
  const ipad = k.map((b) => b ^ 0x36);
  const opad = k.map((b) => b ^ 0x5c);
  const inner = createHash('sha256').update(ipad).update(message).digest();
  return createHash('sha256').update(opad).update(inner).digest();
}

function independentSignature(keyB64: string, body: string, date: string): string {
  const bytes = new TextEncoder().encode(body).length;
  const text = `POST\n${bytes}\napplication/json\nx-ms-date:${date}\n/api/logs`;
  return hmacSha256(Buffer.from(keyB64, 'base64'), new TextEncoder().encode(text)).toString('base64');
}

describe('SharedKey signature', () => {
  it('signs the five documented lines, without a trailing newline', () => {
    expect(stringToSign(36, DATE)).toBe(`POST\n36\napplication/json\nx-ms-date:${DATE}\n/api/logs`);
  });

  it('matches a known vector over the byte length of a non-ASCII body', () => {
    const bytes = Buffer.byteLength(BODY, 'utf8');
    expect(bytes).toBe(36);
    expect(BODY.length).toBe(28);
    expect(sharedKeySignature(KEY, bytes, DATE)).toBe(KNOWN_SIGNATURE);
    expect(independentSignature(KEY_B64, BODY, DATE)).toBe(KNOWN_SIGNATURE);
    // The character count (the Learn PowerShell sample's mistake) gives another signature.
    expect(sharedKeySignature(KEY, BODY.length, DATE)).not.toBe(KNOWN_SIGNATURE);
  });

  it('agrees with an independent implementation for other keys, bodies and dates', () => {
    const keys = [KEY_B64, Buffer.alloc(64, 0xab).toString('base64'), Buffer.from('short key').toString('base64')];
    const bodies = ['[]', '[{"a":"x"}]', `[{"m":"${'é'.repeat(1000)}"}]`, '[{"e":"🚀🚀"}]'];
    for (const k of keys) {
      for (const b of bodies) {
        const date = rfc1123Date(Date.UTC(2026, 1, 3, 4, 5, 6));
        expect(sharedKeySignature(Buffer.from(k, 'base64'), Buffer.byteLength(b), date)).toBe(independentSignature(k, b, date));
      }
    }
  });

  it('builds the Authorization header', () => {
    const ws = '11111111-2222-3333-4444-555555555555';
    expect(sharedKeyAuthorization(ws, KEY, 36, DATE)).toBe(`SharedKey ${ws}:${KNOWN_SIGNATURE}`);
  });

  it('formats x-ms-date as RFC 1123 GMT', () => {
    expect(rfc1123Date(Date.UTC(2016, 3, 4, 8, 0, 0))).toBe('Mon, 04 Apr 2016 08:00:00 GMT');
    expect(rfc1123Date(Date.UTC(2026, 0, 1))).toBe(DATE);
  });
});
