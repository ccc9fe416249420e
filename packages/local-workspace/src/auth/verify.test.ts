import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base64UrlEncode, signRs256 } from './jwt.js';
import { issueAccessToken } from './token-issuer.js';
import { BearerVerifier } from './verify.js';

const { privateKey: key, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const tenantId = 'tenant-1';
const NOW = 1_750_000_000_000;
const verifier = new BearerVerifier({ key: publicKey, tenantId, audiences: ['https://monitor.azure.com'], now: () => NOW, skewSec: 60 });

async function token(over: { nowMs?: number; lifetimeSec?: number; audience?: string; tenant?: string; signKey?: KeyObject } = {}): Promise<string> {
  const issued = await issueAccessToken({
    key: over.signKey ?? key,
    keyId: 'k',
    clientId: 'client',
    tenantId: over.tenant ?? tenantId,
    audience: over.audience ?? 'https://monitor.azure.com',
    nowMs: over.nowMs ?? NOW,
    lifetimeSec: over.lifetimeSec ?? 3600,
  });
  return issued.accessToken;
}

describe('BearerVerifier', () => {
  it('accepts a fresh token and returns its claims', async () => {
    const r = await verifier.verify(`Bearer ${await token()}`);
    expect(r).toMatchObject({ ok: true, claims: { appid: 'client', tid: tenantId } });
    expect((await verifier.verify(`bearer ${await token()}`)).ok).toBe(true);
  });

  it('allows clock skew on exp and nbf, and no more', async () => {
    expect((await verifier.verify(`Bearer ${await token({ nowMs: NOW - 3600_000 - 30_000 })}`)).ok).toBe(true);
    expect(await verifier.verify(`Bearer ${await token({ nowMs: NOW - 3600_000 - 61_000 })}`)).toMatchObject({ ok: false, code: 'ExpiredToken' });
    expect((await verifier.verify(`Bearer ${await token({ nowMs: NOW + 30_000 })}`)).ok).toBe(true);
    expect(await verifier.verify(`Bearer ${await token({ nowMs: NOW + 61_000 })}`)).toMatchObject({ ok: false, code: 'InvalidToken' });
  });

  it('rejects missing, malformed, forged, unsigned, other-audience and other-tenant tokens', async () => {
    expect(await verifier.verify(undefined)).toMatchObject({ ok: false, code: 'MissingToken' });
    expect(await verifier.verify('Basic abc')).toMatchObject({ ok: false, code: 'InvalidToken' });
    expect(await verifier.verify('Bearer not.a.jwt!')).toMatchObject({ ok: false, code: 'InvalidToken' });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(await verifier.verify(`Bearer ${await token({ signKey: other })}`)).toMatchObject({ ok: false, message: expect.stringContaining('signature') });
    // An HS256 token keyed with the public key (the classic algorithm confusion) is refused.
    const hsInput = `${base64UrlEncode('{"alg":"HS256","typ":"JWT"}')}.${(await token()).split('.')[1]}`;
    const confused = `${hsInput}.${createHmac('sha256', publicKey.export({ type: 'spki', format: 'pem' })).update(hsInput).digest('base64url')}`;
    expect(await verifier.verify(`Bearer ${confused}`)).toMatchObject({ ok: false, message: expect.stringContaining('algorithm') });
    const payload = (await token()).split('.')[1]!;
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
    expect(await verifier.verify(`Bearer ${none}`)).toMatchObject({ ok: false, code: 'InvalidToken' });
    expect(await verifier.verify(`Bearer ${await token({ audience: 'https://vault.azure.net' })}`)).toMatchObject({ ok: false, code: 'InvalidAudience' });
    expect(await verifier.verify(`Bearer ${await token({ tenant: 'other' })}`)).toMatchObject({ ok: false, code: 'InvalidToken' });
    const noExp = await signRs256({}, { aud: 'https://monitor.azure.com' }, key);
    expect(await verifier.verify(`Bearer ${noExp}`)).toMatchObject({ ok: false, code: 'InvalidToken' });
  });
});
