import { isIP } from 'node:net';

/** A CONNECT target: a lower-case host name or IP address (IPv6 without brackets) and a port. */
export interface Target {
  readonly host: string;
  readonly port: number;
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const MAX_HOST_LENGTH = 253;

/** True for a DNS name made of valid labels (letters, digits, `-`, `_`), at most 253 characters. */
function isHostName(host: string): boolean {
  if (host.length === 0 || host.length > MAX_HOST_LENGTH) return false;
  return host.split('.').every((label) => LABEL.test(label));
}

/**
 * Lower-cases a host, removes one trailing dot and IPv6 brackets, and writes IPv6 addresses in their
 * canonical compressed form. Returns undefined when the result is neither a host name nor an IP address.
 */
export function normalizeHost(raw: string): string | undefined {
  let host = raw.trim().toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (isIP(host) === 6) return canonicalIPv6(host);
  if (isIP(host) === 4) return host;
  return isHostName(host) ? host : undefined;
}

function canonicalIPv6(addr: string): string {
  return new URL(`http://[${addr}]/`).hostname.slice(1, -1);
}

/**
 * Checks an allowlist pattern: an exact host (`login.microsoftonline.com`, `10.0.0.5`, `::1`) or a
 * wildcard `*.<host name>` that matches any name with at least one more label in front of the suffix.
 * Returns a message describing the problem, or undefined when the pattern is valid.
 */
export function hostPatternProblem(pattern: string): string | undefined {
  const p = pattern.trim().toLowerCase();
  if (p.startsWith('*.')) {
    const suffix = p.slice(2);
    if (isIP(suffix) !== 0 || !isHostName(suffix)) return `invalid wildcard host pattern "${pattern}": expected *.<host name>`;
    return undefined;
  }
  if (p.includes('*')) return `invalid host pattern "${pattern}": "*" is only allowed as the first label ("*.example.com")`;
  if (normalizeHost(p) === undefined) return `invalid host pattern "${pattern}": not a host name or IP address`;
  return undefined;
}

/** A compiled allowlist of host patterns, matched case-insensitively. */
export class HostAllowlist {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];

  /** Throws on an invalid pattern (the config schema checks them first). */
  constructor(patterns: readonly string[]) {
    for (const raw of patterns) {
      const problem = hostPatternProblem(raw);
      if (problem) throw new Error(problem);
      const p = raw.trim().toLowerCase();
      if (p.startsWith('*.')) this.suffixes.push(p.slice(1));
      else this.exact.add(normalizeHost(p)!);
    }
  }

  /** `host` must already be normalized (see `normalizeHost`). */
  allows(host: string): boolean {
    if (this.exact.has(host)) return true;
    if (isIP(host) !== 0) return false;
    return this.suffixes.some((suffix) => host.length > suffix.length && host.endsWith(suffix));
  }
}

/**
 * Parses a CONNECT request target in authority form: `host:port` or `[ipv6]:port`. Returns undefined
 * for anything else (a missing or out-of-range port, an invalid host, a URL).
 */
export function parseAuthority(authority: string): Target | undefined {
  let hostPart: string;
  let portPart: string;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0 || authority[end + 1] !== ':') return undefined;
    hostPart = authority.slice(1, end);
    portPart = authority.slice(end + 2);
    if (isIP(hostPart) !== 6) return undefined;
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon <= 0) return undefined;
    hostPart = authority.slice(0, colon);
    portPart = authority.slice(colon + 1);
    if (hostPart.includes(':')) return undefined;
  }
  if (!/^\d{1,5}$/.test(portPart)) return undefined;
  const port = Number(portPart);
  if (port < 1 || port > 65535) return undefined;
  const host = normalizeHost(hostPart);
  if (host === undefined) return undefined;
  return { host, port };
}

/** Formats a target for logs and request lines: `host:port`, with brackets around IPv6 addresses. */
export function formatTarget(target: Target): string {
  return isIP(target.host) === 6 ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}
