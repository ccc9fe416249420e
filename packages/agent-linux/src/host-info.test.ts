import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { NetworkInterfaceInfo } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OS_RELEASE_PATHS, createPlatform, linuxHostInfo, platform, shortHostname, type LinuxHostInfoDeps } from './index.js';

const DEBIAN_12 = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`;

const UBUNTU_2204 = `PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
`;

const RHEL_93 = `NAME="Red Hat Enterprise Linux"
VERSION="9.3 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.3 (Plow)"
ANSI_COLOR="0;31"
`;

const ALPINE_3191 = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
`;

const IFACES: NodeJS.Dict<NetworkInterfaceInfo[]> = {
  lo: [
    { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
    { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128', scopeid: 0 },
  ],
  eth0: [
    { address: 'fe80::fc:ff:fe00:1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:fc:00:00:00:01', internal: false, cidr: 'fe80::fc:ff:fe00:1/64', scopeid: 2 },
    { address: '10.1.2.3', netmask: '255.255.255.0', family: 'IPv4', mac: '02:fc:00:00:00:01', internal: false, cidr: '10.1.2.3/24' },
    { address: 'fd00::2', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:fc:00:00:00:01', internal: false, cidr: 'fd00::2/64', scopeid: 0 },
  ],
  eth1: [
    { address: '192.168.7.9', netmask: '255.255.255.0', family: 'IPv4', mac: '02:fc:00:00:00:02', internal: false, cidr: '192.168.7.9/24' },
    { address: '169.254.10.1', netmask: '255.255.0.0', family: 'IPv4', mac: '02:fc:00:00:00:02', internal: false, cidr: '169.254.10.1/16' },
  ],
  docker0: [{ address: '10.1.2.3', netmask: '255.255.255.0', family: 'IPv4', mac: '02:fc:00:00:00:03', internal: false, cidr: '10.1.2.3/24' }],
};

function enoent(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
}

function fakes(files: Record<string, string>, extra: Partial<LinuxHostInfoDeps> = {}): LinuxHostInfoDeps & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    readFile: (path) => {
      reads.push(path);
      const text = files[path];
      return text === undefined ? Promise.reject(enoent(path)) : Promise.resolve(text);
    },
    hostname: () => 'web01.contoso.local',
    type: () => 'Linux',
    release: () => '6.1.0-18-amd64',
    networkInterfaces: () => IFACES,
    ...extra,
  };
}

describe('linuxHostInfo', () => {
  it.each([
    ['Debian 12', DEBIAN_12, 'Debian GNU/Linux', '12', '0'],
    ['Ubuntu 22.04', UBUNTU_2204, 'Ubuntu', '22', '04'],
    ['RHEL 9.3', RHEL_93, 'Red Hat Enterprise Linux', '9', '3'],
    ['Alpine 3.19.1', ALPINE_3191, 'Alpine Linux', '3', '19'],
  ])('reads %s from /etc/os-release', async (_name, text, osName, major, minor) => {
    const host = await linuxHostInfo(fakes({ '/etc/os-release': text })).describe();
    expect(host).toEqual({
      computer: 'web01',
      osType: 'Linux',
      osName,
      osMajorVersion: major,
      osMinorVersion: minor,
      privateIPs: ['10.1.2.3', '192.168.7.9', 'fd00::2'],
    });
  });

  it('falls back to /usr/lib/os-release when /etc/os-release is missing', async () => {
    const deps = fakes({ '/usr/lib/os-release': RHEL_93 });
    const host = await linuxHostInfo(deps).describe();
    expect(host).toMatchObject({ osName: 'Red Hat Enterprise Linux', osMajorVersion: '9', osMinorVersion: '3' });
    expect(deps.reads).toEqual(OS_RELEASE_PATHS);
  });

  it('falls back to the kernel type and release when no os-release file exists', async () => {
    const host = await linuxHostInfo(fakes({})).describe();
    expect(host).toMatchObject({ osType: 'Linux', osName: 'Linux', osMajorVersion: '6', osMinorVersion: '1' });
  });

  it('falls back when the file is unreadable or names no OS', async () => {
    const deps = fakes(
      { '/usr/lib/os-release': '# nothing useful\nFOO=bar\n' },
      {
        readFile: (path) =>
          path === '/etc/os-release'
            ? Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' }))
            : Promise.resolve('# nothing useful\nFOO=bar\n'),
        release: () => '5.15.0-101-generic',
      },
    );
    const host = await linuxHostInfo(deps).describe();
    expect(host).toMatchObject({ osName: 'Linux', osMajorVersion: '5', osMinorVersion: '15' });
  });

  it('reports empty versions for a rolling release without VERSION_ID', async () => {
    const host = await linuxHostInfo(fakes({ '/etc/os-release': 'NAME="Arch Linux"\nID=arch\nBUILD_ID=rolling\n' })).describe();
    expect(host).toMatchObject({ osName: 'Arch Linux', osMajorVersion: '', osMinorVersion: '' });
  });

  it('reads the file from disk by default (paths injectable)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oma-linux-'));
    try {
      writeFileSync(join(dir, 'os-release'), UBUNTU_2204);
      const host = await linuxHostInfo({ osReleasePaths: [join(dir, 'missing'), join(dir, 'os-release')], hostname: () => 'db' }).describe();
      expect(host).toMatchObject({ computer: 'db', osName: 'Ubuntu', osMajorVersion: '22', osMinorVersion: '04' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shortens host names to the part before the first dot', () => {
    expect(shortHostname('web01.contoso.local')).toBe('web01');
    expect(shortHostname('web01')).toBe('web01');
    expect(shortHostname(' Web01.X ')).toBe('Web01');
    expect(shortHostname('')).toBe('localhost');
  });
});

describe('createPlatform', () => {
  it('names the platform and exposes host info', () => {
    expect(platform).toBe('linux');
    expect(typeof createPlatform().hostInfo.describe).toBe('function');
  });

  describe.runIf(process.platform === 'linux')('on this Linux host (skipped elsewhere: needs /etc/os-release and Linux interfaces)', () => {
    it('describes the real host', async () => {
      const host = await createPlatform().hostInfo.describe();
      expect(host.osType).toBe('Linux');
      expect(host.computer).not.toContain('.');
      expect(host.computer.length).toBeGreaterThan(0);
      expect(host.osName.length).toBeGreaterThan(0);
      expect(host.privateIPs).not.toContain('127.0.0.1');
    });
  });
});
