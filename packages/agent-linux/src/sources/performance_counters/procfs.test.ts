import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  countUtmpUsers,
  cpuTotal,
  parseDiskstats,
  parseKernelPageSize,
  parseMeminfo,
  parseMountinfo,
  parseNetDev,
  parseNodevFilesystems,
  parsePidStat,
  parseProcStat,
  parseStatm,
  parseUptime,
  parseVmstat,
  UTMP_RECORD_BYTES,
} from './procfs.js';

const onLinux = process.platform === 'linux';

describe('/proc parsers on captured samples', () => {
  it('parses the aggregate and per-CPU lines of /proc/stat, in ticks', () => {
    const s = parseProcStat(
      [
        'cpu  1173374 0 163898 4475950 11484 0 3745 502 0 0',
        'cpu0 571775 0 77069 2261264 2509 0 727 255 0 0',
        'cpu1 601599 0 86828 2214686 8975 0 3018 247 0 0',
        'intr 19069295 0 0 0',
        'ctxt 58722582',
        '',
      ].join('\n'),
    );
    expect(s.total).toEqual({ user: 1173374, nice: 0, system: 163898, idle: 4475950, iowait: 11484, irq: 0, softirq: 3745, steal: 502 });
    expect([...s.cpus.keys()]).toEqual(['0', '1']);
    expect(s.cpus.get('1')!.iowait).toBe(8975);
    expect(cpuTotal(s.cpus.get('0')!)).toBe(571775 + 77069 + 2261264 + 2509 + 727 + 255);
  });

  it('gives 0 for fields an old kernel does not have (no steal)', () => {
    expect(parseProcStat('cpu 1 2 3 4 5 6 7\n').total.steal).toBe(0);
  });

  it('parses /proc/meminfo in kB and /proc/vmstat counters', () => {
    const m = parseMeminfo('MemTotal:       24683664 kB\nMemAvailable:   23377920 kB\nHugePages_Total:       0\nbogus line\n');
    expect(m.get('MemTotal')).toBe(24683664);
    expect(m.get('MemAvailable')).toBe(23377920);
    expect(m.get('HugePages_Total')).toBe(0);
    const v = parseVmstat('pgpgin 16665793\npgpgout 100196232\npswpin 3\npswpout 4\n');
    expect([v.get('pgpgin'), v.get('pswpin'), v.get('pswpout')]).toEqual([16665793, 3, 4]);
  });

  it('parses /proc/diskstats lines of every kernel length (14, 18 and 20 fields)', () => {
    const d = parseDiskstats(
      [
        '   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0',
        ' 254       0 vda 638701 100403 32573554 322463 1221301 982593 199780592 530867 0 339740 984279 664789 432 132485936 87481',
        '   8       1 sda1 10 0 80 5 20 0 160 7 0 12 12 0 0 0 0 0 0',
        'short line',
      ].join('\n'),
    );
    expect(d.map((x) => x.name)).toEqual(['loop0', 'vda', 'sda1']);
    expect(d[1]).toEqual({ major: 254, minor: 0, name: 'vda', reads: 638701, readSectors: 32573554, readMs: 322463, writes: 1221301, writeSectors: 199780592, writeMs: 530867 });
  });

  it('parses mountinfo with optional fields and escaped spaces', () => {
    const m = parseMountinfo(
      [
        '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard',
        '22 27 0:21 / /proc rw,relatime - proc proc rw',
        '90 27 8:17 / /mnt/my\\040disk rw master:3 shared:9 - xfs /dev/sdb1 rw',
        'garbage',
      ].join('\n'),
    );
    expect(m).toEqual([
      { major: 254, minor: 0, mountPoint: '/', fsType: 'ext4', source: '/dev/vda' },
      { major: 0, minor: 21, mountPoint: '/proc', fsType: 'proc', source: 'proc' },
      { major: 8, minor: 17, mountPoint: '/mnt/my disk', fsType: 'xfs', source: '/dev/sdb1' },
    ]);
  });

  it('lists the nodev filesystem types of /proc/filesystems', () => {
    expect([...parseNodevFilesystems('nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n\txfs\n')]).toEqual(['sysfs', 'tmpfs', 'overlay']);
  });

  it('parses /proc/net/dev, names with and without a space after the colon', () => {
    const n = parseNetDev(
      [
        'Inter-|   Receive                                                |  Transmit',
        ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
        '    lo: 7820502605  501498    0    0    0     0          0         0 7820502605  501498    0    0    0     0       0          0',
        '  eth0:1667282020   60429    2    0    0     0          0         0  9031046   54991    3    0    0     4       0          0',
      ].join('\n'),
    );
    expect(n.map((x) => x.name)).toEqual(['lo', 'eth0']);
    expect(n[1]).toEqual({ name: 'eth0', rxBytes: 1667282020, rxPackets: 60429, rxErrors: 2, txBytes: 9031046, txPackets: 54991, txErrors: 3, collisions: 4 });
  });

  it('parses /proc/uptime', () => {
    expect(parseUptime('29284.55 44759.50\n')).toBe(29284.55);
    expect(parseUptime('')).toBeUndefined();
  });

  it('counts USER_PROCESS records with a user name in utmp', () => {
    const buf = new Uint8Array(UTMP_RECORD_BYTES * 4 + 10); // a torn record at the end is ignored
    const view = new DataView(buf.buffer);
    const record = (i: number, type: number, user: string): void => {
      view.setInt16(i * UTMP_RECORD_BYTES, type, true);
      buf.set(Buffer.from(user), i * UTMP_RECORD_BYTES + 44);
    };
    record(0, 2, 'reboot'); // BOOT_TIME
    record(1, 7, 'alice'); // USER_PROCESS
    record(2, 8, 'bob'); // DEAD_PROCESS: logged out
    record(3, 7, 'carol');
    expect(countUtmpUsers(buf)).toBe(2);
    expect(countUtmpUsers(new Uint8Array(0))).toBe(0);
  });

  it('parses /proc/<pid>/stat with spaces and parentheses in the name, and statm', () => {
    const s = parsePidStat('4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 500 0 0 0 1234 567 0 0 20 0 1 0 98765 3133440 349 18446744073709551615 0');
    expect(s).toEqual({ name: 'my (odd) prog', utime: 1234, stime: 567, starttime: 98765 });
    expect(parsePidStat('4242 (gone')).toBeUndefined();
    expect(parseStatm('765 402 373 5 0 123 0\n')).toEqual({ size: 765, resident: 402, shared: 373 });
    expect(parseStatm('')).toBeUndefined();
    expect(parseKernelPageSize('55d0-56 r--p 0 fd:00 1 /bin/x\nSize: 4 kB\nKernelPageSize:        4 kB\n')).toBe(4096);
  });
});

