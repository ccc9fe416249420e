import { BlockList, isIP } from 'node:net';

/**
 * The client networks a gateway serves when none are configured: loopback, and the private and
 * link-local ranges a site's agents use (RFC 1918, RFC 6598 shared space, IPv6 unique local and link
 * local). Addresses on the internet are refused.
 */
export const DEFAULT_CLIENT_NETWORKS: readonly string[] = [
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '169.254.0.0/16',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
];

/** A parsed CIDR block (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a /32 or /128). */
export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** Parses `text` as a CIDR block; a string saying what is wrong when it is not one. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const address = (slash < 0 ? text : text.slice(0, slash)).trim();
  const version = isIP(address);
  if (version === 0) return `not an IPv4 or IPv6 address: "${address}"`;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return `prefix length must be a whole number from 0 to ${max}: "${p}"`;
    prefix = Number(p);
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** `::ffff:10.1.2.3` (an IPv4 client on a dual-stack socket) as the IPv4 address it is. */
function unmapped(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** Which client addresses may use the gateway. */
export class ClientNetworks {
  private readonly list = new BlockList();

  constructor(cidrs: readonly Cidr[]) {
    for (const c of cidrs) this.list.addSubnet(c.address, c.prefix, c.family);
  }

  /** Whether a client at `address` (as `socket.remoteAddress` gives it) may connect; false when unknown. */
  allows(address: string | undefined): boolean {
    if (address === undefined) return false;
    const a = unmapped(address);
    const version = isIP(a);
    if (version === 0) return false;
    return this.list.check(a, version === 4 ? 'ipv4' : 'ipv6');
  }
}
