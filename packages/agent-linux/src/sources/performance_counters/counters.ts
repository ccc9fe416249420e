import { cpuTotal, type CpuTimes, type DiskStat } from './procfs.js';
import type { MountSample, Snapshot, SnapshotPart } from './snapshot.js';

/** One computed value: an instance of a counter of an object. */
export interface CounterValue {
  readonly instance: string;
  readonly counter: string;
  readonly value: number;
}

/** A performance object of the Linux catalogue (OMS names, docs/performance-counters.md). */
export interface PerfObject {
  readonly name: string;
  readonly counters: readonly string[];
  /** What a snapshot must read for this object. */
  readonly parts: readonly SnapshotPart[];
  /**
   * The values of `cur`, rates against `prev` (undefined at the first reading: rate counters then give
   * nothing). A value that cannot be computed (no swap for a swap percentage, a counter that went
   * backwards) is left out rather than reported as 0.
   */
  compute(prev: Snapshot | undefined, cur: Snapshot): CounterValue[];
}

const MB_KB = 1024;
const SECTOR_BYTES = 512;
/** /proc reports process CPU times in USER_HZ ticks, 100 per second on every Linux ABI. */
export const USER_HZ = 100;
export const TOTAL = '_Total';
/** Instance name of the Memory object, as the Log Analytics agent for Linux wrote it. */
export const MEMORY_INSTANCE = 'Memory';

/** A percentage of `part` in `whole`, kept within 0–100; undefined when `whole` is not positive. */
export function percent(part: number, whole: number): number | undefined {
  if (!(whole > 0)) return undefined;
  return Math.min(100, Math.max(0, (part / whole) * 100));
}

/** Increase of a cumulative counter, or undefined when it went backwards (wrapped, reset, device replaced). */
export function delta(before: number, after: number): number | undefined {
  return after >= before ? after - before : undefined;
}

/** Increase per second, or undefined when the counter went backwards or no time passed. */
function rate(before: number, after: number, seconds: number): number | undefined {
  const d = delta(before, after);
  return d === undefined || !(seconds > 0) ? undefined : d / seconds;
}

function elapsedS(prev: Snapshot, cur: Snapshot): number {
  return (cur.atMs - prev.atMs) / 1000;
}

class Values {
  readonly out: CounterValue[] = [];
  add(instance: string, counter: string, value: number | undefined): void {
    if (value !== undefined && Number.isFinite(value)) this.out.push({ instance, counter, value });
  }
}

// ---- Processor ---------------------------------------------------------------------------------

function cpuValues(v: Values, instance: string, a: CpuTimes, b: CpuTimes): void {
  // iowait can go backwards on tickless kernels: a state that decreased counts as no time spent.
  const d = (k: keyof CpuTimes): number => Math.max(0, b[k] - a[k]);
  const dt = { user: d('user'), nice: d('nice'), system: d('system'), idle: d('idle'), iowait: d('iowait'), irq: d('irq'), softirq: d('softirq'), steal: d('steal') };
  const total = cpuTotal(dt);
  if (total <= 0) return;
  v.add(instance, '% Processor Time', percent(total - dt.idle - dt.iowait, total));
  v.add(instance, '% Idle Time', percent(dt.idle, total));
  v.add(instance, '% User Time', percent(dt.user, total));
  v.add(instance, '% Nice Time', percent(dt.nice, total));
  v.add(instance, '% Privileged Time', percent(dt.system, total));
  v.add(instance, '% Interrupt Time', percent(dt.irq, total));
  v.add(instance, '% DPC Time', percent(dt.softirq, total));
  v.add(instance, '% IO Wait Time', percent(dt.iowait, total));
}

