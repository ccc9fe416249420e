import type { NetworkInterfaceInfo } from 'node:os';

function isLinkLocal(info: NetworkInterfaceInfo, family: 'IPv4' | 'IPv6'): boolean {
  if (family === 'IPv6') return /^fe[89ab]/i.test(info.address);
  return info.address.startsWith('169.254.');
}

/**
 * The host's own addresses as Heartbeat reports them: every non-internal IPv4 address, then every
 * non-internal IPv6 address, leaving out link-local ones (`fe80::/10`, `169.254.0.0/16`) and duplicates.
 */
export function privateIPs(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string[] {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      if (info.internal) continue;
      // Node 18.0–18.3 reported the family as a number.
      const family = String(info.family) === '6' || info.family === 'IPv6' ? 'IPv6' : 'IPv4';
      if (isLinkLocal(info, family)) continue;
      const list = family === 'IPv4' ? v4 : v6;
      if (!list.includes(info.address)) list.push(info.address);
    }
  }
  return [...v4, ...v6];
}
