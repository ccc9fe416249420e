import type { HostDescription } from '../ports/host-info.js';

function clean(s: string): string {
  // Header values must be visible ASCII; parentheses would break the comment syntax.
  return s.replace(/[^\x20-\x7e]|[()]/g, '_').trim();
}

/** `OMA/<version> (<os type>; <os name>)`, the User-Agent of every request the agent sends. */
export function userAgent(agentVersion: string, host: Pick<HostDescription, 'osType' | 'osName'>): string {
  const os = [host.osType, host.osName].map(clean).filter((s) => s !== '').join('; ');
  return `OMA/${clean(agentVersion) || 'unknown'}${os ? ` (${os})` : ''}`;
}
