import { createPublicKey, verify, X509Certificate, type JsonWebKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalWorkspace, listTables, type LocalWorkspaceOptions } from '../src/index.js';
import { ingest, removeDir, syslog, tempDir } from './helpers.js';

let dir: string;
let ws: LocalWorkspace;
let agent: Agent;

const mode = (file: string): number => statSync(file).mode & 0o777;

beforeAll(async () => {
  dir = join(tempDir(), 'data');
  ws = await LocalWorkspace.start({ dataDir: dir, tls: true });
  agent = new Agent({ connect: { ca: readFileSync(ws.caFile!, 'utf8') } });
});
afterAll(async () => {
  await ws.close();
  await agent.close();
  removeDir(join(dir, '..'));
});

const get = (path: string): ReturnType<typeof undiciFetch> => undiciFetch(`${ws.url}${path}`, { dispatcher: agent });

describe('local workspace over TLS', () => {
  it('serves https with a server certificate issued by the CA it generated into <dataDir>/tls', async () => {
    expect(ws.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(ws.caFile).toBe(join(dir, 'tls', 'ca.pem'));
    expect((await get('/healthz')).status).toBe(200);
    const ca = new X509Certificate(readFileSync(ws.caFile!));
    expect(ca.ca).toBe(true);
    const server = new X509Certificate(readFileSync(join(dir, 'tls', 'server.pem')));
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(server.subjectAltName).toContain('DNS:localhost');
    // Clients that do not trust the CA are refused.
    await expect(undiciFetch(`${ws.url}/healthz`)).rejects.toThrow();
  });

  it('keeps its data directory 700 and its files 600', () => {
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'tls'))).toBe(0o700);
    for (const f of ['workspace.db', 'endpoint.json', 'query-token', 'tls/ca.pem', 'tls/ca-key.pem', 'tls/server.pem', 'tls/server-key.pem']) {
      expect([f, mode(join(dir, f))]).toEqual([f, 0o600]);
    }
  });

  it('stores what it receives and answers queries with its CA trusted', async () => {
    const token = await ws.issueToken();
    const res = await undiciFetch(ws.ingestionUrl('Custom-Syslog'), {
      method: 'POST',
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(syslog(2, { Computer: 'tls-host' })),
    });
    expect(res.status).toBe(204);
    expect(await listTables(ws)).toContainEqual({ name: 'Syslog', rowCount: 2 });
    expect(JSON.parse(readFileSync(join(dir, 'endpoint.json'), 'utf8'))).toMatchObject({ url: ws.url, caFile: ws.caFile });
  });

  it('serves OpenID discovery naming its token endpoint and a JWKS whose key verifies the tokens it issues', async () => {
    const res = await get(`/${ws.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, string>;
    expect(doc).toMatchObject({
      token_endpoint: `${ws.url}/${ws.tenantId}/oauth2/v2.0/token`,
      issuer: `${ws.url}/${ws.tenantId}/v2.0`,
      jwks_uri: `${ws.url}/${ws.tenantId}/discovery/v2.0/keys`,
      authorization_endpoint: `${ws.url}/${ws.tenantId}/oauth2/v2.0/authorize`,
    });
    const jwks = (await (await undiciFetch(doc.jwks_uri!, { dispatcher: agent })).json()) as { keys: Array<Record<string, string>> };
    const token = await ws.issueToken();
    const [h, p, s] = token.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg: string; kid: string };
    expect(header.alg).toBe('RS256');
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    expect(jwk).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'RS256' });
    expect(jwk).not.toHaveProperty('d');
    const key = createPublicKey({ key: jwk as unknown as JsonWebKey, format: 'jwk' });
    expect(verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))).toBe(true);

    const other = await get('/another-tenant/v2.0/.well-known/openid-configuration');
    expect(other.status).toBe(400);
    expect(((await other.json()) as { error_codes: number[] }).error_codes).toEqual([90002]);
  });

  it('reuses its CA and server certificate on the next start', async () => {
    const second = join(tempDir(), 'data');
    const opts: LocalWorkspaceOptions = { dataDir: second, tls: true };
    const a = await LocalWorkspace.start(opts);
    const first = readFileSync(a.caFile!, 'utf8');
    const firstServer = readFileSync(join(second, 'tls', 'server.pem'), 'utf8');
    await a.close();
    const b = await LocalWorkspace.start(opts);
    try {
      expect(readFileSync(b.caFile!, 'utf8')).toBe(first);
      expect(readFileSync(join(second, 'tls', 'server.pem'), 'utf8')).toBe(firstServer);
    } finally {
      await b.close();
      removeDir(join(second, '..'));
    }
  });

  it('still answers plain http without tls', async () => {
    const plainDir = tempDir();
    const plain = await LocalWorkspace.start({ dataDir: plainDir });
    try {
      expect(plain.url).toMatch(/^http:\/\//);
      expect(plain.caFile).toBeUndefined();
      expect((await ingest(plain, 'Custom-Syslog', syslog(1))).status).toBe(204);
    } finally {
      await plain.close();
      removeDir(plainDir);
    }
  });
});
