import { Pool, type Dispatcher } from 'undici';

/** Client-side TLS material: a private CA bundle and a client certificate (mutual TLS). */
export interface TlsClientOptions {
  /** Trusted CA certificates (PEM), replacing Node's bundled list when given. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Client certificate chain (PEM) for mutual TLS. */
  readonly cert?: string | Buffer;
  /** Private key of `cert` (PEM). */
  readonly key?: string | Buffer;
  readonly passphrase?: string;
  /** Oldest TLS version accepted: 1.2 (default) or 1.3. Nothing older is ever offered. */
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export interface DispatcherOptions {
  /** Connections (hence concurrent requests) to the origin. */
  readonly connections: number;
  /** Time to wait for the response headers once the request is sent. */
  readonly headersTimeoutMs: number;
  /** Maximum time between two chunks of the response body. */
  readonly bodyTimeoutMs: number;
  /** Time to establish the connection, TLS handshake included (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** How long an idle keep-alive connection is kept (default 4 s). */
  readonly keepAliveTimeoutMs?: number;
  readonly tls?: TlsClientOptions;
}

/** Oldest TLS version we negotiate; Azure enforces 1.2 and the agent offers nothing older. */
export const MIN_TLS_VERSION = 'TLSv1.2';

/**
 * Creates the dispatcher for one endpoint origin: an undici `Pool` with an explicit connection count,
 * header/body timeouts and TLS 1.2 minimum.
 *
 * Callers always pass `origin` with each request (`dispatcher.request({ origin, path, ... })`) and
 * close the dispatcher when done, so this function is the only place that changes when egress goes
 * through a forward proxy (an undici `ProxyAgent` taking the same TLS options for the tunnelled
 * connection).
 */
export function createDispatcher(origin: string | URL, opts: DispatcherOptions): Dispatcher {
  const tls = opts.tls ?? {};
  return new Pool(origin, {
    connections: Math.max(1, Math.floor(opts.connections)),
    headersTimeout: opts.headersTimeoutMs,
    bodyTimeout: opts.bodyTimeoutMs,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 4_000,
    connect: {
      minVersion: MIN_TLS_VERSION,
      timeout: opts.connectTimeoutMs ?? 10_000,
      ...(tls.ca !== undefined ? { ca: tls.ca as string | Buffer | Array<string | Buffer> } : {}),
      ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
      ...(tls.key !== undefined ? { key: tls.key } : {}),
      ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
    },
  });
}
