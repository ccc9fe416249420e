import { constants, createPrivateKey, sign } from 'node:crypto';
import { createSelfSignedCert, type TestCert } from '@oma/core/testing';
import { describe, expect, it } from 'vitest';
import { JtiCache, parseRegisteredCertificates, verifyClientAssertion, type AssertionCheck } from './client-assertion.js';

const CLIENT = 'client-1';
const AUD = 'http://127.0.0.1:1234/tenant/oauth2/v2.0/token';
const NOW = Math.floor(Date.now() / 1000) * 1000;
const cert = createSelfSignedCert({ commonName: 'registered' });
const other = createSelfSignedCert({ commonName: 'other' });
const registered = parseRegisteredCertificates(cert.certPem);

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Builds an assertion by hand, independently of the agent's own code. */
function jwt(
  over: { header?: Record<string, unknown>; claims?: Record<string, unknown>; signWith?: TestCert; alg?: 'RS256' | 'PS256'; jti?: string } = {},
): string {
  const alg = over.alg ?? 'RS256';
  const now = NOW / 1000;
  const header = { alg, typ: 'JWT', ...(alg === 'PS256' ? { 'x5t#S256': cert.x5tS256 } : { x5t: cert.x5t }), ...over.header };
  const claims = { aud: AUD, iss: CLIENT, sub: CLIENT, jti: over.jti ?? `${Math.random()}`, nbf: now, iat: now, exp: now + 600, ...over.claims };
  const input = `${b64(header)}.${b64(claims)}`;
  const key = createPrivateKey((over.signWith ?? cert).keyPem);
  const sig =
    alg === 'PS256'
      ? sign('sha256', Buffer.from(input), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
      : sign('sha256', Buffer.from(input), key);
  return `${input}.${sig.toString('base64url')}`;
}

function check(assertion: string, over: Partial<AssertionCheck> = {}): ReturnType<typeof verifyClientAssertion> {
  return verifyClientAssertion({
    assertion,
    clientId: CLIENT,
    certificates: registered,
    audiences: [AUD],
    nowMs: NOW,
    skewSec: 60,
    jtis: new JtiCache(),
    ...over,
  });
}

describe('verifyClientAssertion', () => {
  it('accepts RS256 with x5t and PS256 with x5t#S256', async () => {
    expect(await check(jwt())).toEqual({ ok: true });
    expect(await check(jwt({ alg: 'PS256' }))).toEqual({ ok: true });
    // PS256 identified by the SHA-1 thumbprint is fine too; the key is what matters.
    expect(await check(jwt({ alg: 'PS256', header: { 'x5t#S256': undefined, x5t: cert.x5t } }))).toEqual({ ok: true });
  });

  it('refuses an unknown thumbprint, a wrong signature and unsupported algorithms with AADSTS700027', async () => {
    expect(await check(jwt({ header: { x5t: other.x5t }, signWith: other }))).toMatchObject({ ok: false, code: 700027, description: expect.stringContaining('not registered') });
    expect(await check(jwt({ signWith: other }))).toMatchObject({ ok: false, code: 700027, description: expect.stringContaining('signature does not verify') });
    expect(await check(jwt({ alg: 'PS256', header: { 'x5t#S256': other.x5tS256 } }))).toMatchObject({ ok: false, code: 700027 });
    const [h, p] = jwt().split('.');
    const hs = `${b64({ alg: 'HS256', typ: 'JWT', x5t: cert.x5t })}.${p}.c2ln`;
    expect(await check(hs)).toMatchObject({ ok: false, code: 700027 });
    expect(await check(`${b64({ alg: 'none', x5t: cert.x5t })}.${p}.`)).toMatchObject({ ok: false, code: 50027 });
    expect(await check(`${h}.${p}.${Buffer.from('x').toString('base64url')}`)).toMatchObject({ ok: false, code: 700027 });
    expect(await check(jwt({ header: { x5t: undefined } }))).toMatchObject({ ok: false, code: 700027, description: expect.stringContaining('no x5t') });
  });

  it('checks iss and sub (AADSTS700021) and aud (AADSTS700023)', async () => {
    expect(await check(jwt({ claims: { iss: 'someone-else' } }))).toMatchObject({ ok: false, code: 700021 });
    expect(await check(jwt({ claims: { sub: 'someone-else' } }))).toMatchObject({ ok: false, code: 700021 });
    expect(await check(jwt({ claims: { aud: 'https://login.microsoftonline.com/t/oauth2/v2.0/token' } }))).toMatchObject({ ok: false, code: 700023 });
  });

  it('checks the time window with the configured skew (AADSTS700024)', async () => {
    const now = NOW / 1000;
    expect((await check(jwt({ claims: { exp: now - 30 } }))).ok).toBe(true);
    expect(await check(jwt({ claims: { exp: now - 61 } }))).toMatchObject({ ok: false, code: 700024, description: expect.stringContaining('not within its valid time range') });
    expect((await check(jwt({ claims: { nbf: now + 30 } }))).ok).toBe(true);
    expect(await check(jwt({ claims: { nbf: now + 61 } }))).toMatchObject({ ok: false, code: 700024 });
    expect(await check(jwt({ claims: { nbf: now + 10 } }), { skewSec: 0 })).toMatchObject({ ok: false, code: 700024 });
    expect(await check(jwt({ claims: { exp: 'soon' } }))).toMatchObject({ ok: false, code: 50027 });
  });

  it('requires a jti and refuses a replay within its lifetime', async () => {
    expect(await check(jwt({ claims: { jti: undefined } }))).toMatchObject({ ok: false, code: 50027, description: expect.stringContaining('no jti') });
    const jtis = new JtiCache();
    const a = jwt({ jti: 'once' });
    expect(await check(a, { jtis })).toEqual({ ok: true });
    expect(await check(a, { jtis })).toMatchObject({ ok: false, code: 50027, description: expect.stringContaining('already used') });
    // Another client may use the same jti.
    expect(await check(jwt({ jti: 'once', claims: { iss: 'c2', sub: 'c2' } }), { jtis, clientId: 'c2' })).toEqual({ ok: true });
  });

  it('refuses a registered certificate that has expired', async () => {
    const old = createSelfSignedCert({ commonName: 'old', notBefore: new Date(NOW - 86_400_000 * 2), notAfter: new Date(NOW - 86_400_000) });
    const a = jwt({ header: { x5t: old.x5t }, signWith: old });
    expect(await check(a, { certificates: parseRegisteredCertificates(old.certPem) })).toMatchObject({ ok: false, code: 700027, description: expect.stringContaining('expired') });
  });

  it('refuses malformed assertions (AADSTS50027)', async () => {
    for (const bad of ['', 'a.b', 'a.b.c.d', '!!.??.x', `${b64([1])}.${b64({})}.x`]) expect(await check(bad)).toMatchObject({ ok: false, code: 50027 });
  });
});

describe('JtiCache', () => {
  it('forgets expired entries and stays bounded', () => {
    const c = new JtiCache(3);
    expect(c.add('a', 100, 0)).toBe(true);
    expect(c.add('a', 100, 50)).toBe(false);
    expect(c.add('a', 300, 150)).toBe(true);
    c.add('b', 1000, 150);
    c.add('c', 1000, 150);
    c.add('d', 1000, 150);
    expect(c.size).toBe(3);
  });
});
