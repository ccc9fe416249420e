import { createRequire } from 'node:module';
import type { Dispatcher, Pool as UndiciPool, ProxyAgent as UndiciProxyAgent } from 'undici';
import type { Egress } from './egress.js';
import { bypassesProxy, proxyAuthorization, proxyOrigin } from './proxy.js';

// Only the parts of undici the agent uses, and its request API, as undici's own index wires them: the
// index loads the whole library (fetch, WebSocket, caches, mocks), about 60 ms and 9 MiB at every start.
const require = createRequire(import.meta.url);
const DispatcherClass = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
Object.assign(DispatcherClass.prototype, require('undici/lib/api/index.js') as object);
const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
const ProxyAgent = require('undici/lib/dispatcher/proxy-agent.js') as typeof UndiciProxyAgent;

/** Client-side TLS material: a private CA bundle and a client certificate (mutual TLS). */
export interface TlsClientOptions {
  /** Trusted CA certificates (PEM), replacing Node's bundled list when given. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Client certificate chain (PEM) for mutual TLS. */
  readonly cert?: string | Buffer;
  /** Private key of `cert` (PEM). */
  readonly key?: string | Buffer;
  /** Client certificate and key as one PKCS#12 (PFX) file, instead of `cert` and `key`. */
  readonly pfx?: string | Buffer;
  /** Decrypts `key` or `pfx`. */
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
  /** TLS material; `egress.tls` takes precedence over it, option by option. */
  readonly tls?: TlsClientOptions;
  /** Proxy, proxy exceptions and TLS material (direct, default TLS when absent). */
  readonly egress?: Egress;
}

/** Oldest TLS version we negotiate; Azure enforces 1.2 and the agent offers nothing older. */
export const MIN_TLS_VERSION = 'TLSv1.2';

/** The default port of an http(s) URL when it names none. */
function effectivePort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/**
 * Creates the dispatcher for one endpoint origin, with an explicit connection count, header/body
 * timeouts, TLS 1.2 minimum (1.3 when `tls.minVersion` says so) and the private CA and client
 * certificate of `tls`, if any.
 *
 * Without a proxy, or when the origin bypasses it (`egress.noProxy`, Azure IMDS), it is an undici
 * `Pool` connecting directly. Otherwise it is an undici `ProxyAgent` that opens every connection as a
 * CONNECT tunnel through the proxy (https and plain http targets alike), authenticates with Basic
 * credentials when the proxy has a user, speaks TLS to the proxy itself for `https:` proxies, and runs
 * the target's TLS inside the tunnel with the same TLS options as a direct connection.
 *
 * Callers always pass `origin` with each request (`dispatcher.request({ origin, path, ... })`) and
 * close the dispatcher when done. This is the only function that knows about proxies.
 */
export function createDispatcher(origin: string | URL, opts: DispatcherOptions): Dispatcher {
  const tls: TlsClientOptions = { ...opts.tls, ...opts.egress?.tls };
  const timeout = opts.connectTimeoutMs ?? 10_000;
  const minVersion = tls.minVersion ?? MIN_TLS_VERSION;
  const ca = tls.ca !== undefined ? { ca: tls.ca as string | Buffer | Array<string | Buffer> } : {};
  const connect = {
    minVersion,
    timeout,
    ...ca,
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    ...(tls.pfx !== undefined ? { pfx: tls.pfx } : {}),
    ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
  };
  const pool = {
    connections: Math.max(1, Math.floor(opts.connections)),
    headersTimeout: opts.headersTimeoutMs,
    bodyTimeout: opts.bodyTimeoutMs,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 4_000,
  };
  const proxy = opts.egress?.proxy;
  const url = new URL(origin);
  if (proxy === undefined || bypassesProxy(url.hostname, effectivePort(url), opts.egress?.noProxy ?? [])) {
    return new Pool(origin, { ...pool, connect });
  }
  const token = proxyAuthorization(proxy);
  return new ProxyAgent({
    ...pool,
    uri: proxyOrigin(proxy),
    ...(token !== undefined ? { token } : {}),
    // Plain http targets (loopback only, or allowInsecureHttp) are tunnelled too, never forwarded.
    proxyTunnel: true,
    requestTls: connect,
    // TLS towards an https: proxy: the same CA bundle and minimum version, no client certificate.
    proxyTls: { minVersion, timeout, ...ca },
    // The connection to the proxy that carries CONNECT requests: bounded like the target's.
    clientFactory: (proxyUrl: URL, o: object) =>
      new Pool(proxyUrl, { ...o, headersTimeout: opts.headersTimeoutMs, bodyTimeout: opts.bodyTimeoutMs, keepAliveTimeout: pool.keepAliveTimeout }),
  });
}
