import type { Secret } from '../config/secret.js';
import type { TlsClientOptions } from './dispatcher.js';

/** A forward proxy (docs/protocol-notes.md#proxy-format): `[protocol://][user:password@]host[:port]`, parsed. */
export interface ProxySpec {
  /** Scheme towards the proxy itself; HTTPS targets are always tunnelled with CONNECT. */
  readonly protocol: 'http:' | 'https:';
  /** Host name or IP literal (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** Basic proxy authentication (RFC 7617); the password is never printed. */
  readonly username?: string;
  readonly password?: Secret;
}

/**
 * How a component reaches a service: directly or through a proxy, and with which TLS material.
 * `createDispatcher` is the only code that acts on it.
 */
export interface Egress {
  readonly proxy?: ProxySpec;
  /** Hosts reached directly even when a proxy is set (`NO_PROXY` syntax). IMDS is always direct. */
  readonly noProxy: readonly string[];
  readonly tls: TlsClientOptions;
}

/** Direct connections with the default TLS settings (TLS 1.2 minimum, Node's CA bundle). */
export const DIRECT_EGRESS: Egress = Object.freeze({ noProxy: [], tls: {} });
