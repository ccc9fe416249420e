import { describe, expect, it } from 'vitest';
import { FakeProcFiles } from './fake-proc-files.js';
import { CounterGroupSampler, type PerfSample } from './performance-counters.js';
import { UTMP_RECORD_BYTES } from './procfs.js';
import { PROC_PATHS, PROCESSES_PER_TURN, SnapshotReader, type FsSpace } from './snapshot.js';
import { selectCounters } from './specifier.js';

/** A sampler of `specifiers` over `files`; `at(seconds)` samples at that time and returns `Object(Instance)\Counter` → value. */
function sampler(files: FakeProcFiles, ...specifiers: string[]) {
  const { objects, unknown } = selectCounters(specifiers);
  expect(unknown).toEqual([]);
  const s = new CounterGroupSampler(objects, new SnapshotReader(files));
  return async (seconds: number): Promise<Map<string, number>> => {
    const { samples } = await s.sample(seconds * 1000);
    return byPath(samples);
  };
}

function byPath(samples: readonly PerfSample[]): Map<string, number> {
  return new Map(samples.map((x) => [`${x.object}(${x.instance})\\${x.counter}`, x.value]));
}

function stat(total: number[], ...cpus: number[][]): string {
  return [`cpu  ${total.join(' ')} 0 0`, ...cpus.map((c, i) => `cpu${i} ${c.join(' ')} 0 0`), 'intr 1 2 3', 'ctxt 5', ''].join('\n');
}

function meminfo(kb: Record<string, number>): string {
  return Object.entries(kb).map(([k, v]) => `${k}: ${v} kB`).join('\n');
}

function diskLine(major: number, minor: number, name: string, reads: number, readSectors: number, readMs: number, writes: number, writeSectors: number, writeMs: number): string {
  return `${major} ${minor} ${name} ${reads} 0 ${readSectors} ${readMs} ${writes} 0 ${writeSectors} ${writeMs} 0 0 0`;
}

const FILESYSTEMS = 'nodev\tsysfs\nnodev\tproc\nnodev\ttmpfs\nnodev\toverlay\nnodev\tzfs\n\text4\n\txfs\n\tbtrfs\n';

describe('Processor', () => {
  it('gives nothing at the first reading, then each state as a share of the ticks that passed, per CPU and _Total', async () => {
    const files = new FakeProcFiles().text(PROC_PATHS.stat, stat([100, 0, 50, 800, 50, 0, 0, 0], [50, 0, 25, 400, 25, 0, 0, 0], [50, 0, 25, 400, 25, 0, 0, 0]));
    const at = sampler(files, '\\Processor(*)\\*');
    expect((await at(10)).size).toBe(0);
    files.text(PROC_PATHS.stat, stat([200, 10, 90, 1600, 80, 5, 10, 5], [100, 10, 45, 800, 40, 5, 5, 0], [100, 0, 45, 800, 40, 0, 5, 5]));
    const v = await at(20);
    expect(v.get('Processor(_Total)\\% Processor Time')).toBeCloseTo(17);
    expect(v.get('Processor(_Total)\\% Idle Time')).toBeCloseTo(80);
    expect(v.get('Processor(_Total)\\% User Time')).toBeCloseTo(10);
    expect(v.get('Processor(_Total)\\% Nice Time')).toBeCloseTo(1);
    expect(v.get('Processor(_Total)\\% Privileged Time')).toBeCloseTo(4);
    expect(v.get('Processor(_Total)\\% Interrupt Time')).toBeCloseTo(0.5);
    expect(v.get('Processor(_Total)\\% DPC Time')).toBeCloseTo(1);
    expect(v.get('Processor(_Total)\\% IO Wait Time')).toBeCloseTo(3);
    // cpu0: 505 ticks passed, 400 idle and 15 in iowait
    expect(v.get('Processor(0)\\% Processor Time')).toBeCloseTo((90 / 505) * 100);
    expect(v.get('Processor(1)\\% Nice Time')).toBe(0);
    expect(v.size).toBe(24);
  });

  it('counts an iowait that went backwards as no time, and stays within 0–100', async () => {
    const files = new FakeProcFiles().text(PROC_PATHS.stat, stat([100, 0, 0, 100, 500, 0, 0, 0]));
    const at = sampler(files, '\\Processor(_Total)\\*');
    await at(1);
    files.text(PROC_PATHS.stat, stat([200, 0, 0, 200, 400, 0, 0, 0]));
    const v = await at(2);
    expect(v.get('Processor(_Total)\\% IO Wait Time')).toBe(0);
    expect(v.get('Processor(_Total)\\% Processor Time')).toBeCloseTo(50);
    for (const x of v.values()) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(100);
    }
  });

  it('starts a CPU brought online only at its second reading, and gives nothing when no tick passed', async () => {
    const files = new FakeProcFiles().text(PROC_PATHS.stat, stat([10, 0, 0, 10, 0, 0, 0, 0], [10, 0, 0, 10, 0, 0, 0, 0]));
    const at = sampler(files, '\\Processor(*)\\% Processor Time');
    await at(1);
    files.text(PROC_PATHS.stat, stat([30, 0, 0, 30, 0, 0, 0, 0], [20, 0, 0, 20, 0, 0, 0, 0], [5, 0, 0, 5, 0, 0, 0, 0]));
    expect([...(await at(2)).keys()]).toEqual(['Processor(_Total)\\% Processor Time', 'Processor(0)\\% Processor Time']);
    expect((await at(3)).size).toBe(0);
  });
});

