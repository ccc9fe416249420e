import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../ports/clock.js';
import { authSchema } from './config.js';
import { createCredential } from './create-credential.js';
import { IMDS_TOKEN_ENDPOINT, ManagedIdentityCredential } from './managed-identity-credential.js';

const T0 = 1_800_000_000_000;

/** A clock whose sleeps return at once and move time forward, recording each delay. */
class SteppingClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(private t = T0) {}
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.sleeps.push(ms);
    this.t += ms;
    return Promise.resolve();
  }
}

interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise((r) => s.close(r));
    }),
  );
});

async function server(handler: (call: Call, res: ServerResponse, n: number) => void): Promise<{ url: string; calls: Call[] }> {
  const calls: Call[] = [];
  const srv = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const call = { method: req.method ?? '', path: u.pathname, query: u.searchParams, headers: req.headers };
    calls.push(call);
    req.resume();
    req.on('end', () => handler(call, res, calls.length));
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, calls };
}

/** An IMDS-shaped success: every number is a string. */
function imdsToken(res: ServerResponse, token = 'mi-token', expiresIn = 86_399, nowSec = T0 / 1000): void {
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify({
      access_token: token,
      client_id: 'x',
      expires_in: String(expiresIn),
      expires_on: String(nowSec + expiresIn),
      ext_expires_in: String(expiresIn),
      not_before: String(nowSec),
      resource: 'https://monitor.azure.com',
      token_type: 'Bearer',
    }),
  );
}

function fail(res: ServerResponse, status: number, headers: Record<string, string> = {}, body = { error: 'unknown', error_description: `status ${status}` }): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const live = (): AbortSignal => new AbortController().signal;
const PATH = '/metadata/identity/oauth2/token';

function credential(url: string, clock: Clock, over: Partial<ConstructorParameters<typeof ManagedIdentityCredential>[0]> = {}): ManagedIdentityCredential {
  return new ManagedIdentityCredential({
    resource: 'https://monitor.azure.com',
    endpoint: `${url}${PATH}`,
    clock,
    userAgent: 'OMA/test',
    requestTimeoutMs: 5_000,
    random: () => 1,
    ...over,
  });
}

describe('ManagedIdentityCredential', () => {
  it('defaults to the IMDS address', () => {
    expect(IMDS_TOKEN_ENDPOINT).toBe('http://169.254.169.254/metadata/identity/oauth2/token');
  });

  it('GETs a system-assigned token with Metadata: true and reads the string numbers', async () => {
    const srv = await server((_, res) => imdsToken(res));
    const clock = new SteppingClock();
    const cred = credential(srv.url, clock);
    expect(await cred.getToken(live())).toEqual({ token: 'mi-token', expiresAtMs: T0 + 86_399_000 });
    const call = srv.calls[0]!;
    expect(call.method).toBe('GET');
    expect(call.path).toBe(PATH);
    expect(Object.fromEntries(call.query)).toEqual({ 'api-version': '2018-02-01', resource: 'https://monitor.azure.com' });
    expect(call.headers.metadata).toBe('true');
    expect(call.headers['user-agent']).toBe('OMA/test');
    await cred.close();
  });

  it.each([
    [{ clientId: '11111111-0000-0000-0000-000000000001' }, 'client_id'],
    [{ objectId: '22222222-0000-0000-0000-000000000002' }, 'object_id'],
    [{ resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/oma' }, 'msi_res_id'],
  ] as const)('selects a user-assigned identity %o as %s', async (identity, param) => {
    const srv = await server((_, res) => imdsToken(res));
    const cred = credential(srv.url, new SteppingClock(), { identity });
    await cred.getToken(live());
    expect(srv.calls[0]!.query.get(param)).toBe(Object.values(identity)[0]);
    expect([...srv.calls[0]!.query.keys()].sort()).toEqual(['api-version', param, 'resource'].sort());
    await cred.close();
  });

  it('uses expires_on when expires_in is missing', async () => {
    const srv = await server((_, res) => res.end(JSON.stringify({ access_token: 't', expires_on: String(T0 / 1000 + 600) })));
    const cred = credential(srv.url, new SteppingClock());
    expect((await cred.getToken(live())).expiresAtMs).toBe(T0 + 600_000);
    await cred.close();
  });

  it('retries 410 (IMDS updating) and 404 (identity not there yet) with exponential backoff', async () => {
    const srv = await server((_, res, n) => (n === 1 ? fail(res, 410) : n === 2 ? fail(res, 404) : imdsToken(res)));
    const clock = new SteppingClock();
    const cred = credential(srv.url, clock);
    expect((await cred.getToken(live())).token).toBe('mi-token');
    expect(srv.calls).toHaveLength(3);
    expect(clock.sleeps).toEqual([1_000, 2_000]);
    await cred.close();
  });

  it('honours Retry-After of a 429 when it is longer than the backoff', async () => {
    const srv = await server((_, res, n) => (n === 1 ? fail(res, 429, { 'retry-after': '7' }) : imdsToken(res)));
    const clock = new SteppingClock();
    const cred = credential(srv.url, clock);
    await cred.getToken(live());
    expect(clock.sleeps).toEqual([7_000]);
    await cred.close();
  });

  it('does not retry a 400 and reports the IMDS error', async () => {
    const srv = await server((_, res) => fail(res, 400, {}, { error: 'invalid_request', error_description: 'Identity not found' }));
    const clock = new SteppingClock();
    const cred = credential(srv.url, clock);
    await expect(cred.getToken(live())).rejects.toMatchObject({
      code: 'OMA_ERR_AUTH',
      status: 400,
      message: 'IMDS returned HTTP 400: invalid_request: Identity not found',
    });
    expect(srv.calls).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
    await cred.close();
  });

  it('gives up on 5xx after 5 retries (1, 2, 4, 8, 16 s)', async () => {
    const srv = await server((_, res) => fail(res, 500));
    const clock = new SteppingClock();
    const cred = credential(srv.url, clock);
    await expect(cred.getToken(live())).rejects.toMatchObject({ status: 500, message: expect.stringMatching(/gave up after 6 attempts/) });
    expect(clock.sleeps).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    await cred.close();
  });

  it('keeps retrying 410 for about 70 s, then gives up', async () => {
    const srv = await server((_, res) => fail(res, 410));
    const clock = new SteppingClock();
    const cred = credential(srv.url, clock);
    await expect(cred.getToken(live())).rejects.toMatchObject({ status: 410 });
    expect(clock.sleeps).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 16_000, 16_000]);
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(70_000);
    await cred.close();
  });

  it('applies jitter to the backoff', async () => {
    const srv = await server((_, res, n) => (n < 3 ? fail(res, 503) : imdsToken(res)));
    const clock = new SteppingClock();
    const cred = credential(srv.url, clock, { random: () => 0 });
    await cred.getToken(live());
    expect(clock.sleeps).toEqual([500, 1_000]);
    await cred.close();
  });

  it('shares one request between concurrent callers and caches the token', async () => {
    const srv = await server((_, res) => setTimeout(() => imdsToken(res), 20));
    const cred = credential(srv.url, new SteppingClock());
    const tokens = await Promise.all(Array.from({ length: 10 }, () => cred.getToken(live())));
    expect(new Set(tokens.map((t) => t.token))).toEqual(new Set(['mi-token']));
    await cred.getToken(live());
    expect(srv.calls).toHaveLength(1);
    await cred.close();
  });

  it('never goes through the configured proxy', async () => {
    const proxy = await server((_, res) => fail(res, 502));
    const imds = await server((_, res) => imdsToken(res));
    const port = Number(new URL(proxy.url).port);
    const auth = authSchema.parse({ type: 'managed_identity', endpoint: `${imds.url}${PATH}` });
    const cred = createCredential(auth, {
      clock: new SteppingClock(),
      userAgent: 'OMA/test',
      requestTimeoutMs: 5_000,
      egress: { proxy: { protocol: 'http:', host: '127.0.0.1', port }, noProxy: [], tls: {} },
    });
    expect((await cred.getToken(live())).token).toBe('mi-token');
    expect(imds.calls).toHaveLength(1);
    expect(proxy.calls).toHaveLength(0);
    await cred.close();
  });

  it('wraps an unreachable endpoint in an AuthError', async () => {
    const srv = await server(() => undefined);
    const url = srv.url;
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    const cred = credential(url, new SteppingClock());
    await expect(cred.getToken(live())).rejects.toMatchObject({ code: 'OMA_ERR_AUTH', message: expect.stringMatching(/^IMDS token request to 127\.0\.0\.1:\d+ failed$/) });
    await cred.close();
  });
});

