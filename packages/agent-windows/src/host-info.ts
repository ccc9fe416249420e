import * as os from 'node:os';
import type { HostDescription, HostInfo } from '@oma/core';
import { privateIPs } from '@oma/core';

/** What `windowsHostInfo` reads; every member can be replaced (tests pass fakes). */
export interface WindowsHostInfoDeps {
  readonly hostname?: () => string;
  /** `os.version()`: the product name, e.g. "Windows Server 2022 Datacenter". */
  readonly version?: () => string;
  /** `os.release()`: "major.minor.build", e.g. "10.0.20348". */
  readonly release?: () => string;
  readonly networkInterfaces?: () => NodeJS.Dict<os.NetworkInterfaceInfo[]>;
}

/** The computer name as Windows reports it: upper case, without a DNS suffix. */
export function windowsComputerName(hostname: string): string {
  const short = hostname.trim().split('.')[0] || hostname.trim();
  return (short || 'localhost').toUpperCase();
}

/** Major and minor version from `os.release()` ("10.0.20348" gives "10" and "0"). */
export function windowsVersion(release: string): { major: string; minor: string } {
  const m = /^\s*(\d+)(?:\.(\d+))?/.exec(release);
  return m ? { major: m[1]!, minor: m[2] ?? '0' } : { major: '', minor: '' };
}

/**
 * The network interfaces, or none when they cannot be listed: GetAdaptersAddresses fails at times
 * for a service (seen under Wine as uv_interface_addresses error 2), and the addresses are a column
 * of the Heartbeat, not a reason for the agent not to start.
 */
function interfacesOrNone(list: () => NodeJS.Dict<os.NetworkInterfaceInfo[]>): NodeJS.Dict<os.NetworkInterfaceInfo[]> {
  try {
    return list();
  } catch {
    return {};
  }
}

/** Host facts on Windows, from node:os (the product name comes from `os.version()`). */
export function windowsHostInfo(deps: WindowsHostInfoDeps = {}): HostInfo {
  const hostname = deps.hostname ?? os.hostname;
  const version = deps.version ?? os.version;
  const release = deps.release ?? os.release;
  const networkInterfaces = deps.networkInterfaces ?? os.networkInterfaces;

  return {
    describe(): Promise<HostDescription> {
      const { major, minor } = windowsVersion(release());
      return Promise.resolve({
        computer: windowsComputerName(hostname()),
        osType: 'Windows',
        osName: version().trim() || 'Windows',
        osMajorVersion: major,
        osMinorVersion: minor,
        privateIPs: privateIPs(interfacesOrNone(networkInterfaces)),
      });
    },
  };
}