describe('Memory', () => {
  const mem = { MemTotal: 8 * 1024 * 1024, MemFree: 1024 * 1024, MemAvailable: 2 * 1024 * 1024, Buffers: 0, Cached: 0, SwapTotal: 4 * 1024 * 1024, SwapFree: 3 * 1024 * 1024 };

  it('gives available and used memory and swap in MB and percent, and swap paging rates from the second reading', async () => {
    const files = new FakeProcFiles().text(PROC_PATHS.meminfo, meminfo(mem)).text(PROC_PATHS.vmstat, 'pgpgin 5\npswpin 100\npswpout 50\n');
    const at = sampler(files, '\\Memory(*)\\*');
    const first = await at(0);
    expect(Object.fromEntries(first)).toEqual({
      'Memory(Memory)\\Available MBytes Memory': 2048,
      'Memory(Memory)\\% Available Memory': 25,
      'Memory(Memory)\\Used Memory MBytes': 6144,
      'Memory(Memory)\\% Used Memory': 75,
      'Memory(Memory)\\Available MBytes Swap': 3072,
      'Memory(Memory)\\Used MBytes Swap Space': 1024,
      'Memory(Memory)\\% Available Swap Space': 75,
      'Memory(Memory)\\% Used Swap Space': 25,
    });
    files.text(PROC_PATHS.vmstat, 'pgpgin 9\npswpin 400\npswpout 150\n');
    const v = await at(10);
    expect(v.get('Memory(Memory)\\Page Reads/sec')).toBe(30);
    expect(v.get('Memory(Memory)\\Page Writes/sec')).toBe(10);
    expect(v.get('Memory(Memory)\\Pages/sec')).toBe(40);
  });

  it('with no swap: 0 MB of swap and no swap percentages', async () => {
    const files = new FakeProcFiles().text(PROC_PATHS.meminfo, meminfo({ ...mem, SwapTotal: 0, SwapFree: 0 }));
    const v = await sampler(files, '\\Memory(*)\\*')(0);
    expect(v.get('Memory(Memory)\\Available MBytes Swap')).toBe(0);
    expect(v.get('Memory(Memory)\\Used MBytes Swap Space')).toBe(0);
    expect(v.has('Memory(Memory)\\% Used Swap Space')).toBe(false);
    expect(v.has('Memory(Memory)\\% Available Swap Space')).toBe(false);
  });

  it('uses free + buffers + cache on kernels without MemAvailable', async () => {
    const { MemAvailable: _, ...old } = mem;
    const files = new FakeProcFiles().text(PROC_PATHS.meminfo, meminfo({ ...old, Buffers: 512 * 1024, Cached: 512 * 1024 }));
    expect((await sampler(files, '\\Memory\\Available MBytes Memory')(0)).get('Memory(Memory)\\Available MBytes Memory')).toBe(2048);
  });

  it('gives no paging rate when the vmstat counters went backwards', async () => {
    const files = new FakeProcFiles().text(PROC_PATHS.meminfo, meminfo(mem)).text(PROC_PATHS.vmstat, 'pswpin 100\npswpout 50\n');
    const at = sampler(files, '\\Memory\\Pages/sec', '\\Memory\\Page Reads/sec');
    await at(0);
    files.text(PROC_PATHS.vmstat, 'pswpin 10\npswpout 60\n');
    expect((await at(10)).size).toBe(0);
  });
});

