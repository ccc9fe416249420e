import { createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ArcManagedIdentityCredential,
  authSchema,
  ClientCertificateCredential,
  createClientAssertion,
  createCredential,
  loadClientCertificate,
  ManagedIdentityCredential,
  systemClock,
  type AuthError,
  type TokenCredential,
} from '@oma/core';
import { createSelfSignedCert, toPfx } from '@oma/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseFaultRule, type LocalWorkspace } from '../src/index.js';
import { ingest, startWorkspace, syslog } from './helpers.js';

const CERT_CLIENT = '0a0a0a0a-0000-4000-8000-000000000001';
const SECRET_CLIENT = '0b0b0b0b-0000-4000-8000-000000000002';
const UAI_1 = { clientId: '1a1a1a1a-0000-4000-8000-000000000001', objectId: '1b1b1b1b-0000-4000-8000-000000000001', resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-1' };
const UAI_2 = { clientId: '2a2a2a2a-0000-4000-8000-000000000002' };
const SYSTEM = { clientId: '5a5a5a5a-0000-4000-8000-000000000005' };
const PASS = 'pfx-p@ss';

const cert = createSelfSignedCert({ commonName: 'oma-agent' });
const stranger = createSelfSignedCert({ commonName: 'not-registered' });

let ws: LocalWorkspace;
let dir: string;
let stop: () => Promise<void>;
const open: TokenCredential[] = [];

beforeAll(async () => {
  ({ ws, dir, stop } = await startWorkspace({
    clients: [
      { clientId: CERT_CLIENT, certificatePem: cert.certPem },
      { clientId: SECRET_CLIENT, clientSecret: 'only-a-secret' },
    ],
    managedIdentities: [UAI_1, UAI_2],
    systemAssigned: SYSTEM,
  }));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  ws.faults.clear();
  ws.requests.clear();
});
afterAll(async () => {
  await stop();
});

function track<T extends TokenCredential>(c: T): T {
  open.push(c);
  return c;
}

const live = (): AbortSignal => new AbortController().signal;
const deps = { clock: systemClock, userAgent: 'OMA/test', requestTimeoutMs: 5_000 };

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function certAuth(extra: Record<string, unknown>): ReturnType<typeof authSchema.parse> {
  return authSchema.parse({ type: 'client_certificate', tenantId: ws.tenantId, clientId: CERT_CLIENT, authorityHost: ws.authority, ...extra });
}

async function rejection(p: Promise<unknown>): Promise<AuthError> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as AuthError,
  );
}

async function assertIngests(cred: TokenCredential): Promise<void> {
  const { token } = await cred.getToken(live());
  expect((await ingest(ws, 'Custom-Syslog', syslog(1), { token })).status).toBe(204);
}

