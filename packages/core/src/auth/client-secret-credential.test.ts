import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../config/secret.js';
import { FakeClock } from '../testing/fake-clock.js';
import { ClientSecretCredential } from './client-secret-credential.js';
import { createCredential } from './create-credential.js';
import { authSchema } from './config.js';
import { CLOUDS } from './clouds.js';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const SECRET = 'very-secret-value~123';

interface TokenCall {
  path: string;
  form: URLSearchParams;
  contentType: string | undefined;
}

type Handler = (call: TokenCall, res: ServerResponse) => void;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function tokenServer(handler: Handler): Promise<{ url: string; calls: TokenCall[] }> {
  const calls: TokenCall[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const call = { path: req.url ?? '', form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')), contentType: req.headers['content-type'] };
      calls.push(call);
      handler(call, res);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

function credential(authorityHost: string, clock = new FakeClock(0)): ClientSecretCredential {
  return new ClientSecretCredential({
    tenantId: TENANT,
    clientId: CLIENT,
    clientSecret: new Secret(SECRET, 'test'),
    authorityHost,
    scope: CLOUDS.public.logsIngestionScope,
    clock,
    userAgent: 'OMA/test',
    requestTimeoutMs: 5_000,
  });
}

const live = (): AbortSignal => new AbortController().signal;

describe('ClientSecretCredential', () => {
  it('posts the client-credentials form to {authority}/{tenant}/oauth2/v2.0/token', async () => {
    const srv = await tokenServer((_, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'eyJ0' }));
    });
    const clock = new FakeClock(1_000_000);
    const cred = credential(`${srv.url}/`, clock);
    const token = await cred.getToken(live());
    expect(token).toEqual({ token: 'eyJ0', expiresAtMs: 1_000_000 + 3_599_000 });
    expect(srv.calls).toHaveLength(1);
    const call = srv.calls[0]!;
    expect(call.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
    expect(call.contentType).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(call.form)).toEqual({
      grant_type: 'client_credentials',
      client_id: CLIENT,
      client_secret: SECRET,
      scope: 'https://monitor.azure.com//.default',
    });
    await cred.getToken(live());
    expect(srv.calls).toHaveLength(1);
    await cred.close();
  });

  it('accepts expires_in as a numeric string', async () => {
    const srv = await tokenServer((_, res) => res.end(JSON.stringify({ access_token: 'x', expires_in: '600' })));
    const cred = credential(srv.url);
    expect((await cred.getToken(live())).expiresAtMs).toBe(600_000);
    await cred.close();
  });

  it('reports the AADSTS error text, never the secret', async () => {
    const srv = await tokenServer((_, res) => {
      res.statusCode = 401;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          error: 'invalid_client',
          error_description: `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: abc\r\nCorrelation ID: def`,
          error_codes: [7000215],
        }),
      );
    });
    const cred = credential(srv.url);
    const err = await cred.getToken(live()).then(
      () => undefined,
      (e: unknown) => e as Error & { code: string; status: number; aadstsCodes: number[] },
    );
    expect(err?.code).toBe('OMA_ERR_AUTH');
    expect(err?.status).toBe(401);
    expect(err?.aadstsCodes).toEqual([7000215]);
    expect(err?.message).toContain('invalid_client: AADSTS7000215: Invalid client secret provided');
    expect(err?.message).not.toContain('Trace ID');
    expect(JSON.stringify(err) + String(err?.message) + String(err?.stack)).not.toContain(SECRET);
    await cred.close();
  });

  it('carries the Retry-After of a throttled token request', async () => {
    const srv = await tokenServer((_, res) => {
      res.statusCode = 429;
      res.setHeader('retry-after', '7');
      res.end('slow down');
    });
    const cred = credential(srv.url);
    await expect(cred.getToken(live())).rejects.toMatchObject({ code: 'OMA_ERR_AUTH', status: 429, retryAfterMs: 7000 });
    await cred.close();
  });

  it('rejects a response without a token', async () => {
    const srv = await tokenServer((_, res) => res.end(JSON.stringify({ expires_in: 3600 })));
    const cred = credential(srv.url);
    await expect(cred.getToken(live())).rejects.toThrow(/lacks access_token/);
    await cred.close();
  });

  it('wraps network failures in an AuthError', async () => {
    const srv = await tokenServer(() => undefined);
    const url = srv.url;
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    const cred = credential(url);
    const err = (await cred.getToken(live()).catch((e: unknown) => e)) as Error & { code: string; cause: { code?: string } };
    expect(err.code).toBe('OMA_ERR_AUTH');
    expect(err.cause.code).toBe('ECONNREFUSED');
    await cred.close();
  });
});

describe('createCredential', () => {
  it('uses the cloud authority and scope unless overridden', async () => {
    const srv = await tokenServer((_, res) => res.end(JSON.stringify({ access_token: 'gov', expires_in: 3600 })));
    const auth = authSchema.parse({
      type: 'client_secret',
      tenantId: 'contoso.onmicrosoft.us',
      clientId: CLIENT,
      clientSecret: SECRET,
      cloud: 'usgov',
      authorityHost: srv.url,
    });
    const cred = createCredential(auth, { clock: new FakeClock(0), userAgent: 'OMA/test', requestTimeoutMs: 5_000 });
    expect((await cred.getToken(live())).token).toBe('gov');
    expect(srv.calls[0]!.path).toBe('/contoso.onmicrosoft.us/oauth2/v2.0/token');
    expect(srv.calls[0]!.form.get('scope')).toBe('https://monitor.azure.us//.default');
    await cred.close();
  });

  it('validates the auth config', () => {
    const base = { type: 'client_secret', tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET };
    expect(authSchema.parse(base)).toMatchObject({ cloud: 'public' });
    expect(authSchema.safeParse({ ...base, clientId: 'not-a-guid' }).success).toBe(false);
    expect(authSchema.safeParse({ ...base, tenantId: 'bad tenant' }).success).toBe(false);
    expect(authSchema.safeParse({ ...base, cloud: 'mars' }).success).toBe(false);
    expect(authSchema.safeParse({ ...base, extra: 1 }).success).toBe(false);
    expect(authSchema.safeParse({ ...base, type: 'managed_identity' }).success).toBe(false);
    expect(authSchema.safeParse({ ...base, authorityHost: 'ftp://x' }).success).toBe(false);
  });
});