const GIB_BLOCKS = (gib: number, bsize = 4096): number => (gib * 1024 ** 3) / bsize;

function space(blocksGiB: number, freeGiB: number, availGiB: number, files = 1000, ffree = 250, bsize = 4096): FsSpace {
  return { bsize, blocks: GIB_BLOCKS(blocksGiB, bsize), bfree: GIB_BLOCKS(freeGiB, bsize), bavail: GIB_BLOCKS(availGiB, bsize), files, ffree };
}

describe('Logical Disk', () => {
  const mountinfo = [
    '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '22 27 0:21 / /proc rw,relatime - proc proc rw',
    '25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw',
    '40 27 8:17 / /data rw,relatime - xfs /dev/sdb1 rw',
    '41 27 8:17 /export /srv rw,relatime - xfs /dev/sdb1 rw',
    '42 27 0:50 / /pool rw,relatime - zfs tank/pool rw',
    '43 27 0:51 / /var/lib/docker rw,relatime - overlay overlay rw',
    '44 27 7:0 / /snap/core rw,relatime - squashfs /dev/loop0 ro',
    '',
  ].join('\n');

  function files(): FakeProcFiles {
    return new FakeProcFiles()
      .text(PROC_PATHS.mountinfo, mountinfo)
      .text(PROC_PATHS.filesystems, FILESYSTEMS)
      .text(PROC_PATHS.diskstats, [diskLine(254, 0, 'vda', 100, 1000, 50, 200, 4000, 80), diskLine(8, 17, 'sdb1', 10, 80, 5, 20, 160, 10)].join('\n'))
      .space('/', space(100, 40, 30))
      .space('/data', space(10, 5, 5, 0, 0))
      .space('/srv', space(10, 5, 5, 0, 0))
      .space('/pool', space(20, 10, 10, 2000, 1000))
      // pseudo, memory and overlay filesystems answer statfs too, but are not Logical Disks
      .space('/proc', space(1, 1, 1))
      .space('/dev/shm', space(1, 1, 1))
      .space('/var/lib/docker', space(100, 40, 30))
      .space('/snap/core', { bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0 });
  }

  it('gives space and inode counters per real mount (skipping nodev filesystems but zfs) and _Total over distinct devices', async () => {
    const v = await sampler(files(), '\\LogicalDisk(*)\\*')(0);
    const instances = new Set([...v.keys()].map((k) => /\((.*)\)/.exec(k)![1]));
    expect([...instances].sort()).toEqual(['/', '/data', '/pool', '/srv', '_Total']);
    // used 60 GiB, available 30 GiB: reserved blocks count as neither, as in df
    expect(v.get('Logical Disk(/)\\% Used Space')).toBeCloseTo((60 / 90) * 100);
    expect(v.get('Logical Disk(/)\\% Free Space')).toBeCloseTo((30 / 90) * 100);
    expect(v.get('Logical Disk(/)\\Free Megabytes')).toBe(30 * 1024);
    expect(v.get('Logical Disk(/)\\% Free Inodes')).toBe(25);
    expect(v.get('Logical Disk(/)\\% Used Inodes')).toBe(75);
    // no inode table (files = 0): no inode percentages
    expect(v.has('Logical Disk(/data)\\% Free Inodes')).toBe(false);
    // _Total: /, /data (once, though also mounted at /srv) and /pool
    expect(v.get('Logical Disk(_Total)\\Free Megabytes')).toBe((30 + 5 + 10) * 1024);
    expect(v.get('Logical Disk(_Total)\\% Used Space')).toBeCloseTo(((60 + 5 + 10) / (60 + 5 + 10 + 45)) * 100);
    expect(v.get('Logical Disk(_Total)\\% Free Inodes')).toBeCloseTo((1250 / 3000) * 100);
    // first reading: no I/O rates yet
    expect([...v.keys()].some((k) => k.endsWith('/sec'))).toBe(false);
  });

  it('gives I/O rates of the mount’s device from the second reading; a device that vanished or restarted gives none', async () => {
    const f = files();
    const at = sampler(f, '\\Logical Disk(*)\\Disk Reads/sec', '\\Logical Disk(*)\\Disk Write Bytes/sec', '\\Logical Disk(*)\\Logical Disk Bytes/sec', '\\Logical Disk(*)\\Disk Transfers/sec');
    await at(0);
    f.text(PROC_PATHS.diskstats, [diskLine(254, 0, 'vda', 150, 3000, 60, 300, 8000, 90), diskLine(8, 17, 'sdb1', 30, 240, 9, 40, 320, 12)].join('\n'));
    let v = await at(10);
    expect(v.get('Logical Disk(/)\\Disk Reads/sec')).toBe(5);
    expect(v.get('Logical Disk(/)\\Disk Transfers/sec')).toBe(15);
    expect(v.get('Logical Disk(/)\\Disk Write Bytes/sec')).toBe((4000 * 512) / 10);
    expect(v.get('Logical Disk(/)\\Logical Disk Bytes/sec')).toBe((6000 * 512) / 10);
    expect(v.get('Logical Disk(/data)\\Disk Reads/sec')).toBe(2);
    expect(v.get('Logical Disk(/srv)\\Disk Reads/sec')).toBe(2);
    // _Total counts sdb1 once
    expect(v.get('Logical Disk(_Total)\\Disk Reads/sec')).toBe(7);
    // a mount with no block device of its own (zfs) has no I/O counters
    expect(v.has('Logical Disk(/pool)\\Disk Reads/sec')).toBe(false);
    // sdb1 removed, vda's counters reset (re-attached): no rate, never a negative one
    f.text(PROC_PATHS.diskstats, diskLine(254, 0, 'vda', 1, 8, 1, 1, 8, 1));
    v = await at(20);
    expect(v.size).toBe(0);
    // both readable again: rates resume against the last reading
    f.text(PROC_PATHS.diskstats, [diskLine(254, 0, 'vda', 11, 8, 1, 1, 8, 1), diskLine(8, 17, 'sdb1', 30, 240, 9, 40, 320, 12)].join('\n'));
    v = await at(30);
    expect(v.get('Logical Disk(/)\\Disk Reads/sec')).toBe(1);
    expect(v.has('Logical Disk(/data)\\Disk Reads/sec')).toBe(false);
  });

  it('leaves out a mount whose statfs fails and a zero-size filesystem, and falls back to known types without /proc/filesystems', async () => {
    const f = files().space('/data', undefined).text(PROC_PATHS.filesystems, undefined);
    const v = await sampler(f, '\\Logical Disk(*)\\% Free Space')(0);
    // without /proc/filesystems: ext4, xfs and zfs are known block filesystems; squashfs has size 0 anyway
    expect([...v.keys()].sort()).toEqual([
      'Logical Disk(/)\\% Free Space',
      'Logical Disk(/pool)\\% Free Space',
      'Logical Disk(/srv)\\% Free Space',
      'Logical Disk(_Total)\\% Free Space',
    ]);
  });

  it('takes the last mount of a mount point mounted over', async () => {
    const f = new FakeProcFiles()
      .text(PROC_PATHS.filesystems, FILESYSTEMS)
      .text(PROC_PATHS.mountinfo, '40 27 8:17 / /data rw - xfs /dev/sdb1 rw\n45 40 0:60 / /data rw - tmpfs tmpfs rw\n')
      .space('/data', space(1, 1, 1));
    expect((await sampler(f, '\\Logical Disk(*)\\*')(0)).size).toBe(0);
  });
});

