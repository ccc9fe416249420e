import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLoopbackHost } from '../http/url.js';
import type { Logger } from './logger.js';
import type { MetricsRegistry } from './metrics.js';

export interface ObservabilityServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: MetricsRegistry;
  readonly log: Logger;
  /** Health of the agent: 200 when true, 503 otherwise; `detail` goes into the JSON body. */
  readonly health: () => { healthy: boolean; detail?: unknown };
}

/**
 * Serves `/metrics` (Prometheus text format 0.0.4) and `/healthz` (JSON), without authentication: it
 * logs a warning at start when it listens on an address other than loopback.
 */
export class ObservabilityServer {
  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(opts: ObservabilityServerOptions): Promise<ObservabilityServer> {
    const server = createServer((req, res) => {
      try {
        const path = (req.url ?? '/').split('?')[0];
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.writeHead(405, { allow: 'GET, HEAD' }).end();
        } else if (path === '/metrics') {
          const body = opts.registry.render();
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : body);
        } else if (path === '/healthz') {
          const h = opts.health();
          res
            .writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json' })
            .end(JSON.stringify({ status: h.healthy ? 'ok' : 'degraded', detail: h.detail ?? null }));
        } else {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        }
      } catch (err) {
        opts.log.error({ err }, 'observability request failed');
        if (!res.headersSent) res.writeHead(500).end();
      }
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.unref();
    const a = server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    const url = `http://${host}:${a.port}`;
    if (!isLoopbackHost(a.address)) {
      opts.log.warn({ endpoint: url }, 'metrics endpoint listens beyond loopback and has no authentication: anyone who can reach it reads /metrics and /healthz');
    }
    return new ObservabilityServer(server, url);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
