import { hostname, networkInterfaces, release, type } from 'node:os';
import { privateIPs, type ComponentDefinition, type HostInfo } from '@oma/core';

export interface Platform {
  readonly name: string;
  readonly hostInfo: HostInfo;
  /** Component types only this platform provides. */
  readonly components: readonly ComponentDefinition[];
}

interface PlatformModule {
  createPlatform(): { hostInfo: HostInfo; components?: readonly ComponentDefinition[] };
}

/** Loads the platform package for this OS through a guarded dynamic import; other OSes get core only. */
export async function loadPlatform(): Promise<Platform> {
  if (process.platform === 'linux' || process.platform === 'win32') {
    const mod = (process.platform === 'linux'
      ? await import('@oma/linux')
      : await import('@oma/windows')) as unknown as PlatformModule;
    const p = mod.createPlatform();
    return { name: process.platform, hostInfo: p.hostInfo, components: p.components ?? [] };
  }
  return { name: process.platform, hostInfo: genericHostInfo(), components: [] };
}

function genericHostInfo(): HostInfo {
  return {
    describe: () => {
      const [major = '', minor = ''] = release().split('.');
      return Promise.resolve({
        computer: hostname().split('.')[0] ?? hostname(),
        osType: type(),
        osName: type(),
        osMajorVersion: major,
        osMinorVersion: minor,
        privateIPs: privateIPs(networkInterfaces()),
      });
    },
  };
}
