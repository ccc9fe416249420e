import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MetricsRegistry, createRootLogger, type Logger } from '@oma/core';
import { createGateway, parseGatewayConfig, type Gateway, type GatewayConfigInput } from '../src/index.js';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

interface Harness {
  gateway: Gateway;
  registry: MetricsRegistry;
  lines: LogLine[];
  access: () => LogLine[];
}

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function captureLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = createRootLogger({
    level: 'debug',
    destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) },
  });
  return { log, lines };
}

async function startGateway(config: GatewayConfigInput): Promise<Harness> {
  const { log, lines } = captureLogger();
  const registry = new MetricsRegistry();
  const gateway = await createGateway({
    config: parseGatewayConfig({ listen: { host: '127.0.0.1', port: 0 }, shutdownGraceMs: 0, ...config }),
    log,
    registry,
  });
  cleanups.push(() => gateway.close(0));
  return { gateway, registry, lines, access: () => lines.filter((l) => l.msg === 'gateway access') };
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** A TCP echo server: what the gateway tunnels to (it does not care whether TLS runs inside). */
async function echoServer(): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  return listen(server);
}

interface ProxyResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  socket: Socket;
}

/** Sends a raw request to the gateway and reads the response head; the socket stays open. */
async function rawRequest(port: number, request: string): Promise<ProxyResponse> {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.on('error', () => {});
  cleanups.push(() => void socket.destroy());
  await once(socket, 'connect');
  socket.write(request);
  let buf = Buffer.alloc(0);
  while (buf.indexOf('\r\n\r\n') < 0) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (c: Buffer): void => {
        cleanup();
        socket.pause();
        resolve(c);
      };
      const onEnd = (): void => {
        cleanup();
        resolve(null);
      };
      const cleanup = (): void => {
        socket.removeListener('data', onData);
        socket.removeListener('end', onEnd);
        socket.removeListener('close', onEnd);
      };
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('close', onEnd);
      socket.resume();
    });
    if (chunk === null) throw new Error(`connection closed before a response: ${buf.toString()}`);
    buf = Buffer.concat([buf, chunk]);
  }
  const end = buf.indexOf('\r\n\r\n');
  const [statusLine, ...headerLines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const rest = buf.subarray(end + 4);
  if (rest.length > 0) socket.unshift(rest);
  return { status, headers, body: rest, socket };
}

function connectRequest(authority: string, extraHeaders: Record<string, string> = {}): string {
  const headers = Object.entries({ Host: authority, ...extraHeaders })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `CONNECT ${authority} HTTP/1.1\r\n${headers}\r\n`;
}

/** Reads a socket to its end (its peer closed or half-closed). */
async function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.resume();
  await once(socket, 'end');
  return Buffer.concat(chunks);
}

