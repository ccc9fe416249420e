import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { inspect } from 'node:util';
import { Pool, ProxyAgent, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { zodIssues } from '../config/issues.js';
import { createTestCa, toPfx, type TestCert } from '../testing/certs.js';
import { TestConnectProxy } from '../testing/connect-proxy.js';
import { readBodyText } from './body.js';
import { createDispatcher } from './dispatcher.js';
import { egressOptionsShape, resolveEgress } from './egress-config.js';
import { describeEgressError } from './egress-error.js';
import type { Egress } from './egress.js';

const PASSWORD = 'p@ss:w/rd#1';
const egressSchema = z.strictObject(egressOptionsShape);

const dir = mkdtempSync(join(tmpdir(), 'oma-egress-'));
const ca = createTestCa('OMA Egress Test CA');
const otherCa = createTestCa('Some Other CA');
const clientCa = createTestCa('OMA Client CA');
let serverCert: TestCert;
let clientCert: TestCert;
const files: Record<string, string> = {};

beforeAll(() => {
  serverCert = ca.issue({ commonName: '127.0.0.1', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'], usage: 'server' });
  clientCert = clientCa.issue({ commonName: 'oma-agent', usage: 'client' });
  const write = (name: string, data: string | Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, data);
    return path;
  };
  files.ca = write('ca.pem', ca.certPem);
  files.otherCa = write('other-ca.pem', otherCa.certPem);
  files.clientCert = write('client.pem', clientCert.certPem);
  files.clientKey = write('client.key', clientCert.keyPem);
  files.clientPfx = write('client.pfx', toPfx(clientCert, 'pfx-pass'));
  files.notPem = write('not.pem', 'hello\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An HTTPS server on 127.0.0.1 that answers every request with its TLS version and client CN. */
async function startServer(opts: ServerOptions = {}): Promise<{ origin: string; port: number; requests: number }> {
  const state = { origin: '', port: 0, requests: 0 };
  const server: Server = createServer({ cert: serverCert.certPem, key: serverCert.keyPem, ...opts }, (req, res) => {
    state.requests++;
    const socket = req.socket as TLSSocket;
    const peer = socket.getPeerCertificate();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url, protocol: socket.getProtocol(), client: peer?.subject?.CN ?? null }));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.origin = `https://127.0.0.1:${state.port}`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return state;
}

async function startProxy(opts: Parameters<typeof TestConnectProxy.start>[0] = {}): Promise<TestConnectProxy> {
  const proxy = await TestConnectProxy.start(opts);
  cleanups.push(() => proxy.close());
  return proxy;
}

function egressFrom(input: unknown): Egress {
  return resolveEgress(egressSchema.parse(input));
}

function dispatcherFor(origin: string, egress: Egress): Dispatcher {
  const d = createDispatcher(origin, { connections: 1, headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000, connectTimeoutMs: 5_000, egress });
  cleanups.push(() => d.destroy());
  return d;
}

async function get(origin: string, egress: Egress, path = '/hello'): Promise<{ path: string; protocol: string; client: string | null }> {
  const res = await dispatcherFor(origin, egress).request({ origin, path, method: 'GET' });
  const text = await readBodyText(res.body);
  expect(res.statusCode).toBe(200);
  return JSON.parse(text) as { path: string; protocol: string; client: string | null };
}

async function failure(origin: string, egress: Egress): Promise<unknown> {
  try {
    await get(origin, egress);
  } catch (err) {
    return err;
  }
  throw new Error('the request succeeded');
}

describe('createDispatcher through a proxy', () => {
  it('tunnels through the proxy with Basic credentials whose password has raw special characters', async () => {
    const server = await startServer();
    const proxy = await startProxy({ auth: { username: 'oma', password: PASSWORD } });
    const egress = egressFrom({ proxy: `http://oma:${PASSWORD}@127.0.0.1:${proxy.port}`, tls: { caFile: files.ca } });
    expect(dispatcherFor(server.origin, egress)).toBeInstanceOf(ProxyAgent);

    const body = await get(server.origin, egress);
    expect(body).toMatchObject({ path: '/hello', protocol: 'TLSv1.3' });
    expect(proxy.connects).toEqual([
      expect.objectContaining({ target: `127.0.0.1:${server.port}`, status: 200, credentials: { username: 'oma', password: PASSWORD } }),
    ]);
  });

  it('takes the credentials as separate username and password options', async () => {
    const server = await startServer();
    const proxy = await startProxy({ auth: { username: 'oma', password: PASSWORD } });
    const egress = egressFrom({ proxy: { url: proxy.url, username: 'oma', password: PASSWORD }, tls: { caFile: files.ca } });
    await get(server.origin, egress);
    expect(proxy.tunnels).toEqual([`127.0.0.1:${server.port}`]);
  });

  it('reads the proxy from an OMS proxy.conf file', async () => {
    const server = await startServer();
    const proxy = await startProxy({ auth: { username: 'oma', password: PASSWORD } });
    const conf = join(dir, 'proxy.conf');
    writeFileSync(conf, `oma:${encodeURIComponent(PASSWORD)}@127.0.0.1:${proxy.port}\n`);
    await get(server.origin, egressFrom({ proxy: { file: conf }, tls: { caFile: files.ca } }));
    expect(proxy.connects[0]?.credentials).toEqual({ username: 'oma', password: PASSWORD });
  });

  it('turns a 407 into a clear error without the password', async () => {
    const server = await startServer();
    const proxy = await startProxy({ auth: { username: 'oma', password: PASSWORD } });
    const wrong = 'wr0ng:p@ss/word';
    const egress = egressFrom({ proxy: { url: proxy.url, username: 'oma', password: wrong }, tls: { caFile: files.ca } });
    const err = await failure(server.origin, egress);
    expect(proxy.connects.map((c) => c.status)).toContain(407);
    expect(server.requests).toBe(0);
    const message = describeEgressError(err, egress, server.origin);
    expect(message).toBe(
      `proxy authentication failed (407) at http://oma:***@127.0.0.1:${proxy.port}: check the proxy user and password`,
    );
    expect(inspect(err, { depth: 10 })).not.toContain(wrong);
    expect(inspect(egress, { depth: 10 })).not.toContain(wrong);
  });

  it('says when the proxy wants credentials and has none', async () => {
    const server = await startServer();
    const proxy = await startProxy({ auth: { username: 'oma', password: PASSWORD } });
    const egress = egressFrom({ proxy: proxy.url, tls: { caFile: files.ca } });
    const err = await failure(server.origin, egress);
    expect(describeEgressError(err, egress, server.origin)).toMatch(/\(407\) at http:\/\/127\.0\.0\.1:\d+: the proxy requires a user and password/);
    expect(proxy.connects[0]?.proxyAuthorization).toBeUndefined();
  });

  it('explains a tunnel refused with another status', async () => {
    const server = await startServer();
    const proxy = await startProxy({ refuse: () => 403 });
    const egress = egressFrom({ proxy: proxy.url, tls: { caFile: files.ca } });
    const err = await failure(server.origin, egress);
    expect(describeEgressError(err, egress, server.origin)).toBe(
      `proxy http://127.0.0.1:${proxy.port} refused the tunnel to 127.0.0.1:${server.port} (HTTP 403): check that the proxy allows CONNECT to this host and port`,
    );
  });

  it('explains an unreachable proxy', async () => {
    const server = await startServer();
    const proxy = await TestConnectProxy.start();
    const port = proxy.port;
    await proxy.close();
    const egress = egressFrom({ proxy: `http://oma:${PASSWORD}@127.0.0.1:${port}`, tls: { caFile: files.ca } });
    const err = await failure(server.origin, egress);
    expect(describeEgressError(err, egress, server.origin)).toBe(`cannot connect to the proxy http://oma:***@127.0.0.1:${port} (ECONNREFUSED)`);
  });

  it('goes direct for noProxy hosts: the proxy sees nothing', async () => {
    const server = await startServer();
    const proxy = await startProxy();
    const egress = egressFrom({ proxy: { url: proxy.url, noProxy: ['10.0.0.0/8', '127.0.0.1'] }, tls: { caFile: files.ca } });
    expect(dispatcherFor(server.origin, egress)).toBeInstanceOf(Pool);
    await get(server.origin, egress);
    expect(proxy.connects).toEqual([]);
    expect(server.requests).toBe(1);
  });

  it('never sends IMDS through the proxy', () => {
    const egress = egressFrom({ proxy: 'http://proxy.invalid:3128' });
    expect(createDispatcher('http://169.254.169.254', { connections: 1, headersTimeoutMs: 1000, bodyTimeoutMs: 1000, egress })).toBeInstanceOf(Pool);
    expect(createDispatcher('https://login.microsoftonline.com', { connections: 1, headersTimeoutMs: 1000, bodyTimeoutMs: 1000, egress })).toBeInstanceOf(
      ProxyAgent,
    );
  });

  it('tunnels plain http targets too (CONNECT, not request forwarding)', async () => {
    const { createServer: createHttpServer } = await import('node:http');
    const server = createHttpServer((_req, res) => res.end('plain'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const proxy = await startProxy();
    const origin = `http://127.0.0.1:${port}`;
    const res = await dispatcherFor(origin, egressFrom({ proxy: proxy.url })).request({ origin, path: '/', method: 'GET' });
    expect(await readBodyText(res.body)).toBe('plain');
    expect(proxy.tunnels).toEqual([`127.0.0.1:${port}`]);
  });

  it('speaks TLS to an https: proxy, trusting it through caFile', async () => {
    const server = await startServer();
    const proxy = await startProxy({ tls: { cert: serverCert.certPem, key: serverCert.keyPem }, auth: { username: 'oma', password: PASSWORD } });
    expect(proxy.url).toMatch(/^https:/);
    const egress = egressFrom({ proxy: `https://oma:${encodeURIComponent(PASSWORD)}@127.0.0.1:${proxy.port}`, tls: { caFile: files.ca } });
    await get(server.origin, egress);
    expect(proxy.tunnels).toEqual([`127.0.0.1:${server.port}`]);
    expect(proxy.connects[0]?.credentials?.password).toBe(PASSWORD);
  });
});

describe('createDispatcher TLS', () => {
  it('refuses a server that offers only TLS 1.1 (which this OpenSSL can still speak)', async () => {
    const server = await startServer({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    // Positive control: the server does speak TLS 1.1 to a client that allows it.
    const protocol = await new Promise<string | null>((resolve, reject) => {
      const s = tlsConnect(
        { host: '127.0.0.1', port: server.port, ca: ca.certPem, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
        () => {
          resolve(s.getProtocol());
          s.destroy();
        },
      );
      s.on('error', reject);
    });
    expect(protocol).toBe('TLSv1.1');

    const egress = egressFrom({ tls: { caFile: files.ca } });
    const err = await failure(server.origin, egress);
    expect(server.requests).toBe(0);
    expect(describeEgressError(err, egress, server.origin)).toMatch(/TLS handshake with 127\.0\.0\.1:\d+ failed .*TLS 1\.2 or newer/);

    const proxy = await startProxy();
    await failure(server.origin, egressFrom({ proxy: proxy.url, tls: { caFile: files.ca } }));
    expect(proxy.tunnels).toEqual([`127.0.0.1:${server.port}`]);
    expect(server.requests).toBe(0);
  });

  it('refuses a TLS 1.2 server when minVersion is 1.3, directly and through a proxy', async () => {
    const server = await startServer({ maxVersion: 'TLSv1.2' });
    expect(await get(server.origin, egressFrom({ tls: { caFile: files.ca } }))).toMatchObject({ protocol: 'TLSv1.2' });

    const strict = egressFrom({ tls: { caFile: files.ca, minVersion: 1.3 } });
    expect(strict.tls.minVersion).toBe('TLSv1.3');
    const err = await failure(server.origin, strict);
    expect(describeEgressError(err, strict, server.origin)).toMatch(/does not support TLS 1\.3 or newer/);

    const proxy = await startProxy();
    await failure(server.origin, egressFrom({ proxy: proxy.url, tls: { caFile: files.ca, minVersion: '1.3' } }));
    expect(proxy.tunnels).toHaveLength(1);
    expect(server.requests).toBe(1);
  });

  it('refuses a server whose CA is unknown, unless caFile names it', async () => {
    const server = await startServer();
    const noCa = egressFrom({});
    const err = await failure(server.origin, noCa);
    expect(describeEgressError(err, noCa, server.origin)).toMatch(/certificate of 127\.0\.0\.1:\d+ is not trusted .*tls\.caFile/);
    await failure(server.origin, egressFrom({ tls: { caFile: files.otherCa } }));
    expect(server.requests).toBe(0);

    // A TLS-inspecting proxy's certificate is equally refused; the message hints at the proxy's CA.
    const proxy = await startProxy();
    const proxied = egressFrom({ proxy: proxy.url });
    const err2 = await failure(server.origin, proxied);
    expect(describeEgressError(err2, proxied, server.origin)).toMatch(/not trusted .*TLS-inspecting proxy/);

    expect(await get(server.origin, egressFrom({ tls: { caFile: files.ca } }))).toMatchObject({ path: '/hello' });
  });

  it('presents a client certificate (PEM or PFX) to a server that requires one, also through a proxy', async () => {
    const server = await startServer({ requestCert: true, rejectUnauthorized: true, ca: clientCa.certPem });
    await failure(server.origin, egressFrom({ tls: { caFile: files.ca } }));
    expect(server.requests).toBe(0);

    const pem = egressFrom({ tls: { caFile: files.ca, certFile: files.clientCert, keyFile: files.clientKey } });
    expect(await get(server.origin, pem)).toMatchObject({ client: 'oma-agent' });

    const pfx = egressFrom({ tls: { caFile: files.ca, pfxFile: files.clientPfx, passphrase: 'pfx-pass' } });
    expect(await get(server.origin, pfx)).toMatchObject({ client: 'oma-agent' });

    const proxy = await startProxy();
    const proxied = egressFrom({ proxy: proxy.url, tls: { caFile: files.ca, certFile: files.clientCert, keyFile: files.clientKey } });
    expect(await get(server.origin, proxied)).toMatchObject({ client: 'oma-agent' });
    expect(proxy.tunnels).toHaveLength(1);
  });
});

describe('egress options', () => {
  function issues(input: unknown): Array<{ path: string; message: string }> {
    const r = egressSchema.safeParse(input);
    return r.success ? [] : zodIssues(r.error);
  }

  it('defaults to direct connections with TLS 1.2 minimum', () => {
    expect(egressFrom({})).toEqual({ noProxy: [], tls: { minVersion: 'TLSv1.2' } });
  });

  it('reports proxy problems at their path without the password', () => {
    const found = [
      ...issues({ proxy: 'socks5://oma:hunter2@proxy:1080' }),
      ...issues({ proxy: 'http://oma:hunter2@proxy:99999' }),
      ...issues({ proxy: { url: 'http://oma:hunter2@proxy:3128', file: '/x' } }),
      ...issues({ proxy: { url: 'http://oma:hunter2@proxy:3128', username: 'other' } }),
      ...issues({ proxy: { url: 'http://proxy:3128', password: 'hunter2' } }),
      ...issues({ proxy: { url: 'http://proxy:3128', noProxy: ['10.0.0.0/99'] } }),
      ...issues({ proxy: { file: join(dir, 'nope.conf') } }),
    ];
    expect(found).toEqual([
      { path: 'proxy', message: expect.stringMatching(/unsupported scheme socks5/) as string },
      { path: 'proxy', message: expect.stringMatching(/port/) as string },
      { path: 'proxy', message: 'give exactly one of url and file' },
      { path: 'proxy.username', message: expect.stringMatching(/already holds a user/) as string },
      { path: 'proxy.password', message: 'a password needs a username' },
      { path: 'proxy.noProxy[0]', message: expect.stringMatching(/CIDR/) as string },
      { path: 'proxy.file', message: expect.stringMatching(/cannot read proxy file .*nope\.conf: ENOENT/) as string },
    ]);
    expect(JSON.stringify(found)).not.toContain('hunter2');
    const r = egressSchema.safeParse({ proxy: 'http://oma:hunter2@proxy:99999' });
    expect(inspect(r.error, { depth: 10 })).not.toContain('hunter2');
  });

  it('treats an empty proxy file as no proxy but keeps noProxy', () => {
    const conf = join(dir, 'empty-proxy.conf');
    writeFileSync(conf, '');
    expect(egressFrom({ proxy: { file: conf, noProxy: ['.corp'] } })).toEqual({ noProxy: ['.corp'], tls: { minVersion: 'TLSv1.2' } });
  });

  it('reads and checks TLS files when the config is loaded', () => {
    expect(issues({ tls: { caFile: join(dir, 'missing.pem') } })).toEqual([
      { path: 'tls.caFile', message: expect.stringMatching(/cannot read CA file .*missing\.pem: ENOENT/) as string },
    ]);
    expect(issues({ tls: { caFile: files.notPem } })).toEqual([
      { path: 'tls.caFile', message: expect.stringMatching(/holds no PEM certificate/) as string },
    ]);
    expect(issues({ tls: { certFile: files.clientCert } })).toEqual([{ path: 'tls.keyFile', message: 'certFile needs keyFile' }]);
    expect(issues({ tls: { pfxFile: files.clientPfx, certFile: files.clientCert, keyFile: files.clientKey } })[0]?.path).toBe('tls.pfxFile');
    expect(issues({ tls: { pfxFile: files.clientPfx, passphrase: 'wrong' } })).toEqual([
      { path: 'tls.pfxFile', message: expect.stringMatching(/cannot load the client certificate/) as string },
    ]);
    expect(issues({ tls: { certFile: files.clientCert, keyFile: files.ca } })[0]?.path).toBe('tls.keyFile');
    expect(issues({ tls: { minVersion: '1.1' } })[0]?.path).toBe('tls.minVersion');
    expect(issues({ tls: { minVersion: 1.3 } })).toEqual([]);
  });

  it('keeps key material out of the printed config', () => {
    const cfg = egressSchema.parse({ tls: { caFile: files.ca, pfxFile: files.clientPfx, passphrase: 'pfx-pass' } });
    const printed = JSON.stringify(cfg) + inspect(cfg, { depth: 10 });
    expect(printed).not.toContain('pfx-pass');
    expect(printed).not.toContain(readFileSync(files.clientPfx!).toString('base64').slice(0, 40));
    expect(printed).toContain('[redacted]');
    const pem = egressSchema.parse({ tls: { certFile: files.clientCert, keyFile: files.clientKey } });
    expect(JSON.stringify(pem)).not.toContain('PRIVATE KEY');
  });
});