describe('Physical Disk', () => {
  const sys = ['loop0', 'vda', 'sda', 'dm-0', 'zram0', 'md0'];

  it('gives latency and throughput of whole disks (not partitions, loop, ram, zram, dm, md) and their _Total', async () => {
    const f = new FakeProcFiles()
      .dir(PROC_PATHS.sysBlock, sys)
      .text(
        PROC_PATHS.diskstats,
        [
          diskLine(7, 0, 'loop0', 1, 1, 1, 1, 1, 1),
          diskLine(254, 0, 'vda', 100, 1000, 50, 200, 4000, 80),
          diskLine(8, 0, 'sda', 10, 10, 10, 10, 10, 10),
          diskLine(8, 1, 'sda1', 10, 10, 10, 10, 10, 10),
          diskLine(252, 0, 'dm-0', 1, 1, 1, 1, 1, 1),
          diskLine(253, 0, 'zram0', 1, 1, 1, 1, 1, 1),
          diskLine(9, 0, 'md0', 1, 1, 1, 1, 1, 1),
        ].join('\n'),
      );
    const at = sampler(f, '\\Physical Disk(*)\\*');
    expect((await at(0)).size).toBe(0);
    f.text(
      PROC_PATHS.diskstats,
      [
        diskLine(7, 0, 'loop0', 9, 9, 9, 9, 9, 9),
        diskLine(254, 0, 'vda', 110, 1100, 70, 220, 4200, 120),
        diskLine(8, 0, 'sda', 10, 10, 10, 10, 10, 10),
        diskLine(8, 1, 'sda1', 20, 20, 20, 20, 20, 20),
        diskLine(252, 0, 'dm-0', 9, 9, 9, 9, 9, 9),
        diskLine(253, 0, 'zram0', 9, 9, 9, 9, 9, 9),
        diskLine(9, 0, 'md0', 9, 9, 9, 9, 9, 9),
      ].join('\n'),
    );
    const v = await at(10);
    expect(Object.fromEntries(v)).toEqual({
      'Physical Disk(vda)\\Avg. Disk sec/Read': 0.002,
      'Physical Disk(vda)\\Avg. Disk sec/Write': 0.002,
      'Physical Disk(vda)\\Avg. Disk sec/Transfer': 0.002,
      'Physical Disk(vda)\\Physical Disk Bytes/sec': (300 * 512) / 10,
      // an idle disk: no operation, so 0 s per operation
      'Physical Disk(sda)\\Avg. Disk sec/Read': 0,
      'Physical Disk(sda)\\Avg. Disk sec/Write': 0,
      'Physical Disk(sda)\\Avg. Disk sec/Transfer': 0,
      'Physical Disk(sda)\\Physical Disk Bytes/sec': 0,
      'Physical Disk(_Total)\\Avg. Disk sec/Read': 0.002,
      'Physical Disk(_Total)\\Avg. Disk sec/Write': 0.002,
      'Physical Disk(_Total)\\Avg. Disk sec/Transfer': 0.002,
      'Physical Disk(_Total)\\Physical Disk Bytes/sec': (300 * 512) / 10,
    });
  });

  it('gives nothing for a disk that appeared, was replaced (other device number) or restarted its counters', async () => {
    const f = new FakeProcFiles().dir(PROC_PATHS.sysBlock, ['sda', 'sdb', 'sdc']).text(PROC_PATHS.diskstats, [diskLine(8, 0, 'sda', 10, 10, 10, 10, 10, 10), diskLine(8, 16, 'sdb', 10, 10, 10, 10, 10, 10)].join('\n'));
    const at = sampler(f, '\\Physical Disk(*)\\Physical Disk Bytes/sec');
    await at(0);
    f.text(PROC_PATHS.diskstats, [diskLine(8, 0, 'sda', 1, 1, 1, 1, 1, 1), diskLine(8, 32, 'sdb', 20, 20, 20, 20, 20, 20), diskLine(8, 48, 'sdc', 5, 5, 5, 5, 5, 5)].join('\n'));
    expect((await at(10)).size).toBe(0);
    f.text(PROC_PATHS.diskstats, [diskLine(8, 0, 'sda', 2, 11, 1, 1, 1, 1)].join('\n'));
    expect(Object.fromEntries(await at(20))).toEqual({ 'Physical Disk(sda)\\Physical Disk Bytes/sec': (10 * 512) / 10, 'Physical Disk(_Total)\\Physical Disk Bytes/sec': (10 * 512) / 10 });
  });
});