const processor: PerfObject = {
  name: 'Processor',
  counters: ['% Processor Time', '% Idle Time', '% User Time', '% Nice Time', '% Privileged Time', '% Interrupt Time', '% DPC Time', '% IO Wait Time'],
  parts: ['cpu'],
  compute(prev, cur) {
    const v = new Values();
    if (!prev?.cpu || !cur.cpu) return v.out;
    cpuValues(v, TOTAL, prev.cpu.total, cur.cpu.total);
    for (const [n, t] of cur.cpu.cpus) {
      const before = prev.cpu.cpus.get(n);
      if (before) cpuValues(v, n, before, t); // a CPU brought online since the last reading starts next time
    }
    return v.out;
  },
};

// ---- Memory ------------------------------------------------------------------------------------

/** MemAvailable (kernels since 3.14), else the free, buffer and page-cache memory. */
function availableKb(m: ReadonlyMap<string, number>): number | undefined {
  const avail = m.get('MemAvailable');
  if (avail !== undefined) return avail;
  const free = m.get('MemFree');
  return free === undefined ? undefined : free + (m.get('Buffers') ?? 0) + (m.get('Cached') ?? 0);
}

const memory: PerfObject = {
  name: 'Memory',
  counters: [
    'Available MBytes Memory', '% Available Memory', 'Used Memory MBytes', '% Used Memory',
    'Available MBytes Swap', '% Available Swap Space', 'Used MBytes Swap Space', '% Used Swap Space',
    'Page Reads/sec', 'Page Writes/sec', 'Pages/sec',
  ],
  parts: ['memory', 'vmstat'],
  compute(prev, cur) {
    const v = new Values();
    const i = MEMORY_INSTANCE;
    const m = cur.memory;
    if (m) {
      const total = m.get('MemTotal');
      const avail = availableKb(m);
      if (total !== undefined && avail !== undefined) {
        v.add(i, 'Available MBytes Memory', avail / MB_KB);
        v.add(i, '% Available Memory', percent(avail, total));
        v.add(i, 'Used Memory MBytes', Math.max(0, total - avail) / MB_KB);
        v.add(i, '% Used Memory', percent(Math.max(0, total - avail), total));
      }
      const swapTotal = m.get('SwapTotal');
      const swapFree = m.get('SwapFree');
      if (swapTotal !== undefined && swapFree !== undefined) {
        const used = Math.max(0, swapTotal - swapFree);
        v.add(i, 'Available MBytes Swap', swapFree / MB_KB);
        v.add(i, 'Used MBytes Swap Space', used / MB_KB);
        // With no swap there is no share of it to report.
        v.add(i, '% Available Swap Space', percent(swapFree, swapTotal));
        v.add(i, '% Used Swap Space', percent(used, swapTotal));
      }
    }
    const a = prev?.vmstat;
    const b = cur.vmstat;
    if (prev && a && b) {
      const s = elapsedS(prev, cur);
      const rd = rate(a.get('pswpin') ?? 0, b.get('pswpin') ?? 0, s);
      const wr = rate(a.get('pswpout') ?? 0, b.get('pswpout') ?? 0, s);
      v.add(i, 'Page Reads/sec', rd);
      v.add(i, 'Page Writes/sec', wr);
      if (rd !== undefined && wr !== undefined) v.add(i, 'Pages/sec', rd + wr);
    }
    return v.out;
  },
};

// ---- Disks -------------------------------------------------------------------------------------

function diskKey(major: number, minor: number): string {
  return `${major}:${minor}`;
}

function disksByDevice(disks: readonly DiskStat[] | undefined): Map<string, DiskStat> {
  return new Map((disks ?? []).map((d) => [diskKey(d.major, d.minor), d]));
}

interface IoDelta {
  reads: number;
  writes: number;
  readBytes: number;
  writeBytes: number;
  readMs: number;
  writeMs: number;
}

/** What a device did between two readings; undefined when any of its counters went backwards. */
function ioDelta(a: DiskStat, b: DiskStat): IoDelta | undefined {
  const reads = delta(a.reads, b.reads);
  const writes = delta(a.writes, b.writes);
  const rs = delta(a.readSectors, b.readSectors);
  const ws = delta(a.writeSectors, b.writeSectors);
  const rms = delta(a.readMs, b.readMs);
  const wms = delta(a.writeMs, b.writeMs);
  if (reads === undefined || writes === undefined || rs === undefined || ws === undefined || rms === undefined || wms === undefined) return undefined;
  return { reads, writes, readBytes: rs * SECTOR_BYTES, writeBytes: ws * SECTOR_BYTES, readMs: rms, writeMs: wms };
}

