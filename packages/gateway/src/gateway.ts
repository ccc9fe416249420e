import { ClientNetworks } from './client-networks.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { TransportError, isLoopbackHost, type Counter, type Gauge, type Logger, type MetricsRegistry } from '@oma/core';
import { HostAllowlist, formatTarget, parseAuthority } from './allowlist.js';
import type { GatewayConfig } from './config.js';
import { connectTarget } from './upstream.js';

export interface GatewayOptions {
  /** Validated config (`gatewayConfigSchema` / `parseGatewayConfig` output). */
  readonly config: GatewayConfig;
  /** Receives lifecycle lines and one access-log line per request. */
  readonly log: Logger;
  /** Where the gateway's metrics go; none are kept when absent. */
  readonly registry?: MetricsRegistry;
}

export interface Gateway {
  /** The address the gateway listens on (the real port when configured with 0). */
  address(): { host: string; port: number };
  /** Tunnels open or being opened. */
  activeTunnels(): number;
  /**
   * Stops accepting, lets open tunnels run for `shutdownGraceMs` (or `graceMs`), then closes the rest.
   * Resolves once every connection is closed. Calling it again returns the same promise.
   */
  close(graceMs?: number): Promise<void>;
}

/** Bounded set of `result` label values of `oma_gateway_tunnels_total` and of the access log. */
export type TunnelResult =
  | 'closed'
  | 'idle_timeout'
  | 'error'
  | 'shutdown'
  | 'client_closed'
  | 'denied'
  | 'client_network'
  | 'unauthorized'
  | 'bad_request'
  | 'method_not_allowed'
  | 'over_capacity'
  | 'unreachable'
  | 'timeout';

const REALM = 'OMA gateway';
/** How long a client gets to read an error response and close before its connection is dropped. */
const RESPONSE_LINGER_MS = 5_000;
/** Longest request target copied into a log line. */
const MAX_LOGGED_TARGET = 256;
const TCP_KEEPALIVE_MS = 60_000;

interface Tunnel {
  readonly client: Socket;
  readonly clientAddr: string;
  readonly target: string;
  readonly startedAt: number;
  readonly abort: AbortController;
  upstream?: Socket;
  status?: number;
  /** Set by whoever ends the tunnel on purpose (idle timeout, shutdown); wins over socket errors. */
  reason?: TunnelResult;
  err?: Error;
  up: number;
  down: number;
  reportedUp: number;
  reportedDown: number;
  finished: boolean;
}

interface GatewayMetrics {
  readonly tunnels: Counter;
  readonly active: Gauge;
  readonly bytes: Counter;
}

function formatClient(socket: Socket): string {
  const addr = socket.remoteAddress ?? 'unknown';
  return addr.includes(':') ? `[${addr}]:${socket.remotePort ?? 0}` : `${addr}:${socket.remotePort ?? 0}`;
}

