import { readFileSync } from 'node:fs';
import { BlockList, isIP, isIPv6 } from 'node:net';
import { Secret } from '../config/secret.js';
import { ConfigError } from '../errors.js';
import type { ProxySpec } from './egress.js';

/**
 * Azure IMDS (docs/protocol-notes.md#imds): never proxied, whatever `noProxy` says. Proxies answer it with 502/504
 * and managed identity then looks unavailable.
 */
export const IMDS_HOST = '169.254.169.254';

/** Proxy port when the URL names none: the scheme's port (80 for http, 443 for https). */
export const DEFAULT_PROXY_PORTS: Readonly<Record<ProxySpec['protocol'], number>> = { 'http:': 80, 'https:': 443 };

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
const HOSTNAME_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

function fail(message: string): never {
  // Messages name the part that is wrong, never the input: it may hold the password.
  throw new ConfigError(`invalid proxy URL: ${message}`);
}

/** Decodes `%XX` escapes; a `%` that starts no valid escape is kept as it is. */
function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const PORT_PROBLEM = 'the port must be a number between 1 and 65535';

/** `host[:port]` (IPv6 in brackets), or what is wrong with it. The port is absent when not written. */
function parseHostPort(text: string): { host: string; port?: number } | string {
  if (text === '') return 'the host is missing';
  if (/\s/.test(text)) return 'the host and port cannot contain spaces';
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const m = /^\[([^\]]*)\](.*)$/.exec(text);
    if (!m || !isIPv6(m[1]!)) return 'brackets must hold an IPv6 address, e.g. [fd00::1]:3128';
    if (m[2] !== '' && !m[2]!.startsWith(':')) return 'only ":port" may follow the IPv6 address in brackets';
    host = m[1]!.toLowerCase();
    portText = m[2] === '' ? undefined : m[2]!.slice(1);
  } else {
    const colon = text.indexOf(':');
    if (colon >= 0 && text.includes(':', colon + 1)) {
      return isIPv6(text)
        ? 'an IPv6 address must be written in brackets, e.g. [fd00::1]:3128'
        : 'more than one ":" after the host: write host:port with one port';
    }
    host = (colon >= 0 ? text.slice(0, colon) : text).toLowerCase().replace(/\.$/, '');
    portText = colon >= 0 ? text.slice(colon + 1) : undefined;
    if (host === '') return 'the host is missing';
    if (!HOSTNAME_RE.test(host)) return 'the host must be a DNS name or an IP address';
  }
  if (portText === undefined) return { host };
  if (!/^\d{1,5}$/.test(portText)) return PORT_PROBLEM;
  const port = Number(portText);
  if (port < 1 || port > 65535) return PORT_PROBLEM;
  return { host, port };
}

/**
 * Parses a proxy in the OMS `proxy.conf` / MMA format, `[protocol://][user:password@]host[:port]`
 * (docs/protocol-notes.md#proxy-format).
 *
 * - The scheme is `http` (assumed when absent) or `https` (TLS to the proxy itself). Targets are always
 *   tunnelled with CONNECT either way.
 * - Surrounding whitespace, a trailing newline and a trailing `/` are ignored. Nothing else may follow
 *   the host and port: no path, query or fragment.
 * - The credentials end at the last `@`, and the user name at the first `:` of the credentials. User and
 *   password are percent-decoded (`%40` is `@`); a `%` that starts no valid escape is kept.
 * - A password may also hold raw `/`, `?` and `#` (as OMS's proxy.conf allows), as long as the text is
 *   not also a proxy URL with a path, query or fragment: when the part before the first `/`, `?` or `#`
 *   is a valid `[user:password@]host[:port]` and an `@` follows, the text is refused as ambiguous
 *   (`http://proxy:3128/x@evil.example` names proxy:3128, not evil.example). Percent-encoding such a
 *   password (`%2F`, `%3F`, `%23`) always works.
 * - IPv6 literals go in brackets: `[fd00::1]:3128`.
 * - Without a port: 80 for http, 443 for https.
 *
 * Throws a `ConfigError` whose message never contains the password (nor any other part of the input).
 */