/** Response body for a refused request: the server closes after it, so read to the end. */
async function bodyOf(res: ProxyResponse): Promise<string> {
  return (await readAll(res.socket)).toString('utf8');
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

function metric(registry: MetricsRegistry, name: string, labels: Record<string, string> = {}): number {
  registry.collect();
  return registry.find(name)?.get(labels) ?? 0;
}

describe('gateway tunnels', () => {
  it('answers 200 and relays bytes both ways through an allowed tunnel, with one access-log line', async () => {
    const echoPort = await echoServer();
    const h = await startGateway({ allowedHosts: ['127.0.0.1', 'localhost'], allowedPorts: [echoPort] });
    const res = await rawRequest(h.gateway.address().port, connectRequest(`127.0.0.1:${echoPort}`));
    expect(res.status).toBe(200);
    expect(h.gateway.activeTunnels()).toBe(1);
    expect(metric(h.registry, 'oma_gateway_active_tunnels')).toBe(1);

    res.socket.end('hello through the gateway');
    expect((await readAll(res.socket)).toString()).toBe('hello through the gateway');

    await vi.waitFor(() => expect(h.access()).toHaveLength(1));
    expect(h.access()[0]).toMatchObject({
      client: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      target: `127.0.0.1:${echoPort}`,
      status: 200,
      result: 'closed',
      bytesUp: 25,
      bytesDown: 25,
      durationMs: expect.any(Number),
    });
    expect(metric(h.registry, 'oma_gateway_tunnels_total', { result: 'closed' })).toBe(1);
    expect(metric(h.registry, 'oma_gateway_bytes_total', { direction: 'up' })).toBe(25);
    expect(metric(h.registry, 'oma_gateway_bytes_total', { direction: 'down' })).toBe(25);
    expect(metric(h.registry, 'oma_gateway_active_tunnels')).toBe(0);
  });

  it('resolves names from the allowlist and forwards bytes sent right after the CONNECT head', async () => {
    const echoPort = await echoServer();
    const h = await startGateway({ allowedHosts: ['LOCALHOST'], allowedPorts: [echoPort] });
    // Some clients start the TLS handshake in the same packet as the CONNECT request.
    const res = await rawRequest(h.gateway.address().port, `${connectRequest(`LocalHost:${echoPort}`)}early-bytes`);
    expect(res.status).toBe(200);
    res.socket.end();
    expect((await readAll(res.socket)).toString()).toBe('early-bytes');
    await vi.waitFor(() => expect(h.access()[0]).toMatchObject({ target: `localhost:${echoPort}`, bytesUp: 11, bytesDown: 11 }));
  });

  it('round-trips a large payload intact in both directions', async () => {
    const echoPort = await echoServer();
    const h = await startGateway({ allowedHosts: ['127.0.0.1'], allowedPorts: [echoPort] });
    const res = await rawRequest(h.gateway.address().port, connectRequest(`127.0.0.1:${echoPort}`));
    expect(res.status).toBe(200);
    const payload = randomBytes(16 * 1024 * 1024);
    const received = readAll(res.socket);
    res.socket.end(payload);
    const echoed = await received;
    expect(echoed.length).toBe(payload.length);
    expect(sha256(echoed)).toBe(sha256(payload));
    await vi.waitFor(() => expect(h.access()[0]).toMatchObject({ bytesUp: payload.length, bytesDown: payload.length }));
  });

  it('propagates backpressure: a target that does not read stops the gateway reading from the client', async () => {
    let targetSocket: Socket | undefined;
    const hashes: string[] = [];
    const target = createServer((s) => {
      targetSocket = s;
      s.on('error', () => {});
      s.pause();
      const chunks: Buffer[] = [];
      s.on('end', () => {
        hashes.push(sha256(Buffer.concat(chunks)));
        s.end();
      });
      s.on('data', (c: Buffer) => chunks.push(c));
      s.pause();
    });
    const port = await listen(target);
    const h = await startGateway({ allowedHosts: ['127.0.0.1'], allowedPorts: [port] });
    const res = await rawRequest(h.gateway.address().port, connectRequest(`127.0.0.1:${port}`));
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(targetSocket).toBeDefined());

    const payload = randomBytes(64 * 1024 * 1024);
    res.socket.end(payload);
    // Wait until the gateway stops taking bytes (its reads are paused), then check it did not buffer it all.
    let last = -1;
    await vi.waitFor(
      () => {
        const now = metric(h.registry, 'oma_gateway_bytes_total', { direction: 'up' });
        const stable = now > 0 && now === last;
        last = now;
        expect(stable).toBe(true);
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(last).toBeLessThan(payload.length / 2);

    targetSocket!.resume();
    await vi.waitFor(() => expect(hashes).toEqual([sha256(payload)]), { timeout: 20_000 });
  }, 60_000);

  it('forwards a half-close: the target still answers after the client stopped sending', async () => {
    const target = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      let n = 0;
      s.on('data', (c: Buffer) => (n += c.length));
      s.on('end', () => s.end(`got ${n} bytes`));
    });
    const port = await listen(target);
    const h = await startGateway({ allowedHosts: ['127.0.0.1'], allowedPorts: [port] });
    const res = await rawRequest(h.gateway.address().port, connectRequest(`127.0.0.1:${port}`));
    expect(res.status).toBe(200);
    const reply = readAll(res.socket);
    res.socket.end('0123456789');
    expect((await reply).toString()).toBe('got 10 bytes');
    await vi.waitFor(() => expect(h.access()[0]).toMatchObject({ result: 'closed', bytesUp: 10, bytesDown: 12 }));
  });

  it('closes a tunnel that stays idle', async () => {
    const echoPort = await echoServer();
    const h = await startGateway({ allowedHosts: ['127.0.0.1'], allowedPorts: [echoPort], idleTimeoutMs: 300 });
    const res = await rawRequest(h.gateway.address().port, connectRequest(`127.0.0.1:${echoPort}`));
    expect(res.status).toBe(200);
    res.socket.write('ping');
    res.socket.resume();
    await once(res.socket, 'end');
    await vi.waitFor(() => expect(h.access()).toHaveLength(1));
    expect(h.access()[0]).toMatchObject({ result: 'idle_timeout', status: 200, bytesUp: 4, bytesDown: 4 });
    expect(metric(h.registry, 'oma_gateway_tunnels_total', { result: 'idle_timeout' })).toBe(1);
    expect(h.gateway.activeTunnels()).toBe(0);
  });

  it('closes open tunnels on shutdown after the grace period', async () => {
    const echoPort = await echoServer();
    const h = await startGateway({ allowedHosts: ['127.0.0.1'], allowedPorts: [echoPort] });
    const res = await rawRequest(h.gateway.address().port, connectRequest(`127.0.0.1:${echoPort}`));
    expect(res.status).toBe(200);
    res.socket.resume();
    const ended = once(res.socket, 'end');
    await h.gateway.close(0);
    await ended;
    expect(h.access()[0]).toMatchObject({ result: 'shutdown', status: 200 });
    expect(h.lines.map((l) => l.msg)).toContain('gateway stopped');
  });
});

