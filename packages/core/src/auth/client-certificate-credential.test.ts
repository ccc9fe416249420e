import { constants, verify, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../testing/fake-clock.js';
import { createSelfSignedCert, createTestCa, toPfx, type TestCert } from '../testing/certs.js';
import { ClientCertificateCredential } from './client-certificate-credential.js';
import { loadClientCertificate } from './client-certificate.js';
import { authSchema } from './config.js';
import { createCredential } from './create-credential.js';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const NOW = Math.floor(Date.now() / 1000) * 1000;

interface Call {
  path: string;
  form: URLSearchParams;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});
const dir = mkdtempSync(join(tmpdir(), 'oma-certcred-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function tokenServer(handler: (call: Call, res: ServerResponse) => void): Promise<{ url: string; calls: Call[] }> {
  const calls: Call[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const call = { path: req.url ?? '', form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')) };
      calls.push(call);
      handler(call, res);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

const okToken = (_: Call, res: ServerResponse): void => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3599, access_token: 'cert-token' }));
};

/** Decodes and checks an assertion on its own terms (node:crypto), not with the code under test. */
function decodeAssertion(jwt: string, cert: TestCert): { header: Record<string, unknown>; claims: Record<string, unknown>; rs256: boolean; ps256: boolean } {
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const key = new X509Certificate(cert.certPem).publicKey;
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>,
    rs256: verify('sha256', data, key, sig),
    ps256: verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig),
  };
}

const live = (): AbortSignal => new AbortController().signal;
const cert = createSelfSignedCert({ commonName: 'oma-agent' });

function credential(url: string, over: Partial<ConstructorParameters<typeof ClientCertificateCredential>[0]> = {}): ClientCertificateCredential {
  return new ClientCertificateCredential({
    tenantId: TENANT,
    clientId: CLIENT,
    certificate: loadClientCertificate({ certificateFile: writeFile('c.pem', cert.certPem + cert.keyPem) }),
    authorityHost: `${url}/`,
    scope: 'https://monitor.azure.com//.default',
    clock: new FakeClock(NOW),
    userAgent: 'OMA/test',
    requestTimeoutMs: 5_000,
    ...over,
  });
}