describe('Network', () => {
  it('gives each interface’s totals since it came up, without the loopback', async () => {
    const f = new FakeProcFiles().text(
      PROC_PATHS.netdev,
      [
        'Inter-|   Receive                                                |  Transmit',
        ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
        '    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0',
        '  eth0: 1000 10 1 0 0 0 0 0 500 5 2 0 0 3 0 0',
      ].join('\n'),
    );
    expect(Object.fromEntries(await sampler(f, '\\Network(*)\\*')(0))).toEqual({
      'Network(eth0)\\Total Bytes Transmitted': 500,
      'Network(eth0)\\Total Bytes Received': 1000,
      'Network(eth0)\\Total Bytes': 1500,
      'Network(eth0)\\Total Packets Transmitted': 5,
      'Network(eth0)\\Total Packets Received': 10,
      'Network(eth0)\\Total Rx Errors': 1,
      'Network(eth0)\\Total Tx Errors': 2,
      'Network(eth0)\\Total Collisions': 3,
    });
  });
});

describe('System', () => {
  function utmp(users: number): Uint8Array {
    const buf = new Uint8Array(UTMP_RECORD_BYTES * (users + 1));
    const view = new DataView(buf.buffer);
    view.setInt16(0, 2, true); // BOOT_TIME
    for (let i = 1; i <= users; i++) {
      view.setInt16(i * UTMP_RECORD_BYTES, 7, true);
      buf[i * UTMP_RECORD_BYTES + 44] = 0x61;
    }
    return buf;
  }

  it('gives memory in kB, swap, processes, uptime and logged-in users', async () => {
    const f = new FakeProcFiles()
      .text(PROC_PATHS.meminfo, meminfo({ MemTotal: 8000, MemFree: 1000, MemAvailable: 3000, SwapTotal: 4000, SwapFree: 3500 }))
      .text(PROC_PATHS.uptime, '12345.67 999.00\n')
      .binary(PROC_PATHS.utmp, utmp(3))
      .dir(PROC_PATHS.proc, ['1', '2', '42', 'self', 'net', 'sys', '1000']);
    expect(Object.fromEntries(await sampler(f, '\\System\\*')(0))).toEqual({
      'System(_Total)\\Free Physical Memory': 1000,
      'System(_Total)\\Free Virtual Memory': 4500,
      'System(_Total)\\Free Space in Paging Files': 3500,
      'System(_Total)\\Size Stored In Paging Files': 4000,
      'System(_Total)\\Processes': 4,
      'System(_Total)\\Uptime': 12345,
      'System(_Total)\\Users': 3,
    });
  });

  it('counts no users when there is no utmp file', async () => {
    const f = new FakeProcFiles().text(PROC_PATHS.uptime, '1.0 1.0\n');
    expect((await sampler(f, '\\System\\Users')(0)).get('System(_Total)\\Users')).toBe(0);
  });
});

