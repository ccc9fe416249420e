import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../ports/clock.js';
import {
  ArcManagedIdentityCredential,
  defaultArcKeyDirectory,
  parseBasicRealm,
  readArcChallengeKey,
} from './arc-managed-identity-credential.js';
import { authSchema } from './config.js';
import { createCredential } from './create-credential.js';

const T0 = 1_800_000_000_000;
const clock: Clock = { now: () => T0, sleep: () => Promise.resolve() };
const live = (): AbortSignal => new AbortController().signal;

const root = mkdtempSync(join(tmpdir(), 'oma-arc-'));
const keyDir = join(root, 'tokens');
const elsewhere = join(root, 'elsewhere');
mkdirSync(keyDir);
mkdirSync(elsewhere);
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Call {
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/**
 * An Arc agent: answers 401 with a challenge naming `realm()` (a fresh key written there by default),
 * then a token to a request carrying that key.
 */
async function arcAgent(opts: { realm?: () => string; challenge?: (realm: string) => string } = {}): Promise<{ url: string; calls: Call[] }> {
  const calls: Call[] = [];
  let key = '';
  const srv = createServer((req, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://x');
    calls.push({ query: u.searchParams, headers: req.headers });
    if (req.headers.authorization === undefined) {
      let realm: string;
      if (opts.realm) {
        realm = opts.realm();
      } else {
        key = randomBytes(16).toString('hex');
        realm = join(keyDir, `${randomBytes(4).toString('hex')}.key`);
        writeFileSync(realm, key);
      }
      res.writeHead(401, { 'www-authenticate': (opts.challenge ?? ((r) => `Basic realm=${r}`))(realm), 'content-type': 'application/json' });
      res.end('{"error":"unauthorized"}');
      return;
    }
    if (req.headers.authorization !== `Basic ${key}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"error":"invalid_client","error_description":"wrong key"}');
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ access_token: 'arc-token', expires_in: '3600', expires_on: String(T0 / 1000 + 3600), token_type: 'Bearer' }));
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/metadata/identity/oauth2/token`, calls };
}

function credential(endpoint: string): ArcManagedIdentityCredential {
  return new ArcManagedIdentityCredential({
    resource: 'https://monitor.azure.com',
    endpoint,
    keyDirectory: keyDir,
    platform: 'linux',
    clock,
    userAgent: 'OMA/test',
    requestTimeoutMs: 5_000,
  });
}

describe('ArcManagedIdentityCredential', () => {
  it('answers the Basic challenge with the key file the realm names', async () => {
    const agent = await arcAgent();
    const cred = credential(agent.url);
    expect(await cred.getToken(live())).toEqual({ token: 'arc-token', expiresAtMs: T0 + 3_600_000 });
    expect(agent.calls).toHaveLength(2);
    for (const c of agent.calls) {
      expect(Object.fromEntries(c.query)).toEqual({ 'api-version': '2020-06-01', resource: 'https://monitor.azure.com' });
      expect(c.headers.metadata).toBe('true');
    }
    expect(agent.calls[0]!.headers.authorization).toBeUndefined();
    expect(agent.calls[1]!.headers.authorization).toMatch(/^Basic [0-9a-f]{32}$/);
    await cred.getToken(live());
    expect(agent.calls).toHaveLength(2);
    await cred.close();
  });

  it('accepts a quoted realm', async () => {
    const agent = await arcAgent({ challenge: (r) => `Basic realm="${r}"` });
    const cred = credential(agent.url);
    expect((await cred.getToken(live())).token).toBe('arc-token');
    await cred.close();
  });

  it('refuses a realm outside the key directory and never sends its contents', async () => {
    const outside = join(elsewhere, 'stolen.key');
    writeFileSync(outside, 'do-not-send');
    const agent = await arcAgent({ realm: () => outside });
    const cred = credential(agent.url);
    await expect(cred.getToken(live())).rejects.toMatchObject({ code: 'OMA_ERR_AUTH', message: expect.stringMatching(/outside .*refusing to read it/) });
    expect(agent.calls).toHaveLength(1);
    await cred.close();
  });

  it('refuses a 401 without a Basic realm challenge', async () => {
    const agent = await arcAgent({ challenge: () => 'Bearer' });
    const cred = credential(agent.url);
    await expect(cred.getToken(live())).rejects.toThrow(/without a "Basic realm=<key file>" challenge/);
    await cred.close();
  });
});

describe('readArcChallengeKey', () => {
  it('reads a key file inside the directory', async () => {
    const f = join(keyDir, 'ok.key');
    writeFileSync(f, 'secret-key\n');
    expect(await readArcChallengeKey(f, keyDir, 'linux')).toBe('secret-key');
  });

  it('refuses relative paths, traversal, other extensions, symlinks that leave the directory and big files', async () => {
    writeFileSync(join(elsewhere, 'x.key'), 'k');
    await expect(readArcChallengeKey('tokens/x.key', keyDir, 'linux')).rejects.toThrow(/outside/);
    await expect(readArcChallengeKey(join(keyDir, '..', 'elsewhere', 'x.key'), keyDir, 'linux')).rejects.toThrow(/outside/);
    await expect(readArcChallengeKey(keyDir, keyDir, 'linux')).rejects.toThrow(/outside/);
    writeFileSync(join(keyDir, 'x.txt'), 'k');
    await expect(readArcChallengeKey(join(keyDir, 'x.txt'), keyDir, 'linux')).rejects.toThrow(/not a \.key file/);
    symlinkSync(join(elsewhere, 'x.key'), join(keyDir, 'link.key'));
    await expect(readArcChallengeKey(join(keyDir, 'link.key'), keyDir, 'linux')).rejects.toThrow(/resolves outside/);
    writeFileSync(join(keyDir, 'big.key'), 'k'.repeat(4097));
    await expect(readArcChallengeKey(join(keyDir, 'big.key'), keyDir, 'linux')).rejects.toThrow(/4097 bytes, more than 4096/);
    writeFileSync(join(keyDir, 'max.key'), 'k'.repeat(4096));
    expect(await readArcChallengeKey(join(keyDir, 'max.key'), keyDir, 'linux')).toHaveLength(4096);
    await expect(readArcChallengeKey(join(keyDir, 'missing.key'), keyDir, 'linux')).rejects.toThrow(/cannot read Azure Arc key file .*ENOENT/);
  });

  it('compares Windows paths without regard to case', async () => {
    const dir = 'C:\\ProgramData\\AzureConnectedMachineAgent\\Tokens';
    await expect(readArcChallengeKey('C:\\Windows\\x.key', dir, 'win32')).rejects.toThrow(/outside/);
    // Inside the directory: the check passes and the read fails (the path does not exist here).
    await expect(readArcChallengeKey('c:\\programdata\\azureconnectedmachineagent\\tokens\\a.key', dir, 'win32')).rejects.toThrow(/cannot read/);
  });
});

describe('Arc helpers and config', () => {
  it('parses Basic realm challenges', () => {
    expect(parseBasicRealm('Basic realm=/var/opt/azcmagent/tokens/a.key')).toBe('/var/opt/azcmagent/tokens/a.key');
    expect(parseBasicRealm('basic realm="C:\\ProgramData\\x.key"')).toBe('C:\\ProgramData\\x.key');
    expect(parseBasicRealm('Bearer realm=x')).toBeUndefined();
    expect(parseBasicRealm(undefined)).toBeUndefined();
    expect(parseBasicRealm('Basic realm=')).toBeUndefined();
  });

  it('knows the key directory of each platform', () => {
    expect(defaultArcKeyDirectory('linux', {})).toBe('/var/opt/azcmagent/tokens');
    expect(defaultArcKeyDirectory('win32', { ProgramData: 'D:\\PD' })).toBe('D:\\PD\\AzureConnectedMachineAgent\\Tokens');
    expect(defaultArcKeyDirectory('win32', {})).toBe('C:\\ProgramData\\AzureConnectedMachineAgent\\Tokens');
    expect(defaultArcKeyDirectory('darwin', {})).toBeUndefined();
  });

  it('takes the endpoint from IDENTITY_ENDPOINT and refuses challenges outside the platform directory', async () => {
    const agent = await arcAgent();
    const auth = authSchema.parse({ type: 'azure_arc_managed_identity', cloud: 'usgov' });
    expect(auth).toEqual({ type: 'azure_arc_managed_identity', cloud: 'usgov' });
    const cred = createCredential(auth, { clock, userAgent: 'OMA/test', requestTimeoutMs: 5_000, env: { IDENTITY_ENDPOINT: agent.url }, platform: 'linux' });
    // The test agent writes its keys into a temp dir, not /var/opt/azcmagent/tokens.
    await expect(cred.getToken(live())).rejects.toThrow(/outside \/var\/opt\/azcmagent\/tokens/);
    expect(agent.calls[0]!.query.get('resource')).toBe('https://monitor.azure.us');
    await cred.close();
    expect(authSchema.safeParse({ type: 'azure_arc_managed_identity', clientId: '11111111-0000-0000-0000-000000000001' }).success).toBe(false);
  });
});
