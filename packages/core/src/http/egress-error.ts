import { errorChain, errorCode } from './classify.js';
import type { Egress } from './egress.js';
import { bypassesProxy, redactedProxyUrl } from './proxy.js';

/** Errors that mean the TCP connection (to the proxy, when one is used) could not be opened. */
const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Certificate verification failures (OpenSSL codes as Node reports them). */
const UNTRUSTED_CERT_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);

/** TLS version negotiation failures. */
const TLS_VERSION_CODES: ReadonlySet<string> = new Set([
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_NO_PROTOCOLS_AVAILABLE',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** The messages of an error and its causes (an AggregateError's members included). */
function messages(err: unknown): string[] {
  const out: string[] = [];
  for (const e of errorChain(err)) {
    const m = (e as { message?: unknown }).message;
    if (typeof m === 'string') out.push(m);
  }
  return out;
}

/** The status a proxy refused a CONNECT with, as undici reports it, if that is what `err` is. */
export function proxyRefusalStatus(err: unknown): number | undefined {
  for (const m of messages(err)) {
    const tunnel = /Proxy response \((\d{3})\) !== 200/.exec(m);
    if (tunnel) return Number(tunnel[1]);
    if (/Proxy Authentication Required \(407\)/.test(m)) return 407;
  }
  return undefined;
}

/**
 * A clear, secret-free sentence for a failed request when the cause lies in the egress path: the proxy
 * refused the tunnel (407: wrong or missing credentials; another status: the proxy does not allow the
 * host), the proxy cannot be reached, or TLS failed (an untrusted certificate, as a TLS-inspecting
 * proxy presents, or a server below `tls.minVersion`). Undefined for other errors, which callers
 * describe their own way.
 *
 * `origin` is the URL the request went to: errors towards an origin that bypasses the proxy are not
 * blamed on it. The proxy appears as `http://user:***@host:port`; the password never does.
 */
export function describeEgressError(err: unknown, egress: Egress, origin?: string | URL): string | undefined {
  let target: URL | undefined;
  try {
    target = origin === undefined ? undefined : new URL(origin);
  } catch {
    target = undefined;
  }
  const proxy = egress.proxy;
  const port = target === undefined ? 0 : target.port !== '' ? Number(target.port) : target.protocol === 'https:' ? 443 : 80;
  const proxied = proxy !== undefined && (target === undefined || !bypassesProxy(target.hostname, port, egress.noProxy));
  const host = target?.host;
  if (proxied) {
    const at = redactedProxyUrl(proxy);
    const status = proxyRefusalStatus(err);
    if (status === 407) {
      return proxy.username === undefined
        ? `proxy authentication failed (407) at ${at}: the proxy requires a user and password`
        : `proxy authentication failed (407) at ${at}: check the proxy user and password`;
    }
    if (status !== undefined) {
      return `proxy ${at} refused the tunnel${host ? ` to ${host}` : ''} (HTTP ${status}): check that the proxy allows CONNECT to this host and port`;
    }
  }
  const code = errorCode(err);
  if (code !== undefined && UNTRUSTED_CERT_CODES.has(code)) {
    return `the TLS certificate of ${host ?? 'the server'} is not trusted (${code}): set tls.caFile to the CA that issued it${
      proxied ? ' (a TLS-inspecting proxy signs with its own CA)' : ''
    }`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the TLS certificate of ${host ?? 'the server'} does not name that host (${code})`;
  }
  if (code !== undefined && TLS_VERSION_CODES.has(code)) {
    const min = egress.tls.minVersion === 'TLSv1.3' ? '1.3' : '1.2';
    return `TLS handshake with ${host ?? 'the server'} failed (${code}): the server does not support TLS ${min} or newer (tls.minVersion)`;
  }
  if (proxied && code !== undefined) {
    if (code === 'UND_ERR_PRX_TLS') return `TLS connection to the proxy ${redactedProxyUrl(proxy)} failed (${code})`;
    if (CONNECT_ERROR_CODES.has(code)) return `cannot connect to the proxy ${redactedProxyUrl(proxy)} (${code})`;
    return `request through the proxy ${redactedProxyUrl(proxy)} failed (${code})`;
  }
  return undefined;
}
