import { isIPv4 } from 'node:net';

/** True for hosts that name this machine: 127.0.0.0/8, ::1, `localhost` and `*.localhost`. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  return false;
}

/**
 * Checks the shape of a service URL: http or https, no credentials, query or fragment. Returns an
 * error message, or undefined when the URL is fine. See `isInsecureRemoteUrl` for the http rule.
 */
export function checkServiceUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL such as https://my-dce.eastus-1.ingest.monitor.azure.com';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `unsupported scheme ${url.protocol} (use https)`;
  if (url.username !== '' || url.password !== '') return 'must not contain credentials';
  if (url.search !== '' || url.hash !== '') return 'must not contain a query or fragment';
  return undefined;
}

/** True for a plain-http URL towards a host other than loopback (allowed only when explicitly enabled). */
export function isInsecureRemoteUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && !isLoopbackHost(url.hostname);
  } catch {
    return false;
  }
}

export const INSECURE_HTTP_MESSAGE =
  'plain http is allowed only towards a loopback host (127.0.0.1, ::1, localhost) unless allowInsecureHttp is true';

/** The URL without a trailing slash, so that paths can be appended. */
export function trimTrailingSlash(value: string): string {
  return value.replace(/\/+$/, '');
}