function truncate(s: string | undefined, max: number): string {
  if (s === undefined) return '';
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Writes a complete error response on a raw socket and closes it once the client has it. */
function respondRaw(socket: Duplex, status: number, text: string, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const body = `${text}\n`;
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`];
  for (const [k, v] of Object.entries({
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
  })) {
    lines.push(`${k}: ${v}`);
  }
  // Lingering close: discard what the client still sends; the socket closes by itself once the client
  // has closed its side too (or after the linger time), so unread input cannot turn our close into a
  // reset that loses the response.
  const linger = setTimeout(() => socket.destroy(), RESPONSE_LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
  socket.resume();
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/** Starts an HTTP CONNECT forward proxy; resolves once it listens. */
export async function createGateway(opts: GatewayOptions): Promise<Gateway> {
  const { config, log } = opts;
  const allowlist = new HostAllowlist(config.allowedHosts);
  const allowedPorts = new Set(config.allowedPorts);
  const clientNetworks = new ClientNetworks(config.clientNetworks);
  const expectedAuth = config.auth ? sha256(`${config.auth.username}:${config.auth.password.reveal()}`) : undefined;
  const metrics: GatewayMetrics | undefined = opts.registry
    ? {
        tunnels: opts.registry.counter('oma_gateway_tunnels_total', 'CONNECT requests handled, by result.'),
        active: opts.registry.gauge('oma_gateway_active_tunnels', 'Tunnels open or being opened.'),
        bytes: opts.registry.counter('oma_gateway_bytes_total', 'Bytes relayed through tunnels, by direction (up: client to target).'),
      }
    : undefined;
  metrics?.active.set({}, 0);

  const tunnels = new Set<Tunnel>();
  let closing = false;
  let closePromise: Promise<void> | undefined;
  let onDrained: (() => void) | undefined;
  /** Sockets the HTTP server handed over (CONNECT and upgrade requests), until they close. */
  const detached = new Set<Duplex>();

  const removeTunnel = (t: Tunnel): void => {
    tunnels.delete(t);
    metrics?.active.set({}, tunnels.size);
    if (tunnels.size === 0) onDrained?.();
  };

  const flushBytes = (t: Tunnel): void => {
    if (!metrics) return;
    if (t.up > t.reportedUp) metrics.bytes.inc({ direction: 'up' }, t.up - t.reportedUp);
    if (t.down > t.reportedDown) metrics.bytes.inc({ direction: 'down' }, t.down - t.reportedDown);
    t.reportedUp = t.up;
    t.reportedDown = t.down;
  };
  const stopCollecting = opts.registry?.onCollect(() => {
    for (const t of tunnels) flushBytes(t);
  });

  /** One access-log line and one count for a request that never became a tunnel. */
  const refuse = (
    socket: Duplex,
    clientAddr: string,
    target: string,
    status: number,
    result: TunnelResult,
    text: string,
    extra: { headers?: Record<string, string>; method?: string; startedAt: number; err?: Error; upstreamStatus?: number },
  ): void => {
    respondRaw(socket, status, text, extra.headers);
    metrics?.tunnels.inc({ result });
    const fields = {
      client: clientAddr,
      target,
      status,
      result,
      bytesUp: 0,
      bytesDown: 0,
      durationMs: Math.round(performance.now() - extra.startedAt),
      ...(extra.method !== undefined ? { method: extra.method } : {}),
      ...(extra.upstreamStatus !== undefined ? { upstreamStatus: extra.upstreamStatus } : {}),
      ...(extra.err !== undefined ? { err: extra.err } : {}),
    };
    if (status >= 500) log.warn(fields, 'gateway access');
    else log.info(fields, 'gateway access');
  };

  const finishTunnel = (t: Tunnel): void => {
    if (t.finished) return;
    t.finished = true;
    flushBytes(t);
    const result: TunnelResult = t.reason ?? (t.err ? 'error' : 'closed');
    metrics?.tunnels.inc({ result });
    const fields = {
      client: t.clientAddr,
      target: t.target,
      ...(t.status !== undefined ? { status: t.status } : {}),
      result,
      bytesUp: t.up,
      bytesDown: t.down,
      durationMs: Math.round(performance.now() - t.startedAt),
      ...(t.err ? { err: t.err } : {}),
    };
    if (t.status !== undefined && t.status >= 500) log.warn(fields, 'gateway access');
    else log.info(fields, 'gateway access');
    removeTunnel(t);
  };

  /** Ends a tunnel on purpose: both sockets are destroyed, `reason` is what the access log reports. */
  const destroyTunnel = (t: Tunnel, reason: TunnelResult): void => {
    t.reason ??= reason;
    t.abort.abort();
    t.client.destroy();
    t.upstream?.destroy();
  };

  const establish = (t: Tunnel, upstream: Socket, upstreamHead: Buffer, clientHead: Buffer): void => {
    const { client } = t;
    t.upstream = upstream;
    t.status = 200;
    let open = 2;
    const onClose = (): void => {
      open--;
      if (open === 0) finishTunnel(t);
    };
    upstream.on('error', (err: Error) => {
      t.err ??= err;
      client.destroy();
    });
    client.on('error', (err: Error) => {
      t.err ??= err;
      upstream.destroy();
    });
    // A side that closed because of an error takes the other side with it; a clean close has already
    // passed its end-of-stream on through the pipe and lets the other side finish writing.
    upstream.on('close', (hadError: boolean) => {
      if (hadError || !upstream.readableEnded) client.destroy();
      onClose();
    });
    client.on('close', (hadError: boolean) => {
      if (hadError || !client.readableEnded) upstream.destroy();
      onClose();
    });
    const onIdle = (): void => destroyTunnel(t, 'idle_timeout');
    client.setTimeout(config.idleTimeoutMs, onIdle);
    upstream.setTimeout(config.idleTimeoutMs, onIdle);
    upstream.setNoDelay(true);
    upstream.setKeepAlive(true, TCP_KEEPALIVE_MS);
    if (upstream.destroyed) {
      // Failed between connecting and now: the close handlers above may never run.
      client.destroy();
      finishTunnel(t);
      return;
    }

    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (clientHead.length > 0) {
      t.up += clientHead.length;
      upstream.write(clientHead);
    }
    if (upstreamHead.length > 0) {
      t.down += upstreamHead.length;
      client.write(upstreamHead);
    }
    client.on('data', (chunk: Buffer) => {
      t.up += chunk.length;
    });
    upstream.on('data', (chunk: Buffer) => {
      t.down += chunk.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const handleConnect = async (req: IncomingMessage, client: Socket, head: Buffer): Promise<void> => {
    const startedAt = performance.now();
    const clientAddr = formatClient(client);
    const requested = truncate(req.url, MAX_LOGGED_TARGET);
    let clientErr: Error | undefined;
    client.on('error', (err: Error) => {
      clientErr ??= err;
    });
    client.pause();

    if (closing) {
      refuse(client, clientAddr, requested, 503, 'shutdown', 'The gateway is shutting down.', { startedAt });
      return;
    }
    if (!clientNetworks.allows(client.remoteAddress)) {
      refuse(client, clientAddr, requested, 403, 'client_network', 'Your address is not in the client networks this gateway serves.', { startedAt });
      return;
    }
    if (expectedAuth && !authorized(req.headers['proxy-authorization'], expectedAuth)) {
      refuse(client, clientAddr, requested, 407, 'unauthorized', 'Proxy authentication required.', {
        startedAt,
        headers: { 'Proxy-Authenticate': `Basic realm="${REALM}"` },
      });
      return;
    }
    const target = parseAuthority(req.url ?? '');
    if (!target) {
      refuse(client, clientAddr, requested, 400, 'bad_request', 'Expected CONNECT host:port.', { startedAt });
      return;
    }
    const targetText = formatTarget(target);
    if (!allowedPorts.has(target.port) || !allowlist.allows(target.host)) {
      refuse(client, clientAddr, targetText, 403, 'denied', 'This target is not allowed by the gateway.', { startedAt });
      return;
    }
    if (tunnels.size >= config.maxConnections) {
      refuse(client, clientAddr, targetText, 503, 'over_capacity', 'Too many tunnels; try again later.', { startedAt });
      return;
    }

    const t: Tunnel = {
      client,
      clientAddr,
      target: targetText,
      startedAt,
      abort: new AbortController(),
      up: 0,
      down: 0,
      reportedUp: 0,
      reportedDown: 0,
      finished: false,
    };
    tunnels.add(t);
    metrics?.active.set({}, tunnels.size);
    const onEarlyClose = (): void => t.abort.abort();
    client.once('close', onEarlyClose);
    client.setNoDelay(true);
    client.setKeepAlive(true, TCP_KEEPALIVE_MS);

    const outcome = await connectTarget(target, {
      timeoutMs: config.connectTimeoutMs,
      signal: t.abort.signal,
      ...(config.upstreamProxy ? { proxy: config.upstreamProxy } : {}),
    });
    client.removeListener('close', onEarlyClose);

    if (outcome.ok) {
      if (!client.destroyed) {
        establish(t, outcome.socket, outcome.head, head);
        return;
      }
      outcome.socket.destroy();
    }
    if (client.destroyed || t.reason !== undefined) {
      const result = t.reason ?? 'client_closed';
      metrics?.tunnels.inc({ result });
      log.info(
        {
          client: clientAddr,
          target: targetText,
          result,
          bytesUp: 0,
          bytesDown: 0,
          durationMs: Math.round(performance.now() - startedAt),
          ...(clientErr ? { err: clientErr } : {}),
        },
        'gateway access',
      );
      client.destroy();
    } else if (!outcome.ok && outcome.reason === 'timeout') {
      refuse(client, clientAddr, targetText, 504, 'timeout', 'The target did not answer in time.', { startedAt });
    } else {
      refuse(client, clientAddr, targetText, 502, 'unreachable', 'The target could not be reached.', {
        startedAt,
        ...(!outcome.ok && outcome.err ? { err: outcome.err } : {}),
        ...(!outcome.ok && outcome.upstreamStatus !== undefined ? { upstreamStatus: outcome.upstreamStatus } : {}),
      });
    }
    removeTunnel(t);
  };

  const server = createServer();

  server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    detached.add(socket);
    socket.once('close', () => detached.delete(socket));
    handleConnect(req, socket as Socket, head).catch((err: unknown) => {
      log.error({ err }, 'gateway connect handler failed');
      socket.destroy();
    });
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const body = 'Only CONNECT is supported: this gateway does not proxy plain HTTP.\n';
    res.shouldKeepAlive = false;
    res.writeHead(405, {
      Allow: 'CONNECT',
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      Connection: 'close',
    });
    res.end(body);
    req.resume();
    metrics?.tunnels.inc({ result: 'method_not_allowed' });
    log.info(
      {
        client: formatClient(req.socket),
        target: truncate(req.url, MAX_LOGGED_TARGET),
        method: truncate(req.method, 16),
        status: 405,
        result: 'method_not_allowed',
        bytesUp: 0,
        bytesDown: 0,
        durationMs: 0,
      },
      'gateway access',
    );
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    detached.add(socket);
    socket.once('close', () => detached.delete(socket));
    socket.on('error', (err: Error) => log.debug({ err }, 'gateway client error'));
    refuse(socket, formatClient(req.socket), truncate(req.url, MAX_LOGGED_TARGET), 405, 'method_not_allowed', 'Only CONNECT is supported.', {
      startedAt: performance.now(),
      method: truncate(req.method, 16),
      headers: { Allow: 'CONNECT' },
    });
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    log.debug({ err }, 'gateway client error');
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    respondRaw(socket, status, 'Bad request.');
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      stopCollecting?.();
      reject(new TransportError(`gateway cannot listen on ${config.listen.host}:${config.listen.port}`, undefined, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host: config.listen.host, port: config.listen.port }, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
  server.on('error', (err: Error) => log.error({ err }, 'gateway server error'));

  const bound = server.address() as AddressInfo;
  const address = { host: bound.address, port: bound.port };
  log.info(
    {
      host: address.host,
      port: address.port,
      allowedHosts: config.allowedHosts.length,
      allowedPorts: config.allowedPorts,
      maxConnections: config.maxConnections,
      ...(config.upstreamProxy ? { upstreamProxy: config.upstreamProxy.display } : {}),
      auth: config.auth !== undefined,
    },
    'gateway listening',
  );
  if (!config.auth && !isLoopbackHost(address.host)) {
    log.warn(
      { host: address.host, port: address.port },
      'gateway listens beyond loopback without proxy authentication: anyone who can reach it can tunnel to the allowed hosts (set auth)',
    );
  }

  return {
    address: () => ({ ...address }),
    activeTunnels: () => tunnels.size,
    close(graceMs?: number): Promise<void> {
      closePromise ??= (async () => {
        closing = true;
        const grace = graceMs ?? config.shutdownGraceMs;
        log.info({ count: tunnels.size, durationMs: grace }, 'gateway stopping');
        const drained = new Promise<void>((resolve) => {
          onDrained = resolve;
          if (tunnels.size === 0) resolve();
        });
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => {
          for (const t of [...tunnels]) destroyTunnel(t, 'shutdown');
          for (const socket of [...detached]) socket.destroy();
          server.closeAllConnections();
        }, grace);
        timer.unref();
        await Promise.all([drained, serverClosed]);
        clearTimeout(timer);
        stopCollecting?.();
        log.info({}, 'gateway stopped');
      })();
      return closePromise;
    },
  };
}

/** Checks a `Proxy-Authorization: Basic …` header against the expected `user:password` digest. */
function authorized(header: string | undefined, expected: Buffer): boolean {
  if (header === undefined) return false;
  const m = /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!m) return false;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  return timingSafeEqual(sha256(decoded), expected);
}