describe('gateway refusals', () => {
  it('answers 403 to a client outside its client networks, before authentication, and counts it apart', async () => {
    const echoPort = await echoServer();
    const h = await startGateway({ allowedHosts: ['localhost'], allowedPorts: [echoPort], clientNetworks: ['10.0.0.0/8', 'fd00::/8'], auth: { username: 'u', password: 'p' } });
    const refused = await rawRequest(h.gateway.address().port, connectRequest(`localhost:${echoPort}`));
    expect(refused.status).toBe(403);
    expect(await bodyOf(refused)).toMatch(/client networks/);
    await vi.waitFor(() => expect(h.access()).toHaveLength(1));
    expect(h.access()[0]).toMatchObject({ status: 403, result: 'client_network', client: expect.stringContaining('127.0.0.1') });
    expect(metric(h.registry, 'oma_gateway_tunnels_total', { result: 'client_network' })).toBe(1);
    expect(metric(h.registry, 'oma_gateway_tunnels_total', { result: 'unauthorized' })).toBe(0);
  });

  it('answers 403 for a host or port outside the allowlist, without connecting, and logs it', async () => {
    const echoPort = await echoServer();
    const h = await startGateway({ allowedHosts: ['localhost'], allowedPorts: [echoPort] });
    const port = h.gateway.address().port;

    const wrongHost = await rawRequest(port, connectRequest(`127.0.0.1:${echoPort}`));
    expect(wrongHost.status).toBe(403);
    expect(await bodyOf(wrongHost)).toMatch(/not allowed/);

    const wrongPort = await rawRequest(port, connectRequest('localhost:22'));
    expect(wrongPort.status).toBe(403);

    const lookalike = await rawRequest(port, connectRequest(`localhost.evil.example:${echoPort}`));
    expect(lookalike.status).toBe(403);

    await vi.waitFor(() => expect(h.access()).toHaveLength(3));
    expect(h.access()[0]).toMatchObject({ status: 403, result: 'denied', target: `127.0.0.1:${echoPort}`, client: expect.any(String) });
    expect(h.access()[1]).toMatchObject({ status: 403, target: 'localhost:22' });
    expect(metric(h.registry, 'oma_gateway_tunnels_total', { result: 'denied' })).toBe(3);
  });

  it('answers 400 for a malformed CONNECT target', async () => {
    const h = await startGateway({ allowedHosts: ['127.0.0.1'] });
    const res = await rawRequest(h.gateway.address().port, connectRequest('127.0.0.1'));
    expect(res.status).toBe(400);
    expect(metric(h.registry, 'oma_gateway_tunnels_total', { result: 'bad_request' })).toBe(1);
  });

  it('answers 502 when the target refuses the connection', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));

    const h = await startGateway({ allowedHosts: ['127.0.0.1'], allowedPorts: [deadPort] });
    const res = await rawRequest(h.gateway.address().port, connectRequest(`127.0.0.1:${deadPort}`));
    expect(res.status).toBe(502);
    await vi.waitFor(() => expect(h.access()).toHaveLength(1));
    expect(h.access()[0]).toMatchObject({ status: 502, result: 'unreachable', err: expect.objectContaining({ code: 'ECONNREFUSED' }) });
    expect(h.gateway.activeTunnels()).toBe(0);
    expect(metric(h.registry, 'oma_gateway_tunnels_total', { result: 'unreachable' })).toBe(1);
  });

  it('answers 405 to anything but CONNECT', async () => {
    const h = await startGateway({ allowedHosts: ['127.0.0.1'] });
    const res = await rawRequest(h.gateway.address().port, 'GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('CONNECT');
    expect(await bodyOf(res)).toMatch(/Only CONNECT/);
    await vi.waitFor(() => expect(h.access()).toHaveLength(1));
    expect(h.access()[0]).toMatchObject({ status: 405, method: 'GET', result: 'method_not_allowed' });
  });

  it('answers 503 once maxConnections tunnels are open, and accepts again when one ends', async () => {
    const echoPort = await echoServer();
    const h = await startGateway({ allowedHosts: ['127.0.0.1'], allowedPorts: [echoPort], maxConnections: 1 });
    const port = h.gateway.address().port;
    const first = await rawRequest(port, connectRequest(`127.0.0.1:${echoPort}`));
    expect(first.status).toBe(200);

    const second = await rawRequest(port, connectRequest(`127.0.0.1:${echoPort}`));
    expect(second.status).toBe(503);
    expect(metric(h.registry, 'oma_gateway_tunnels_total', { result: 'over_capacity' })).toBe(1);

    first.socket.end();
    await readAll(first.socket);
    await vi.waitFor(() => expect(h.gateway.activeTunnels()).toBe(0));
    const third = await rawRequest(port, connectRequest(`127.0.0.1:${echoPort}`));
    expect(third.status).toBe(200);
  });

  it('requires Proxy-Authorization when auth is configured', async () => {
    const echoPort = await echoServer();
    const h = await startGateway({
      allowedHosts: ['127.0.0.1'],
      allowedPorts: [echoPort],
      auth: { username: 'agent', password: 's3cret:with-colon' },
    });
    const port = h.gateway.address().port;

    const missing = await rawRequest(port, connectRequest(`127.0.0.1:${echoPort}`));
    expect(missing.status).toBe(407);
    expect(missing.headers['proxy-authenticate']).toBe('Basic realm="OMA gateway"');

    const wrong = await rawRequest(port, connectRequest(`127.0.0.1:${echoPort}`, { 'Proxy-Authorization': basic('agent', 'nope') }));
    expect(wrong.status).toBe(407);

    const notBasic = await rawRequest(port, connectRequest(`127.0.0.1:${echoPort}`, { 'Proxy-Authorization': 'Bearer abc' }));
    expect(notBasic.status).toBe(407);

    const ok = await rawRequest(port, connectRequest(`127.0.0.1:${echoPort}`, { 'Proxy-Authorization': basic('agent', 's3cret:with-colon') }));
    expect(ok.status).toBe(200);
    ok.socket.end('x');
    expect((await readAll(ok.socket)).toString()).toBe('x');

    expect(metric(h.registry, 'oma_gateway_tunnels_total', { result: 'unauthorized' })).toBe(3);
    expect(JSON.stringify(h.lines)).not.toContain('s3cret');
  });
});