function sumIo(items: readonly IoDelta[]): IoDelta {
  const s: IoDelta = { reads: 0, writes: 0, readBytes: 0, writeBytes: 0, readMs: 0, writeMs: 0 };
  for (const d of items) {
    s.reads += d.reads;
    s.writes += d.writes;
    s.readBytes += d.readBytes;
    s.writeBytes += d.writeBytes;
    s.readMs += d.readMs;
    s.writeMs += d.writeMs;
  }
  return s;
}

function spaceValues(v: Values, instance: string, blocks: number, bfree: number, bavail: number, bsize: number, files: number, ffree: number): void {
  // As df: used = blocks - bfree; the space an unprivileged user can still fill is bavail (blocks
  // reserved for root count as neither), so the percentages are of used + bavail.
  const used = Math.max(0, blocks - bfree);
  const usable = used + bavail;
  v.add(instance, '% Free Space', percent(bavail, usable));
  v.add(instance, '% Used Space', percent(used, usable));
  if (blocks > 0) v.add(instance, 'Free Megabytes', (bavail * bsize) / (1024 * 1024));
  // Filesystems with no fixed inode table (btrfs) report 0 inodes: no inode percentages for them.
  v.add(instance, '% Free Inodes', percent(ffree, files));
  v.add(instance, '% Used Inodes', percent(files - ffree, files));
}

function ioRateValues(v: Values, instance: string, d: IoDelta, s: number): void {
  v.add(instance, 'Disk Reads/sec', d.reads / s);
  v.add(instance, 'Disk Writes/sec', d.writes / s);
  v.add(instance, 'Disk Transfers/sec', (d.reads + d.writes) / s);
  v.add(instance, 'Disk Read Bytes/sec', d.readBytes / s);
  v.add(instance, 'Disk Write Bytes/sec', d.writeBytes / s);
  v.add(instance, 'Logical Disk Bytes/sec', (d.readBytes + d.writeBytes) / s);
}

/** Mounts with usable space figures, one per device for the _Total (a device mounted twice counts once). */
function distinctDeviceMounts(mounts: readonly MountSample[]): MountSample[] {
  const seen = new Set<string>();
  const out: MountSample[] = [];
  for (const m of mounts) {
    const key = m.major === 0 ? `${m.fsType}:${m.source}:${m.minor}` : diskKey(m.major, m.minor);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(m);
  }
  return out;
}

const logicalDisk: PerfObject = {
  name: 'Logical Disk',
  counters: [
    '% Free Space', '% Used Space', 'Free Megabytes', '% Free Inodes', '% Used Inodes',
    'Disk Reads/sec', 'Disk Writes/sec', 'Disk Transfers/sec', 'Disk Read Bytes/sec', 'Disk Write Bytes/sec', 'Logical Disk Bytes/sec',
  ],
  parts: ['mounts'],
  compute(prev, cur) {
    const v = new Values();
    const mounts = cur.mounts ?? [];
    for (const m of mounts) {
      const f = m.space;
      if (f && f.blocks > 0) spaceValues(v, m.mountPoint, f.blocks, f.bfree, f.bavail, f.bsize, f.files, f.ffree);
    }
    const distinct = distinctDeviceMounts(mounts).filter((m) => m.space && m.space.blocks > 0);
    if (distinct.length > 0) {
      // Sizes in bytes, then expressed in 1-byte blocks for the sum over filesystems of different block sizes.
      let blocks = 0, bfree = 0, bavail = 0, files = 0, ffree = 0;
      for (const m of distinct) {
        const f = m.space!;
        blocks += f.blocks * f.bsize;
        bfree += f.bfree * f.bsize;
        bavail += f.bavail * f.bsize;
        files += f.files;
        ffree += f.ffree;
      }
      spaceValues(v, TOTAL, blocks, bfree, bavail, 1, files, ffree);
    }
    if (!prev?.mounts || !prev.disks || !cur.disks) return v.out;
    const s = elapsedS(prev, cur);
    if (!(s > 0)) return v.out;
    const before = disksByDevice(prev.disks);
    const after = disksByDevice(cur.disks);
    const deltaOf = (m: MountSample): IoDelta | undefined => {
      const key = diskKey(m.major, m.minor);
      const a = before.get(key);
      const b = after.get(key);
      return a && b ? ioDelta(a, b) : undefined;
    };
    const totals: IoDelta[] = [];
    for (const m of mounts) {
      const d = deltaOf(m);
      if (d) ioRateValues(v, m.mountPoint, d, s);
    }
    for (const m of distinctDeviceMounts(mounts)) {
      const d = deltaOf(m);
      if (d) totals.push(d);
    }
    if (totals.length > 0) ioRateValues(v, TOTAL, sumIo(totals), s);
    return v.out;
  },
};