describe('client certificate against the local workspace', () => {
  it.each([
    ['RS256', 'x5t'],
    ['PS256', 'x5t#S256'],
  ] as const)('accepts %s assertions (%s) and issues a token valid for ingestion', async (alg, _header) => {
    const cred = track(createCredential(certAuth({ certificateFile: file('agent.pem', cert.certPem + cert.keyPem), signatureAlgorithm: alg }), deps));
    await assertIngests(cred);
    expect(ws.requests.entries({ route: 'token' }).at(-1)).toMatchObject({ status: 200 });
  });

  it('loads the certificate from PEM, encrypted PEM and PFX (AES-256 and 3DES)', async () => {
    const encrypted = createPrivateKey(cert.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASS }).toString();
    process.env.OMA_TEST_CERT_PASS = PASS;
    const variants = [
      { certificateFile: file('c.pem', cert.certPem), keyFile: file('k.pem', cert.keyPem) },
      { certificateFile: file('c+ek.pem', cert.certPem + encrypted), passphrase: { env: 'OMA_TEST_CERT_PASS' } },
      { certificateFile: file('aes.pfx', toPfx(cert, PASS, 'aes256')), passphrase: { env: 'OMA_TEST_CERT_PASS' } },
      { certificateFile: file('3des.p12', toPfx(cert, PASS, '3des')), passphrase: { env: 'OMA_TEST_CERT_PASS' } },
    ];
    for (const v of variants) await assertIngests(track(createCredential(certAuth(v), deps)));
  });

  it('surfaces AADSTS700027 for a certificate that is not registered', async () => {
    const cred = track(createCredential(certAuth({ certificateFile: file('stranger.pem', stranger.certPem + stranger.keyPem) }), deps));
    const err = await rejection(cred.getToken(live()));
    expect(err).toMatchObject({ code: 'OMA_ERR_AUTH', status: 401, aadstsCodes: [700027] });
    expect(err.message).toContain('invalid_client: AADSTS700027: The certificate with identifier used to sign the client assertion is not registered');
  });

  it('refuses an assertion for a secret-only client and a secret for a certificate-only client', async () => {
    const asSecretClient = track(
      createCredential(certAuth({ clientId: SECRET_CLIENT, certificateFile: file('agent2.pem', cert.certPem + cert.keyPem) }), deps),
    );
    expect((await rejection(asSecretClient.getToken(live()))).aadstsCodes).toEqual([700027]);
    const secretForCert = track(
      createCredential(authSchema.parse({ type: 'client_secret', tenantId: ws.tenantId, clientId: CERT_CLIENT, clientSecret: 'guess', authorityHost: ws.authority }), deps),
    );
    expect((await rejection(secretForCert.getToken(live()))).aadstsCodes).toEqual([7000215]);
  });

  async function postAssertion(assertion: string): Promise<{ status: number; codes: number[] }> {
    const res = await fetch(ws.tokenUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: CERT_CLIENT,
        scope: 'https://monitor.azure.com//.default',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
    });
    const body = (await res.json()) as { error_codes?: number[] };
    return { status: res.status, codes: body.error_codes ?? [] };
  }

  it('refuses a replayed assertion, a wrong audience and an expired assertion', async () => {
    const certificate = loadClientCertificate({ certificateFile: file('agent3.pem', cert.certPem + cert.keyPem) });
    const good = createClientAssertion({ certificate, clientId: CERT_CLIENT, audience: ws.tokenUrl(), nowMs: Date.now() });
    expect(await postAssertion(good)).toEqual({ status: 200, codes: [] });
    expect(await postAssertion(good)).toEqual({ status: 401, codes: [50027] });
    const v1 = createClientAssertion({ certificate, clientId: CERT_CLIENT, audience: ws.tokenUrl().replace('/v2.0/', '/'), nowMs: Date.now() });
    expect(await postAssertion(v1)).toEqual({ status: 200, codes: [] });
    const elsewhere = createClientAssertion({ certificate, clientId: CERT_CLIENT, audience: `https://login.microsoftonline.com/${ws.tenantId}/oauth2/v2.0/token`, nowMs: Date.now() });
    expect(await postAssertion(elsewhere)).toEqual({ status: 401, codes: [700023] });
    const old = createClientAssertion({ certificate, clientId: CERT_CLIENT, audience: ws.tokenUrl(), nowMs: Date.now() - 3_600_000 });
    expect(await postAssertion(old)).toEqual({ status: 401, codes: [700024] });
  });

  it('caches the token: one token request for many getToken calls', async () => {
    const cred = track(
      new ClientCertificateCredential({
        ...deps,
        tenantId: ws.tenantId,
        clientId: CERT_CLIENT,
        certificate: loadClientCertificate({ certificateFile: file('agent4.pem', cert.certPem + cert.keyPem) }),
        authorityHost: ws.authority,
        scope: 'https://monitor.azure.com//.default',
      }),
    );
    await Promise.all(Array.from({ length: 20 }, () => cred.getToken(live())));
    await cred.getToken(live());
    expect(ws.requests.entries({ route: 'token' })).toHaveLength(1);
  });
});