describe('gateway lifecycle', () => {
  it('rejects with a transport error when the port is taken', async () => {
    const h = await startGateway({});
    const { log } = captureLogger();
    await expect(
      createGateway({ config: parseGatewayConfig({ listen: { port: h.gateway.address().port } }), log }),
    ).rejects.toMatchObject({ code: 'OMA_ERR_TRANSPORT', cause: expect.objectContaining({ code: 'EADDRINUSE' }) });
  });
});

describe('gateway listening address', () => {
  const WARNING = /^gateway listens beyond loopback without proxy authentication/;
  const warnings = (h: Harness): LogLine[] => h.lines.filter((l) => l.level === 40 && WARNING.test(l.msg));

  it('warns once, naming the address, when it listens beyond loopback without auth', async () => {
    // Bound on every interface for the length of the test; no traffic is sent.
    const h = await startGateway({ listen: { host: '0.0.0.0', port: 0 } });
    expect(warnings(h)).toEqual([expect.objectContaining({ host: '0.0.0.0', port: h.gateway.address().port })]);
  });

  it('does not warn with auth, or on loopback', async () => {
    const withAuth = await startGateway({ listen: { host: '0.0.0.0', port: 0 }, auth: { username: 'agent', password: 'pw' } });
    expect(warnings(withAuth)).toEqual([]);
    const loopback = await startGateway({});
    expect(loopback.lines.some((l) => l.msg === 'gateway listening')).toBe(true);
    expect(warnings(loopback)).toEqual([]);
  });
});