/** Block devices that are not disks (loop files, RAM disks, compressed RAM) or are built over disks (device mapper, md RAID), whose I/O the disks under them already count. */
const NOT_PHYSICAL = /^(loop|ram|zram|dm-|md)\d*/;

/** Whole disks: listed in /sys/block (partitions are not) and not a virtual device. */
export function isPhysicalDisk(name: string, blockDevices: ReadonlySet<string> | undefined): boolean {
  if (NOT_PHYSICAL.test(name)) return false;
  // /sys/block names a device with '/' in its name (cciss/c0d0) with '!' instead.
  return blockDevices ? blockDevices.has(name.replace(/\//g, '!')) : true;
}

function avgSeconds(ms: number, count: number): number {
  return count > 0 ? ms / count / 1000 : 0;
}

const physicalDisk: PerfObject = {
  name: 'Physical Disk',
  counters: ['Avg. Disk sec/Read', 'Avg. Disk sec/Write', 'Avg. Disk sec/Transfer', 'Physical Disk Bytes/sec'],
  parts: ['disks'],
  compute(prev, cur) {
    const v = new Values();
    if (!prev?.disks || !cur.disks) return v.out;
    const s = elapsedS(prev, cur);
    if (!(s > 0)) return v.out;
    const before = new Map(prev.disks.map((d) => [d.name, d]));
    const deltas: IoDelta[] = [];
    for (const d of cur.disks) {
      if (!isPhysicalDisk(d.name, cur.blockDevices)) continue;
      const a = before.get(d.name);
      // A disk that appeared since the last reading, or whose counters restarted, gives nothing this time.
      const io = a && a.major === d.major && a.minor === d.minor ? ioDelta(a, d) : undefined;
      if (!io) continue;
      deltas.push(io);
      diskLatencyValues(v, d.name, io, s);
    }
    if (deltas.length > 0) diskLatencyValues(v, TOTAL, sumIo(deltas), s);
    return v.out;
  },
};

function diskLatencyValues(v: Values, instance: string, d: IoDelta, s: number): void {
  v.add(instance, 'Avg. Disk sec/Read', avgSeconds(d.readMs, d.reads));
  v.add(instance, 'Avg. Disk sec/Write', avgSeconds(d.writeMs, d.writes));
  v.add(instance, 'Avg. Disk sec/Transfer', avgSeconds(d.readMs + d.writeMs, d.reads + d.writes));
  v.add(instance, 'Physical Disk Bytes/sec', (d.readBytes + d.writeBytes) / s);
}

// ---- Network -----------------------------------------------------------------------------------

const network: PerfObject = {
  name: 'Network',
  counters: ['Total Bytes Transmitted', 'Total Bytes Received', 'Total Bytes', 'Total Packets Transmitted', 'Total Packets Received', 'Total Rx Errors', 'Total Tx Errors', 'Total Collisions'],
  parts: ['network'],
  compute(_prev, cur) {
    const v = new Values();
    for (const n of cur.network ?? []) {
      if (n.name === 'lo') continue; // loopback traffic never leaves the host
      v.add(n.name, 'Total Bytes Transmitted', n.txBytes);
      v.add(n.name, 'Total Bytes Received', n.rxBytes);
      v.add(n.name, 'Total Bytes', n.txBytes + n.rxBytes);
      v.add(n.name, 'Total Packets Transmitted', n.txPackets);
      v.add(n.name, 'Total Packets Received', n.rxPackets);
      v.add(n.name, 'Total Rx Errors', n.rxErrors);
      v.add(n.name, 'Total Tx Errors', n.txErrors);
      v.add(n.name, 'Total Collisions', n.collisions);
    }
    return v.out;
  },
};

// ---- System ------------------------------------------------------------------------------------

const system: PerfObject = {
  name: 'System',
  counters: ['Free Physical Memory', 'Free Virtual Memory', 'Free Space in Paging Files', 'Size Stored In Paging Files', 'Processes', 'Uptime', 'Users'],
  parts: ['system'],
  compute(_prev, cur) {
    const v = new Values();
    const m = cur.memory;
    if (m) {
      const free = m.get('MemFree');
      const swapFree = m.get('SwapFree');
      v.add(TOTAL, 'Free Physical Memory', free);
      if (free !== undefined && swapFree !== undefined) v.add(TOTAL, 'Free Virtual Memory', free + swapFree);
      v.add(TOTAL, 'Free Space in Paging Files', swapFree);
      v.add(TOTAL, 'Size Stored In Paging Files', m.get('SwapTotal'));
    }
    v.add(TOTAL, 'Processes', cur.processCount);
    v.add(TOTAL, 'Uptime', cur.uptimeS === undefined ? undefined : Math.floor(cur.uptimeS));
    v.add(TOTAL, 'Users', cur.users);
    return v.out;
  },
};

// ---- Process -----------------------------------------------------------------------------------

const processObject: PerfObject = {
  name: 'Process',
  counters: ['Pct User Time', 'Pct Privileged Time', 'Used Memory kBytes', 'Virtual Shared Memory'],
  parts: ['processes'],
  compute(prev, cur) {
    const v = new Values();
    const procs = cur.processes ?? [];
    const byName = new Map<string, { residentKb: number; sharedKb: number; utime: number; stime: number; timed: boolean }>();
    const before = new Map((prev?.processes ?? []).map((p) => [p.pid, p]));
    for (const p of procs) {
      let e = byName.get(p.name);
      if (!e) byName.set(p.name, (e = { residentKb: 0, sharedKb: 0, utime: 0, stime: 0, timed: false }));
      e.residentKb += p.residentKb;
      e.sharedKb += p.sharedKb;
      const a = before.get(p.pid);
      if (a && a.starttime === p.starttime) {
        e.utime += Math.max(0, p.utime - a.utime);
        e.stime += Math.max(0, p.stime - a.stime);
        e.timed = true;
      }
    }
    const s = prev ? elapsedS(prev, cur) : 0;
    // Percent of the whole machine (all CPUs), so the value stays within 0–100.
    const cpus = Math.max(1, cur.cpu?.cpus.size ?? 1);
    const capacityTicks = s * USER_HZ * cpus;
    for (const [name, e] of byName) {
      v.add(name, 'Used Memory kBytes', e.residentKb);
      v.add(name, 'Virtual Shared Memory', e.sharedKb);
      if (e.timed && capacityTicks > 0) {
        v.add(name, 'Pct User Time', percent(e.utime, capacityTicks));
        v.add(name, 'Pct Privileged Time', percent(e.stime, capacityTicks));
      }
    }
    return v.out;
  },
};

/** The Linux counter catalogue, in the order its objects are documented. */
export const PERF_OBJECTS: readonly PerfObject[] = [processor, memory, logicalDisk, physicalDisk, network, system, processObject];
