import { hostname, networkInterfaces, release, type } from 'node:os';
import { privateIPs } from '../ports/network.js';
import type { Platform, PlatformDefaults } from './platform.js';

/** Where files go on an OS without a platform package. */
export const GENERIC_DEFAULTS: PlatformDefaults = { dataDir: '/var/lib/oma' };

/**
 * The platform of an OS without a platform package (macOS, the BSDs): core's components only, host
 * facts from Node's `os` module, files under `/var/lib/oma`.
 */
export function genericPlatform(name: string): Platform {
  return {
    name,
    components: [],
    defaults: GENERIC_DEFAULTS,
    hostInfo: {
      describe: () => {
        const [major = '', minor = ''] = release().split('.');
        return Promise.resolve({
          computer: hostname().split('.')[0] || hostname(),
          osType: type(),
          osName: type(),
          osMajorVersion: major,
          osMinorVersion: minor,
          privateIPs: privateIPs(networkInterfaces()),
        });
      },
    },
  };
}