describe('managed identity config', () => {
  it('uses the resource of the cloud unless overridden', async () => {
    const srv = await server((_, res) => imdsToken(res));
    for (const [cloud, resource] of [
      ['usgov', 'https://monitor.azure.us'],
      ['china', 'https://monitor.azure.cn'],
    ] as const) {
      const cred = createCredential(authSchema.parse({ type: 'managed_identity', cloud, endpoint: `${srv.url}${PATH}` }), {
        clock: new SteppingClock(),
        userAgent: 'OMA/test',
        requestTimeoutMs: 5_000,
      });
      await cred.getToken(live());
      expect(srv.calls.at(-1)!.query.get('resource')).toBe(resource);
      await cred.close();
    }
    const custom = createCredential(
      authSchema.parse({ type: 'managed_identity', resource: 'https://monitor.azure.com/', objectId: '22222222-0000-0000-0000-000000000002', endpoint: `${srv.url}${PATH}` }),
      { clock: new SteppingClock(), userAgent: 'OMA/test', requestTimeoutMs: 5_000 },
    );
    await custom.getToken(live());
    expect(Object.fromEntries(srv.calls.at(-1)!.query)).toMatchObject({ resource: 'https://monitor.azure.com/', object_id: '22222222-0000-0000-0000-000000000002' });
    await custom.close();
  });

  it('accepts at most one user-assigned selector', () => {
    const id = '11111111-0000-0000-0000-000000000001';
    expect(authSchema.parse({ type: 'managed_identity' })).toEqual({ type: 'managed_identity', cloud: 'public' });
    expect(authSchema.safeParse({ type: 'managed_identity', clientId: id }).success).toBe(true);
    const both = authSchema.safeParse({ type: 'managed_identity', clientId: id, objectId: id });
    expect(both.success).toBe(false);
    expect(both.error?.issues[0]).toMatchObject({ path: ['objectId'], message: expect.stringContaining('at most one') });
    expect(authSchema.safeParse({ type: 'managed_identity', clientId: 'nope' }).success).toBe(false);
    expect(authSchema.safeParse({ type: 'managed_identity', resourceId: '/subscriptions/x' }).success).toBe(false);
    expect(authSchema.safeParse({ type: 'managed_identity', tenantId: 'contoso.com' }).success).toBe(false);
    expect(authSchema.safeParse({ type: 'managed_identity', endpoint: 'http://169.254.169.254/metadata/identity/oauth2/token' }).success).toBe(true);
  });
});