describe('Process', () => {
  function pidStat(pid: number, name: string, utime: number, stime: number, start: number): string {
    return `${pid} (${name}) S 1 ${pid} ${pid} 0 -1 4194560 0 0 0 0 ${utime} ${stime} 0 0 20 0 1 0 ${start} 1000 10 0`;
  }

  it('sums processes of one name; CPU shares of the whole machine from the second reading; a reused pid counts from its next reading', async () => {
    const f = new FakeProcFiles()
      .text(PROC_PATHS.stat, stat([0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]))
      .text(PROC_PATHS.smaps, 'KernelPageSize:        4 kB\n')
      .dir(PROC_PATHS.proc, ['10', '11', '12'])
      .text('/proc/10/stat', pidStat(10, 'nginx', 100, 50, 1))
      .text('/proc/10/statm', '1000 100 20 0 0 0 0')
      .text('/proc/11/stat', pidStat(11, 'nginx', 200, 0, 2))
      .text('/proc/11/statm', '1000 50 10 0 0 0 0')
      .text('/proc/12/stat', pidStat(12, 'sshd', 0, 0, 3))
      .text('/proc/12/statm', '1000 25 5 0 0 0 0');
    const at = sampler(f, '\\Process(*)\\*');
    expect(Object.fromEntries(await at(0))).toEqual({
      'Process(nginx)\\Used Memory kBytes': 600,
      'Process(nginx)\\Virtual Shared Memory': 120,
      'Process(sshd)\\Used Memory kBytes': 100,
      'Process(sshd)\\Virtual Shared Memory': 20,
    });
    // 10 s on 2 CPUs = 2000 ticks of capacity. nginx: 300 user + 100 system ticks; pid 12 is now another process.
    f.text('/proc/10/stat', pidStat(10, 'nginx', 250, 100, 1))
      .text('/proc/11/stat', pidStat(11, 'nginx', 350, 50, 2))
      .text('/proc/12/stat', pidStat(12, 'sshd', 900, 900, 77))
      .dir(PROC_PATHS.proc, ['10', '11', '12', '13']); // 13 exited before it was read
    const v = await at(10);
    expect(v.get('Process(nginx)\\Pct User Time')).toBe(15);
    expect(v.get('Process(nginx)\\Pct Privileged Time')).toBe(5);
    expect(v.has('Process(sshd)\\Pct User Time')).toBe(false);
    expect(v.get('Process(sshd)\\Used Memory kBytes')).toBe(100);
  });
});