describe('IMDS endpoint', () => {
  const imdsUrl = (): string => `${ws.url}/metadata/identity/oauth2/token`;
  const fast = { initialDelayMs: 5, maxDelayMs: 20 };

  function mi(over: Partial<ConstructorParameters<typeof ManagedIdentityCredential>[0]> = {}): ManagedIdentityCredential {
    return track(new ManagedIdentityCredential({ ...deps, resource: 'https://monitor.azure.com', endpoint: imdsUrl(), retry: fast, ...over }));
  }

  function claims(token: string): Record<string, unknown> {
    return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  }

  it('issues a system-assigned token usable for ingestion', async () => {
    const cred = mi();
    await assertIngests(cred);
    expect(claims((await cred.getToken(live())).token)).toMatchObject({ appid: SYSTEM.clientId, aud: 'https://monitor.azure.com', tid: ws.tenantId });
    expect(ws.requests.entries({ route: 'imds' })).toMatchObject([{ method: 'GET', status: 200 }]);
  });

  it.each([
    [{ clientId: UAI_1.clientId }],
    [{ objectId: UAI_1.objectId }],
    [{ resourceId: UAI_1.resourceId.toUpperCase() }],
  ])('selects a user-assigned identity by %o', async (identity) => {
    const cred = mi({ identity });
    await assertIngests(cred);
    expect(claims((await cred.getToken(live())).token)).toMatchObject({ appid: UAI_1.clientId, oid: UAI_1.objectId, xms_mirid: UAI_1.resourceId });
  });

  it('works through createCredential with the resource given with a trailing slash', async () => {
    const cred = track(createCredential(authSchema.parse({ type: 'managed_identity', clientId: UAI_2.clientId, resource: 'https://monitor.azure.com/', endpoint: imdsUrl() }), deps));
    await assertIngests(cred);
  });

  it('retries 410 and 404, then succeeds', async () => {
    ws.faults.failNext('imds', 410);
    ws.faults.failNext('imds', 404);
    const cred = mi();
    expect((await cred.getToken(live())).token).toMatch(/^ey/);
    expect(ws.requests.entries({ route: 'imds' }).map((r) => r.status)).toEqual([410, 404, 200]);
  });

  it('does not retry a 400 (identity not found)', async () => {
    const cred = mi({ identity: { clientId: '9f9f9f9f-0000-4000-8000-000000000009' } });
    const err = await rejection(cred.getToken(live()));
    expect(err).toMatchObject({ status: 400, message: 'IMDS returned HTTP 400: invalid_request: Identity not found' });
    expect(ws.requests.entries({ route: 'imds' })).toHaveLength(1);
  });

  it('answers like IMDS to a missing Metadata header, a bad api-version or resource, and several selectors', async () => {
    const get = async (query: string, headers: Record<string, string> = { metadata: 'true' }): Promise<[number, Record<string, unknown>]> => {
      const res = await fetch(`${imdsUrl()}?${query}`, { headers });
      return [res.status, (await res.json()) as Record<string, unknown>];
    };
    const ok = 'api-version=2018-02-01&resource=https%3A%2F%2Fmonitor.azure.com';
    expect(await get(ok, {})).toEqual([400, { error: 'invalid_request', error_description: 'Required metadata header not specified' }]);
    expect((await get('resource=https%3A%2F%2Fmonitor.azure.com'))[0]).toBe(400);
    expect((await get('api-version=2099-01-01&resource=https%3A%2F%2Fmonitor.azure.com'))[0]).toBe(400);
    expect(await get('api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net')).toEqual([400, expect.objectContaining({ error: 'invalid_resource', error_codes: [500011] })]);
    expect((await get(`${ok}&client_id=${UAI_1.clientId}&object_id=${UAI_1.objectId}`))[0]).toBe(400);
    const [status, body] = await get(ok);
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', resource: 'https://monitor.azure.com', client_id: SYSTEM.clientId, expires_in: '3600' });
    expect(typeof body.expires_on).toBe('string');
    expect(parseFaultRule({ match: { route: 'imds' }, action: { status: 500 } }).match.route).toBe('imds');
  });
});

