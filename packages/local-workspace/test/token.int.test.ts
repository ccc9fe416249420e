import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalWorkspace } from '../src/index.js';
import { getToken, ingest, startWorkspace, syslog } from './helpers.js';

let ws: LocalWorkspace;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ ws, stop } = await startWorkspace({
    tenantId: '11111111-2222-3333-4444-555555555555',
    clients: [{ clientId: 'app-1', clientSecret: 's3cret' }],
    tokenLifetimeSec: 1800,
  }));
});
afterAll(async () => {
  await stop();
});

interface EntraError {
  error: string;
  error_description: string;
  error_codes: number[];
}

describe('token endpoint', () => {
  it('issues a JWT-shaped bearer token for the right secret, usable for ingestion', async () => {
    const res = await getToken(ws);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 1800, ext_expires_in: 1800 });
    const parts = String(body.access_token).split('.');
    expect(parts).toHaveLength(3);
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, number | string>;
    expect(header).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(claims).toMatchObject({ aud: 'https://monitor.azure.com', appid: 'app-1', tid: ws.tenantId, iss: `https://sts.windows.net/${ws.tenantId}/` });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(1800);
    expect(claims.nbf).toBe(claims.iat);
    expect((await ingest(ws, 'Custom-Syslog', syslog(1), { token: String(body.access_token) })).status).toBe(204);
    expect(ws.requests.entries({ route: 'token' }).at(-1)).toMatchObject({ status: 200, route: 'token' });
  });

  it('accepts the single-slash scope too', async () => {
    expect((await getToken(ws, { scope: 'https://monitor.azure.com/.default' })).status).toBe(200);
  });

  it('answers 401 invalid_client for a wrong secret', async () => {
    const res = await getToken(ws, { client_secret: 'wrong' });
    expect(res.status).toBe(401);
    const body = (await res.json()) as EntraError;
    expect(body.error).toBe('invalid_client');
    expect(body.error_description).toMatch(/^AADSTS7000215: Invalid client secret provided\./);
    expect(body.error_codes).toEqual([7000215]);
  });

  it('rejects an unknown client, a missing secret, a bad grant, a bad scope and a wrong tenant', async () => {
    const unknown = await getToken(ws, { client_id: 'nobody' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as EntraError).error_codes).toEqual([700016]);

    const noSecret = await getToken(ws, { client_secret: '' });
    expect(noSecret.status).toBe(401);
    expect(((await noSecret.json()) as EntraError).error).toBe('invalid_client');

    const grant = await getToken(ws, { grant_type: 'password' });
    expect(grant.status).toBe(400);
    expect(((await grant.json()) as EntraError).error).toBe('unsupported_grant_type');

    const scope = await getToken(ws, { scope: 'openid' });
    expect(scope.status).toBe(400);
    expect(((await scope.json()) as EntraError).error).toBe('invalid_scope');

    const otherResource = await getToken(ws, { scope: 'https://management.azure.com/.default' });
    expect(otherResource.status).toBe(400);
    expect(((await otherResource.json()) as EntraError).error).toBe('invalid_resource');

    const tenant = await fetch(ws.tokenUrl('other-tenant'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=app-1&client_secret=s3cret&scope=https%3A%2F%2Fmonitor.azure.com%2F%2F.default',
    });
    expect(tenant.status).toBe(400);
    expect(((await tenant.json()) as EntraError).error_description).toMatch(/^AADSTS90002:/);
  });

  it('rejects a body that is not a form and a GET', async () => {
    const json = await fetch(ws.tokenUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(400);
    expect(((await json.json()) as EntraError).error).toBe('invalid_request');
    const get = await fetch(ws.tokenUrl());
    expect(get.status).toBe(405);
  });
});