describe('Process on a host with many processes', () => {
  it('lets the event loop run between chunks of processes', async () => {
    const f = new FakeProcFiles().text(PROC_PATHS.stat, stat([0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0])).text(PROC_PATHS.smaps, 'KernelPageSize: 4 kB\n');
    const pids = Array.from({ length: PROCESSES_PER_TURN * 3 }, (_, i) => String(i + 1));
    f.dir(PROC_PATHS.proc, pids);
    for (const p of pids) f.text(`/proc/${p}/stat`, `${p} (p${p}) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 ${p} 0 0 0`).text(`/proc/${p}/statm`, '10 5 1 0 0 0 0');
    const at = sampler(f, '\\Process(*)\\Used Memory kBytes');
    let turns = 0;
    const tick = (): void => {
      turns++;
      if (turns < 10) setImmediate(tick);
    };
    setImmediate(tick);
    const v = await at(0);
    expect(v.size).toBe(pids.length);
    // the files answer at once (no I/O): only the source's own yields give the loop its turns
    expect(turns).toBeGreaterThanOrEqual(2);
  });
});

describe('what is read', () => {
  it('reads only the files the selected objects need', async () => {
    const f = new FakeProcFiles().text(PROC_PATHS.meminfo, meminfo({ MemTotal: 10, MemAvailable: 5 }));
    await sampler(f, '\\Memory\\% Used Memory')(0);
    expect(f.reads.sort()).toEqual([PROC_PATHS.meminfo, PROC_PATHS.vmstat]);
  });
});

describe('a utmp file that cannot be read', () => {
  it('gives no Users value (rather than 0) and is reported', async () => {
    const f = new FakeProcFiles();
    f.readBytes = () => Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' }));
    const { objects } = selectCounters(['\\System\\Users']);
    const { samples, failures } = await new CounterGroupSampler(objects, new SnapshotReader(f)).sample(0);
    expect(samples).toEqual([]);
    expect(failures.map((x) => [x.part, x.path])).toContainEqual(['system', PROC_PATHS.utmp]);
  });
});