describe('IMDS without a system-assigned identity', () => {
  it('uses the only user-assigned identity, and asks for a selector when there are several', async () => {
    const one = await startWorkspace({ managedIdentities: [UAI_2] });
    const two = await startWorkspace({ managedIdentities: [UAI_1, UAI_2] });
    try {
      const q = 'api-version=2018-02-01&resource=https%3A%2F%2Fmonitor.azure.com';
      const a = await fetch(`${one.ws.url}/metadata/identity/oauth2/token?${q}`, { headers: { metadata: 'true' } });
      expect(((await a.json()) as { client_id: string }).client_id).toBe(UAI_2.clientId);
      const b = await fetch(`${two.ws.url}/metadata/identity/oauth2/token?${q}`, { headers: { metadata: 'true' } });
      expect(b.status).toBe(400);
      expect(((await b.json()) as { error_description: string }).error_description).toMatch(/^Multiple user assigned identities exist/);
    } finally {
      await one.stop();
      await two.stop();
    }
  });
});

describe('Azure Arc endpoint', () => {
  const arcUrl = (): string => `${ws.url}/arc/metadata/identity/oauth2/token`;

  it('answers the challenge flow and issues a token usable for ingestion; each key works once', async () => {
    const cred = track(
      new ArcManagedIdentityCredential({ ...deps, resource: 'https://monitor.azure.com', endpoint: arcUrl(), keyDirectory: join(dir, 'arc-tokens'), platform: 'linux' }),
    );
    await assertIngests(cred);
    expect(ws.requests.entries({ route: 'imds' }).map((r) => r.status)).toEqual([401, 200]);
    expect(readdirSync(join(dir, 'arc-tokens'))).toEqual([]);

    const q = 'api-version=2020-06-01&resource=https%3A%2F%2Fmonitor.azure.com';
    const challenge = await fetch(`${arcUrl()}?${q}`, { headers: { metadata: 'true' } });
    expect(challenge.status).toBe(401);
    const realm = /^Basic realm=(.+)$/.exec(challenge.headers.get('www-authenticate') ?? '')![1]!;
    expect(realm.startsWith(join(dir, 'arc-tokens'))).toBe(true);
    expect(realm.endsWith('.key')).toBe(true);
    const key = readFileSync(realm, 'utf8');
    const first = await fetch(`${arcUrl()}?${q}`, { headers: { metadata: 'true', authorization: `Basic ${key}` } });
    expect(first.status).toBe(200);
    expect(existsSync(realm)).toBe(false);
    const again = await fetch(`${arcUrl()}?${q}`, { headers: { metadata: 'true', authorization: `Basic ${key}` } });
    expect(again.status).toBe(401);
  });

  it('is refused by the credential when the realm is outside the allowed directory', async () => {
    const allowed = join(dir, 'azcmagent-tokens');
    mkdirSync(allowed, { recursive: true });
    const cred = track(
      new ArcManagedIdentityCredential({ ...deps, resource: 'https://monitor.azure.com', endpoint: arcUrl(), keyDirectory: allowed, platform: 'linux' }),
    );
    await expect(cred.getToken(live())).rejects.toMatchObject({ code: 'OMA_ERR_AUTH', message: expect.stringMatching(/outside .*azcmagent-tokens: .*\.key; refusing to read it/) });
    expect(ws.requests.entries({ route: 'imds' }).map((r) => r.status)).toEqual([401]);
  });

  it('retries a 503 injected on the managed identity route', async () => {
    ws.faults.failNext('imds', 503);
    const cred = track(
      new ArcManagedIdentityCredential({
        ...deps,
        resource: 'https://monitor.azure.com',
        endpoint: arcUrl(),
        keyDirectory: join(dir, 'arc-tokens'),
        platform: 'linux',
        retry: { initialDelayMs: 5, maxDelayMs: 20 },
      }),
    );
    expect((await cred.getToken(live())).token).toMatch(/^ey/);
    expect(ws.requests.entries({ route: 'imds' }).map((r) => r.status)).toEqual([503, 401, 200]);
  });
});