export function parseProxyUrl(text: string): ProxySpec {
  let rest = text.trim();
  if (rest === '') fail('it is empty');
  let protocol: ProxySpec['protocol'] = 'http:';
  const scheme = SCHEME_RE.exec(rest);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name !== 'http' && name !== 'https') {
      fail(`unsupported scheme ${name.length <= 16 ? `${name}:// ` : ''}(use http:// or https://)`);
    }
    protocol = name === 'https' ? 'https:' : 'http:';
    rest = rest.slice(scheme[0].length);
  } else if (/^https?:(?!\d+\/*$)/i.test(rest)) {
    // `http:proxy:3128`: a scheme without "//" (a host named http with a port is still `http:8080`).
    fail('the scheme must be followed by "//", as in http://host:port or https://host:port');
  }
  rest = rest.replace(/\/+$/, '');
  const end = rest.search(/[/?#]/);
  if (end >= 0) {
    if (!rest.includes('@', end)) fail('only [user:password@]host[:port] may follow the scheme (no path, query or fragment)');
    const authority = rest.slice(0, end);
    if (typeof parseHostPort(authority.slice(authority.lastIndexOf('@') + 1)) !== 'string') {
      fail(
        'an "@" follows the host in a path, query or fragment; only [user:password@]host[:port] may follow the scheme ' +
          '(percent-encode "/", "?" and "#" in a password as %2F, %3F and %23)',
      );
    }
  }
  const at = rest.lastIndexOf('@');
  const credentials = at >= 0 ? rest.slice(0, at) : undefined;
  const hostPort = parseHostPort(at >= 0 ? rest.slice(at + 1) : rest);
  if (typeof hostPort === 'string') {
    fail(/[/?#]/.test(rest.slice(at + 1)) ? 'only [user:password@]host[:port] may follow the scheme (no path, query or fragment)' : hostPort);
  }
  const { host } = hostPort;
  const port = hostPort.port ?? DEFAULT_PROXY_PORTS[protocol];

  if (credentials === undefined) return { protocol, host, port };
  const colon = credentials.indexOf(':');
  const username = percentDecode(colon >= 0 ? credentials.slice(0, colon) : credentials);
  if (username === '') fail('the user name before ":" is empty');
  if (colon < 0) return { protocol, host, port, username };
  const password = percentDecode(credentials.slice(colon + 1));
  return { protocol, host, port, username, ...(password !== '' ? { password: new Secret(password, 'proxy URL') } : {}) };
}

/**
 * Reads a one-line proxy file such as OMS's `/etc/opt/microsoft/omsagent/proxy.conf`. An empty file
 * (or one holding only whitespace) means no proxy. Synchronous: it runs while the config is loaded.
 * Throws a `ConfigError` naming the file when it cannot be read or parsed.
 */
export function readProxyConf(path: string): ProxySpec | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read proxy file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'read error'}`, [], { cause: err });
  }
  if (text.trim() === '') return undefined;
  try {
    return parseProxyUrl(text);
  } catch (err) {
    throw new ConfigError(`proxy file ${path}: ${(err as Error).message}`);
  }
}

function urlHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

/** The proxy URL for logs and messages: `http://user:***@host:port` (the password is never shown). */
export function redactedProxyUrl(spec: ProxySpec): string {
  const user = spec.username !== undefined ? `${encodeURIComponent(spec.username)}${spec.password ? ':***' : ''}@` : '';
  return `${spec.protocol}//${user}${urlHost(spec.host)}:${spec.port}`;
}

/** The proxy URL without credentials (what undici is given; credentials travel in a header). */
export function proxyOrigin(spec: ProxySpec): string {
  return `${spec.protocol}//${urlHost(spec.host)}:${spec.port}`;
}

/** `Proxy-Authorization` value for Basic authentication (RFC 7617), or undefined without a user. */
export function proxyAuthorization(spec: ProxySpec): string | undefined {
  if (spec.username === undefined) return undefined;
  const pair = `${spec.username}:${spec.password?.reveal() ?? ''}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}

/** One `noProxy` entry, parsed. */
type NoProxyRule =
  | { readonly kind: 'all' }
  | { readonly kind: 'domain'; readonly domain: string; readonly port?: number }
  | { readonly kind: 'ip'; readonly list: BlockList; readonly port?: number };

function splitPort(entry: string): { host: string; port?: number } | undefined {
  if (entry.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(entry);
    if (!m) return undefined;
    return { host: m[1]!, ...(m[2] !== undefined ? { port: Number(m[2]) } : {}) };
  }
  if (isIPv6(entry.split('/')[0]!)) return { host: entry };
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(entry);
  if (!m) return undefined;
  return { host: m[1]!, ...(m[2] !== undefined ? { port: Number(m[2]) } : {}) };
}

function parseNoProxyEntry(raw: string): NoProxyRule | string {
  const entry = raw.trim().toLowerCase();
  if (entry === '') return 'an entry is empty';
  if (entry === '*') return { kind: 'all' };
  const parts = splitPort(entry);
  if (!parts) return `${raw.trim()} is not a host, host:port, IP address or CIDR range`;
  const { host, port } = parts;
  if (port !== undefined && (port < 1 || port > 65535)) return `${raw.trim()}: the port must be between 1 and 65535`;
  const withPort = port !== undefined ? { port } : {};
  const slash = host.indexOf('/');
  if (slash >= 0) {
    const net = host.slice(0, slash);
    const bitsText = host.slice(slash + 1);
    const family = isIP(net);
    const bits = Number(bitsText);
    if (family === 0 || !/^\d{1,3}$/.test(bitsText) || bits > (family === 4 ? 32 : 128)) {
      return `${raw.trim()} is not a valid CIDR range such as 10.0.0.0/8`;
    }
    const list = new BlockList();
    list.addSubnet(net, bits, family === 4 ? 'ipv4' : 'ipv6');
    return { kind: 'ip', list, ...withPort };
  }
  const family = isIP(host);
  if (family !== 0) {
    const list = new BlockList();
    list.addAddress(host, family === 4 ? 'ipv4' : 'ipv6');
    return { kind: 'ip', list, ...withPort };
  }
  // `.example.com`, `*.example.com` and `example.com` all match example.com and its subdomains.
  const domain = host.replace(/^\*?\./, '').replace(/\.$/, '');
  if (!HOSTNAME_RE.test(domain)) return `${raw.trim()} is not a host, host:port, IP address or CIDR range`;
  return { kind: 'domain', domain, ...withPort };
}

/** Checks one `noProxy` entry; returns an error message, or undefined when it is valid. */
export function checkNoProxyEntry(entry: string): string | undefined {
  const r = parseNoProxyEntry(entry);
  return typeof r === 'string' ? r : undefined;
}

const ruleCache = new WeakMap<readonly string[], readonly NoProxyRule[]>();

function rulesOf(noProxy: readonly string[]): readonly NoProxyRule[] {
  let rules = ruleCache.get(noProxy);
  if (!rules) {
    rules = noProxy.map(parseNoProxyEntry).filter((r): r is NoProxyRule => typeof r !== 'string');
    ruleCache.set(noProxy, rules);
  }
  return rules;
}

/**
 * Whether a connection to `hostname:port` goes direct although a proxy is configured, with `NO_PROXY`
 * semantics:
 * - `*` matches every host;
 * - `example.com`, `.example.com` and `*.example.com` match example.com and all its subdomains;
 * - an IP address matches that address, a CIDR range (`10.0.0.0/8`, `fd00::/8`) the addresses in it
 *   (only when the target is given as an IP address: names are not resolved);
 * - `[::1]`-style brackets for IPv6; any entry may end with `:port` to match that port only.
 *
 * Loopback targets are not bypassed implicitly. Azure IMDS (169.254.169.254) always is.
 * Invalid entries are ignored here (the config schema rejects them).
 */
export function bypassesProxy(hostname: string, port: number, noProxy: readonly string[]): boolean {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (host === IMDS_HOST) return true;
  const family = isIP(host);
  for (const rule of rulesOf(noProxy)) {
    if (rule.kind === 'all') return true;
    if (rule.port !== undefined && rule.port !== port) continue;
    if (rule.kind === 'ip') {
      if (family !== 0 && rule.list.check(host, family === 4 ? 'ipv4' : 'ipv6')) return true;
    } else if (family === 0 && (host === rule.domain || host.endsWith(`.${rule.domain}`))) {
      return true;
    }
  }
  return false;
}