function writeFile(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe('ClientCertificateCredential', () => {
  it('sends an RS256 assertion with x5t, signed by the certificate key, in the client-credentials form', async () => {
    const srv = await tokenServer(okToken);
    const cred = credential(srv.url);
    expect(await cred.getToken(live())).toEqual({ token: 'cert-token', expiresAtMs: NOW + 3_599_000 });
    const call = srv.calls[0]!;
    expect(call.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
    const form = Object.fromEntries(call.form);
    expect(form).toMatchObject({
      grant_type: 'client_credentials',
      client_id: CLIENT,
      scope: 'https://monitor.azure.com//.default',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    });
    expect(form).not.toHaveProperty('client_secret');
    const a = decodeAssertion(form.client_assertion!, cert);
    expect(a.header).toEqual({ alg: 'RS256', typ: 'JWT', x5t: cert.x5t });
    expect(a.rs256).toBe(true);
    const now = NOW / 1000;
    expect(a.claims).toEqual({
      aud: `${srv.url}/${TENANT}/oauth2/v2.0/token`,
      iss: CLIENT,
      sub: CLIENT,
      jti: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      nbf: now,
      iat: now,
      exp: now + 600,
    });
    await cred.close();
  });

  it('sends a PS256 assertion with x5t#S256 when asked, and x5c with the chain', async () => {
    const srv = await tokenServer(okToken);
    const ca = createTestCa();
    const leaf = ca.issue({ commonName: 'oma-leaf', usage: 'client' });
    const certificate = loadClientCertificate({ certificateFile: writeFile('chain.pem', leaf.certPem + leaf.keyPem + ca.certPem) });
    const cred = credential(srv.url, { certificate, algorithm: 'PS256', sendCertificateChain: true });
    await cred.getToken(live());
    const a = decodeAssertion(srv.calls[0]!.form.get('client_assertion')!, leaf);
    expect(a.header).toEqual({ alg: 'PS256', typ: 'JWT', 'x5t#S256': leaf.x5tS256, x5c: [leaf.der.toString('base64'), ca.der.toString('base64')] });
    expect(a.ps256).toBe(true);
    expect(a.rs256).toBe(false);
    await cred.close();
  });

  it('signs a fresh assertion for every token request and caches the token in between', async () => {
    const srv = await tokenServer(okToken);
    const cred = credential(srv.url);
    await Promise.all([cred.getToken(live()), cred.getToken(live()), cred.getToken(live())]);
    expect(srv.calls).toHaveLength(1);
    cred.invalidate();
    await cred.getToken(live());
    expect(srv.calls).toHaveLength(2);
    const [a, b] = srv.calls.map((c) => decodeAssertion(c.form.get('client_assertion')!, cert).claims.jti);
    expect(a).not.toBe(b);
    await cred.close();
  });

  it('surfaces the AADSTS error of a rejected assertion', async () => {
    const srv = await tokenServer((_, res) => {
      res.statusCode = 401;
      res.end(
        JSON.stringify({
          error: 'invalid_client',
          error_description: 'AADSTS700027: Client assertion failed signature validation.\r\nTrace ID: x',
          error_codes: [700027],
        }),
      );
    });
    const cred = credential(srv.url);
    await expect(cred.getToken(live())).rejects.toMatchObject({
      code: 'OMA_ERR_AUTH',
      status: 401,
      aadstsCodes: [700027],
      message: 'token endpoint returned HTTP 401: invalid_client: AADSTS700027: Client assertion failed signature validation.',
    });
    await cred.close();
  });
});

describe('createCredential (client_certificate)', () => {
  function capture(): { log: pino.Logger; lines: () => Array<Record<string, unknown>> } {
    const out: string[] = [];
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          out.push(chunk.toString('utf8'));
          cb();
        },
      }),
    );
    return { log, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
  }

  it('loads a PFX with a passphrase from the environment and uses the cloud authority and scope', async () => {
    const srv = await tokenServer(okToken);
    process.env.OMA_TEST_PFX_PASS = 'pfx-pass';
    const auth = authSchema.parse({
      type: 'client_certificate',
      tenantId: TENANT,
      clientId: CLIENT,
      certificateFile: writeFile('agent.pfx', toPfx(cert, 'pfx-pass', '3des')),
      passphrase: { env: 'OMA_TEST_PFX_PASS' },
      cloud: 'china',
      authorityHost: srv.url,
    });
    const { log, lines } = capture();
    const cred = createCredential(auth, { clock: new FakeClock(NOW), userAgent: 'OMA/test', requestTimeoutMs: 5_000, log });
    expect((await cred.getToken(live())).token).toBe('cert-token');
    expect(srv.calls[0]!.form.get('scope')).toBe('https://monitor.azure.cn//.default');
    expect(decodeAssertion(srv.calls[0]!.form.get('client_assertion')!, cert).header.alg).toBe('RS256');
    expect(lines()).toEqual([]);
    await cred.close();
  });

  it('warns when the certificate expires within 30 days and refuses an expired one', () => {
    const soon = createSelfSignedCert({ commonName: 'soon', notAfter: new Date(NOW + 10 * 86_400_000 + 3_600_000) });
    const auth = authSchema.parse({ type: 'client_certificate', tenantId: TENANT, clientId: CLIENT, certificateFile: writeFile('soon.pem', soon.certPem + soon.keyPem) });
    const { log, lines } = capture();
    createCredential(auth, { clock: new FakeClock(NOW), userAgent: 'OMA/test', requestTimeoutMs: 5_000, log });
    expect(lines()).toEqual([expect.objectContaining({ level: 40, days: 10, msg: expect.stringContaining('expires within 30 days') })]);
    let err: unknown;
    try {
      createCredential(auth, { clock: new FakeClock(NOW + 11 * 86_400_000), userAgent: 'OMA/test', requestTimeoutMs: 5_000 });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'OMA_ERR_CONFIG_INVALID', message: expect.stringMatching(/expired on/) });
  });

  it('validates the certificate config, loading the certificate when the config is parsed', () => {
    const cert = createSelfSignedCert({ commonName: 'oma-schema' });
    const file = join(dir, 'schema.pem');
    writeFileSync(file, `${cert.certPem}${cert.keyPem}`);
    const base = { type: 'client_certificate', tenantId: TENANT, clientId: CLIENT, certificateFile: file };
    expect(authSchema.parse(base)).toMatchObject({ signatureAlgorithm: 'RS256', sendCertificateChain: false, cloud: 'public' });
    expect(authSchema.parse({ ...base, signatureAlgorithm: 'PS256' })).toMatchObject({ signatureAlgorithm: 'PS256' });
    expect(authSchema.safeParse({ ...base, signatureAlgorithm: 'ES256' }).success).toBe(false);
    expect(authSchema.safeParse({ ...base, certificateFile: '' }).success).toBe(false);
    expect(authSchema.safeParse({ ...base, clientSecret: 'x' }).success).toBe(false);
    // A missing file, or a key of another certificate, is an issue at its option (oma validate shows it).
    const missing = authSchema.safeParse({ ...base, certificateFile: join(dir, 'absent.pem') });
    expect(missing.success).toBe(false);
    expect(missing.error?.issues[0]).toMatchObject({ path: ['certificateFile'], message: expect.stringContaining('absent.pem') });
    const otherKey = join(dir, 'other.key');
    writeFileSync(otherKey, createSelfSignedCert({ commonName: 'other' }).keyPem);
    const certOnly = join(dir, 'schema.crt');
    writeFileSync(certOnly, cert.certPem);
    const mismatch = authSchema.safeParse({ ...base, certificateFile: certOnly, keyFile: otherKey });
    expect(mismatch.success).toBe(false);
    expect(mismatch.error?.issues.map((i) => i.path.join('.'))).toContain('keyFile');
  });
});
