import { readFile } from 'node:fs/promises';
import * as os from 'node:os';
import type { HostDescription, HostInfo } from '@oma/core';
import { privateIPs } from '@oma/core';
import { osVersionFromRelease, parseOsRelease, splitVersion, type OsVersion } from './os-release.js';

/** Where os-release(5) lives, in the order systemd documents. */
export const OS_RELEASE_PATHS: readonly string[] = ['/etc/os-release', '/usr/lib/os-release'];

/** What `linuxHostInfo` reads; every member can be replaced (tests pass fakes). */
export interface LinuxHostInfoDeps {
  readonly osReleasePaths?: readonly string[];
  readonly readFile?: (path: string) => Promise<string>;
  readonly hostname?: () => string;
  readonly type?: () => string;
  readonly release?: () => string;
  readonly networkInterfaces?: () => NodeJS.Dict<os.NetworkInterfaceInfo[]>;
}

/** The short host name, as the Log Analytics agent reports it: the part before the first dot. */
export function shortHostname(hostname: string): string {
  const short = hostname.trim().split('.')[0];
  return short || hostname.trim() || 'localhost';
}

/** Reads the first os-release file that exists and names an OS; undefined when none does. */
async function readOsRelease(paths: readonly string[], read: (path: string) => Promise<string>): Promise<OsVersion | undefined> {
  for (const path of paths) {
    let text: string;
    try {
      text = await read(path);
    } catch {
      // Missing or unreadable: try the next location, then fall back to the kernel's answer.
      continue;
    }
    const version = osVersionFromRelease(parseOsRelease(text));
    if (version) return version;
  }
  return undefined;
}

/** Host facts on Linux: /etc/os-release for the OS, node:os for the name and addresses. */
export function linuxHostInfo(deps: LinuxHostInfoDeps = {}): HostInfo {
  const paths = deps.osReleasePaths ?? OS_RELEASE_PATHS;
  const read = deps.readFile ?? ((path: string) => readFile(path, 'utf8'));
  const hostname = deps.hostname ?? os.hostname;
  const type = deps.type ?? os.type;
  const release = deps.release ?? os.release;
  const networkInterfaces = deps.networkInterfaces ?? os.networkInterfaces;

  return {
    async describe(): Promise<HostDescription> {
      const fromFile = await readOsRelease(paths, read);
      let version: OsVersion;
      if (fromFile) {
        version = fromFile;
      } else {
        const kernel = splitVersion(release());
        version = { osName: type() || 'Linux', osMajorVersion: kernel?.major ?? '', osMinorVersion: kernel?.minor ?? '' };
      }
      return {
        computer: shortHostname(hostname()),
        osType: 'Linux',
        ...version,
        privateIPs: privateIPs(networkInterfaces()),
      };
    },
  };
}
