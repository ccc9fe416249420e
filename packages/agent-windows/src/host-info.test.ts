import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { createPlatform, platform, privateIPs, programDataDir, windowsComputerName, windowsHostInfo, windowsVersion } from './index.js';

const IFACES: NodeJS.Dict<NetworkInterfaceInfo[]> = {
  'Loopback Pseudo-Interface 1': [
    { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
    { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128', scopeid: 0 },
  ],
  Ethernet: [
    { address: 'fe80::1c2d:3e4f:5a6b:7c8d', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:15:5d:01:02:03', internal: false, cidr: 'fe80::1c2d:3e4f:5a6b:7c8d/64', scopeid: 7 },
    { address: '10.20.30.40', netmask: '255.255.255.0', family: 'IPv4', mac: '00:15:5d:01:02:03', internal: false, cidr: '10.20.30.40/24' },
    { address: '2001:db8::40', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:15:5d:01:02:03', internal: false, cidr: '2001:db8::40/64', scopeid: 0 },
  ],
  'Ethernet 2': [{ address: '169.254.3.4', netmask: '255.255.0.0', family: 'IPv4', mac: '00:15:5d:01:02:04', internal: false, cidr: '169.254.3.4/16' }],
};

describe('windowsHostInfo', () => {
  it('describes a Windows Server 2022 host from injected node:os functions', async () => {
    const host = await windowsHostInfo({
      hostname: () => 'web-01',
      version: () => 'Windows Server 2022 Datacenter',
      release: () => '10.0.20348',
      networkInterfaces: () => IFACES,
    }).describe();
    expect(host).toEqual({
      computer: 'WEB-01',
      osType: 'Windows',
      osName: 'Windows Server 2022 Datacenter',
      osMajorVersion: '10',
      osMinorVersion: '0',
      privateIPs: ['10.20.30.40', '2001:db8::40'],
    });
  });

  it('copes with a DNS suffix, an empty product name and an odd release string', async () => {
    const host = await windowsHostInfo({
      hostname: () => 'sql7.corp.contoso.com',
      version: () => '',
      release: () => '6.3.9600',
      networkInterfaces: () => ({}),
    }).describe();
    expect(host).toMatchObject({ computer: 'SQL7', osName: 'Windows', osMajorVersion: '6', osMinorVersion: '3', privateIPs: [] });
  });

  it('describes the host without addresses when the interfaces cannot be listed', async () => {
    const host = await windowsHostInfo({
      hostname: () => 'svc-host',
      version: () => 'Windows Server 2022 Datacenter',
      release: () => '10.0.20348',
      networkInterfaces: () => {
        throw new Error('A system error occurred: uv_interface_addresses returned Unknown system error 2');
      },
    }).describe();
    expect(host).toMatchObject({ computer: 'SVC-HOST', privateIPs: [] });
  });

  it('parses versions and computer names', () => {
    expect(windowsVersion('10.0.22631')).toEqual({ major: '10', minor: '0' });
    expect(windowsVersion('10')).toEqual({ major: '10', minor: '0' });
    expect(windowsVersion('unknown')).toEqual({ major: '', minor: '' });
    expect(windowsComputerName('Desktop-Ab12')).toBe('DESKTOP-AB12');
    expect(windowsComputerName('')).toBe('LOCALHOST');
  });

  it('leaves out internal and link-local addresses', () => {
    expect(privateIPs(IFACES)).toEqual(['10.20.30.40', '2001:db8::40']);
  });
});

describe('createPlatform', () => {
  it('keeps its state under %ProgramData%\\OMA', () => {
    expect(programDataDir({ ProgramData: 'D:\\ProgramData' })).toBe('D:\\ProgramData\\OMA');
    expect(programDataDir({})).toBe('C:\\ProgramData\\OMA');
  });

  it('names the platform and exposes host info', () => {
    expect(platform).toBe('windows');
    expect(typeof createPlatform().hostInfo.describe).toBe('function');
  });

  // The real adapter reads node:os only, so it runs anywhere; its values are only meaningful on Windows.
  describe.runIf(process.platform === 'win32')('on this Windows host (skipped elsewhere: real values need Windows)', () => {
    it('describes the real host', async () => {
      const host = await createPlatform().hostInfo.describe();
      expect(host.osType).toBe('Windows');
      expect(host.computer).toBe(host.computer.toUpperCase());
      expect(host.osName).toMatch(/Windows/);
      expect(Number(host.osMajorVersion)).toBeGreaterThanOrEqual(6);
    });
  });
});
