import { describe, expect, it } from 'vitest';
import { ClientNetworks, DEFAULT_CLIENT_NETWORKS, parseCidr, type Cidr } from './client-networks.js';

function networks(list: readonly string[]): ClientNetworks {
  return new ClientNetworks(list.map((t) => parseCidr(t) as Cidr));
}

describe('client networks', () => {
  it('parses CIDR blocks of both families, a bare address as a single host, and refuses the rest', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('2001:db8::/32')).toEqual({ address: '2001:db8::', prefix: 32, family: 'ipv6' });
    expect(parseCidr('192.0.2.7')).toEqual({ address: '192.0.2.7', prefix: 32, family: 'ipv4' });
    expect(parseCidr('10.0.0.0/33')).toMatch(/0 to 32/);
    expect(parseCidr('fe80::/129')).toMatch(/0 to 128/);
    expect(parseCidr('10.0.0/8')).toMatch(/not an IPv4 or IPv6 address/);
    expect(parseCidr('corp.example/24')).toMatch(/not an IPv4 or IPv6 address/);
    expect(parseCidr('10.0.0.0/x')).toMatch(/whole number/);
  });

  it('by default serves loopback and private ranges of both families, not the internet', () => {
    const n = networks(DEFAULT_CLIENT_NETWORKS);
    for (const a of ['127.0.0.1', '10.20.30.40', '172.31.255.1', '192.168.1.5', '100.64.0.9', '::1', 'fd12:3456::1', 'fe80::1c2d']) {
      expect(n.allows(a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '172.32.0.1', '192.169.0.1', '2001:db8::1', '2606:4700::1111']) expect(n.allows(a), a).toBe(false);
  });

  it('treats an IPv4 client of a dual-stack socket as IPv4, and refuses what is no address', () => {
    const n = networks(['10.1.0.0/16']);
    expect(n.allows('::ffff:10.1.2.3')).toBe(true);
    expect(n.allows('::ffff:10.2.0.1')).toBe(false);
    expect(n.allows(undefined)).toBe(false);
    expect(n.allows('not-an-address')).toBe(false);
  });
});