describe.runIf(onLinux)('/proc parsers on this host (Linux only)', () => {
  it('read the real files', () => {
    const stat = parseProcStat(readFileSync('/proc/stat', 'utf8'));
    expect(stat.cpus.size).toBeGreaterThan(0);
    expect(cpuTotal(stat.total)).toBeGreaterThan(0);
    expect(parseMeminfo(readFileSync('/proc/meminfo', 'utf8')).get('MemTotal')).toBeGreaterThan(0);
    expect(parseVmstat(readFileSync('/proc/vmstat', 'utf8')).has('pgpgin')).toBe(true);
    expect(parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).some((m) => m.mountPoint === '/')).toBe(true);
    expect(parseNetDev(readFileSync('/proc/net/dev', 'utf8')).some((n) => n.name === 'lo')).toBe(true);
    expect(parseUptime(readFileSync('/proc/uptime', 'utf8'))).toBeGreaterThan(0);
    const self = parsePidStat(readFileSync('/proc/self/stat', 'utf8'));
    expect(self?.utime).toBeGreaterThanOrEqual(0);
    expect(parseStatm(readFileSync('/proc/self/statm', 'utf8'))?.resident).toBeGreaterThan(0);
    if (existsSync('/proc/diskstats')) expect(Array.isArray(parseDiskstats(readFileSync('/proc/diskstats', 'utf8')))).toBe(true);
  });
});