describe('gateway upstream proxy', () => {
  it('tunnels through a relay proxy with Basic credentials', async () => {
    const echoPort = await echoServer();
    const relay = await startGateway({
      allowedHosts: ['127.0.0.1'],
      allowedPorts: [echoPort],
      auth: { username: 'relay user', password: 'p@ss:word' },
    });
    const h = await startGateway({
      allowedHosts: ['127.0.0.1'],
      allowedPorts: [echoPort],
      upstreamProxy: `http://relay%20user:p%40ss%3Aword@127.0.0.1:${relay.gateway.address().port}`,
    });
    const res = await rawRequest(h.gateway.address().port, `${connectRequest(`127.0.0.1:${echoPort}`)}head`);
    expect(res.status).toBe(200);
    res.socket.end('+tail');
    expect((await readAll(res.socket)).toString()).toBe('head+tail');
    await vi.waitFor(() => expect(relay.access()).toHaveLength(1));
    expect(relay.access()[0]).toMatchObject({ status: 200, target: `127.0.0.1:${echoPort}` });
    expect(JSON.stringify(h.lines)).not.toContain('p@ss');
  });

  it('answers 502 when the relay refuses the tunnel', async () => {
    const echoPort = await echoServer();
    const relay = await startGateway({ allowedHosts: ['127.0.0.1'], allowedPorts: [echoPort], auth: { username: 'u', password: 'right' } });
    const h = await startGateway({
      allowedHosts: ['127.0.0.1'],
      allowedPorts: [echoPort],
      upstreamProxy: `http://u:wrong@127.0.0.1:${relay.gateway.address().port}`,
    });
    const res = await rawRequest(h.gateway.address().port, connectRequest(`127.0.0.1:${echoPort}`));
    expect(res.status).toBe(502);
    await vi.waitFor(() => expect(h.access()).toHaveLength(1));
    expect(h.access()[0]).toMatchObject({ status: 502, result: 'unreachable', upstreamStatus: 407 });
  });

  it('answers 504 when the relay does not answer in time', async () => {
    const silent = createServer((s) => {
      s.on('error', () => {});
      s.resume();
    });
    const silentPort = await listen(silent);
    const h = await startGateway({
      allowedHosts: ['example.com'],
      connectTimeoutMs: 200,
      upstreamProxy: `http://127.0.0.1:${silentPort}`,
    });
    const res = await rawRequest(h.gateway.address().port, connectRequest('example.com:443'));
    expect(res.status).toBe(504);
    await vi.waitFor(() => expect(h.access()).toHaveLength(1));
    expect(h.access()[0]).toMatchObject({ status: 504, result: 'timeout', target: 'example.com:443' });
    expect(metric(h.registry, 'oma_gateway_tunnels_total', { result: 'timeout' })).toBe(1);
    expect(h.gateway.activeTunnels()).toBe(0);
  });
});
