import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { readFile, readdir, statfs } from 'node:fs/promises';
import {
  countUtmpUsers,
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
  type DiskStat,
  type MountInfo,
  type NetDevStat,
  type ProcStat,
} from './procfs.js';

/** What `statfs(2)` says about a filesystem (Node's `fs.statfs`): counts of `bsize` blocks and of inodes. */
export interface FsSpace {
  readonly bsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
}

/** Every file access of the source: the real files by default, fixed text in tests. */
export interface ProcFiles {
  readText(path: string): Promise<string>;
  readBytes(path: string): Promise<Uint8Array>;
  readdir(path: string): Promise<string[]>;
  statfs(path: string): Promise<FsSpace>;
}

export const PROC_PATHS = {
  stat: '/proc/stat',
  meminfo: '/proc/meminfo',
  vmstat: '/proc/vmstat',
  diskstats: '/proc/diskstats',
  mountinfo: '/proc/self/mountinfo',
  filesystems: '/proc/filesystems',
  netdev: '/proc/net/dev',
  uptime: '/proc/uptime',
  utmp: '/run/utmp',
  sysBlock: '/sys/block',
  proc: '/proc',
  smaps: '/proc/self/smaps',
} as const;

/** Reads at most the first 8 KiB of a file (smaps of a large process runs to megabytes). */
function readHeadSync(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(8192);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

/** Files the kernel makes up in memory when read: they never wait on a device. */
function isKernelFile(path: string): boolean {
  return path.startsWith('/proc/') || path.startsWith('/sys/') || path === '/proc';
}

/** Runs `fn` now (synchronously); a throw becomes a rejection (the Promise executor catches it). */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise((resolve) => resolve(fn()));
}

/**
 * The real files. /proc and /sys files are read synchronously: the kernel writes them out from memory,
 * so a read takes microseconds and never waits on a device, while an asynchronous read costs a
 * thread-pool round trip per file (some ten times the CPU time for a Process sample of every pid, on
 * this project's test machine). Other files (utmp) and statfs (a mount's device may be slow) stay
 * asynchronous.
 */
export const nodeProcFiles: ProcFiles = {
  readText: (path) =>
    path === PROC_PATHS.smaps ? settle(() => readHeadSync(path)) : isKernelFile(path) ? settle(() => readFileSync(path, 'utf8')) : readFile(path, 'utf8'),
  readBytes: (path) => (isKernelFile(path) ? settle(() => readFileSync(path)) : readFile(path)),
  readdir: (path) => (isKernelFile(path) ? settle(() => readdirSync(path)) : readdir(path)),
  statfs: (path) => statfs(path),
};

/** Processes read between two turns of the event loop, so that a host with thousands of them does not hold it. */
export const PROCESSES_PER_TURN = 64;

/** The parts of the system a snapshot can read; each object of the catalogue names the parts it needs. */
export type SnapshotPart = 'cpu' | 'memory' | 'vmstat' | 'disks' | 'mounts' | 'network' | 'system' | 'processes';

export interface MountSample extends MountInfo {
  /** Undefined when statfs failed (a mount that went away, no permission). */
  readonly space: FsSpace | undefined;
}

export interface ProcessSample {
  readonly pid: string;
  readonly name: string;
  readonly starttime: number;
  /** CPU time in user and kernel mode, in ticks. */
  readonly utime: number;
  readonly stime: number;
  /** Resident and resident-shared memory, in kB. */
  readonly residentKb: number;
  readonly sharedKb: number;
}

/** One reading of the parts a group needs, at `atMs` on the source's clock. */
export interface Snapshot {
  readonly atMs: number;
  readonly cpu?: ProcStat;
  readonly memory?: ReadonlyMap<string, number>;
  readonly vmstat?: ReadonlyMap<string, number>;
  readonly disks?: readonly DiskStat[];
  /** Names under /sys/block: whole disks (partitions are not listed there). */
  readonly blockDevices?: ReadonlySet<string>;
  readonly mounts?: readonly MountSample[];
  readonly network?: readonly NetDevStat[];
  readonly uptimeS?: number;
  readonly users?: number;
  readonly processCount?: number;
  readonly processes?: readonly ProcessSample[];
}

/** A part that could not be read (missing file, no permission): reported, its counters skipped. */
export interface PartFailure {
  readonly part: SnapshotPart;
  readonly path: string;
  readonly err: unknown;
}

/** Filesystem types without a block device that still hold data users care about. */
const NODEV_KEPT = new Set(['zfs']);

/** Filesystem types counted as Logical Disk when /proc/filesystems cannot be read. */
const FALLBACK_REAL = /^(ext[234]|xfs|btrfs|zfs|f2fs|jfs|reiserfs|vfat|exfat|ntfs3?|fuseblk|hfsplus|nilfs2|bcachefs)$/;

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** Reads snapshots of the parts asked for. The page size is learnt once, at the first Process reading. */
export class SnapshotReader {
  private pageSizeBytes: number | undefined;

  constructor(private readonly files: ProcFiles) {}

  /** Reads `parts`; a part whose file cannot be read is left out and listed in `failures`. */
  async read(parts: ReadonlySet<SnapshotPart>, atMs: number): Promise<{ snapshot: Snapshot; failures: PartFailure[] }> {
    const failures: PartFailure[] = [];
    const snap: { -readonly [K in keyof Snapshot]: Snapshot[K] } = { atMs };
    const attempt = async <T>(part: SnapshotPart, path: string, fn: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await fn();
      } catch (err) {
        failures.push({ part, path, err });
        return undefined;
      }
    };
    const text = (part: SnapshotPart, path: string): Promise<string | undefined> => attempt(part, path, () => this.files.readText(path));

    if (parts.has('cpu') || parts.has('processes')) {
      const t = await text('cpu', PROC_PATHS.stat);
      if (t !== undefined) snap.cpu = parseProcStat(t);
    }
    if (parts.has('memory') || parts.has('system')) {
      const t = await text('memory', PROC_PATHS.meminfo);
      if (t !== undefined) snap.memory = parseMeminfo(t);
    }
    if (parts.has('vmstat')) {
      const t = await text('vmstat', PROC_PATHS.vmstat);
      if (t !== undefined) snap.vmstat = parseVmstat(t);
    }
    if (parts.has('disks') || parts.has('mounts')) {
      const t = await text('disks', PROC_PATHS.diskstats);
      if (t !== undefined) snap.disks = parseDiskstats(t);
    }
    if (parts.has('disks')) {
      const names = await attempt('disks', PROC_PATHS.sysBlock, () => this.files.readdir(PROC_PATHS.sysBlock));
      if (names !== undefined) snap.blockDevices = new Set(names);
    }
    if (parts.has('mounts')) snap.mounts = await this.readMounts(attempt);
    if (parts.has('network')) {
      const t = await text('network', PROC_PATHS.netdev);
      if (t !== undefined) snap.network = parseNetDev(t);
    }
    if (parts.has('system')) {
      const t = await text('system', PROC_PATHS.uptime);
      if (t !== undefined) snap.uptimeS = parseUptime(t);
      snap.users = await this.readUsers(failures);
    }
    if (parts.has('system') || parts.has('processes')) {
      const pids = await attempt('system', PROC_PATHS.proc, async () => (await this.files.readdir(PROC_PATHS.proc)).filter((n) => /^\d+$/.test(n)));
      if (pids !== undefined) {
        snap.processCount = pids.length;
        if (parts.has('processes')) snap.processes = await this.readProcesses(pids);
      }
    }
    return { snapshot: snap, failures };
  }

  private async readMounts(attempt: <T>(part: SnapshotPart, path: string, fn: () => Promise<T>) => Promise<T | undefined>): Promise<MountSample[] | undefined> {
    const text = await attempt('mounts', PROC_PATHS.mountinfo, () => this.files.readText(PROC_PATHS.mountinfo));
    if (text === undefined) return undefined;
    let nodev: Set<string> | undefined;
    try {
      nodev = parseNodevFilesystems(await this.files.readText(PROC_PATHS.filesystems));
    } catch {
      nodev = undefined; // fall back to a list of block filesystems
    }
    const real = (m: MountInfo): boolean => (nodev ? !nodev.has(m.fsType) || NODEV_KEPT.has(m.fsType) : FALLBACK_REAL.test(m.fsType));
    // A mount point mounted over again shows the last mount: keep that one only.
    const byPoint = new Map<string, MountInfo>();
    for (const m of parseMountinfo(text)) {
      byPoint.delete(m.mountPoint);
      if (real(m)) byPoint.set(m.mountPoint, m);
    }
    const out: MountSample[] = [];
    for (const m of byPoint.values()) {
      let space: FsSpace | undefined;
      try {
        space = await this.files.statfs(m.mountPoint);
      } catch {
        space = undefined; // unmounted since, or not ours to look at: no space counters for it
      }
      out.push({ ...m, space });
    }
    return out;
  }

  /** Sessions in utmp; 0 when the host has no utmp file (containers, minimal systems: nobody logged in through login or sshd). */
  private async readUsers(failures: PartFailure[]): Promise<number | undefined> {
    try {
      return countUtmpUsers(await this.files.readBytes(PROC_PATHS.utmp));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return 0;
      failures.push({ part: 'system', path: PROC_PATHS.utmp, err });
      return undefined;
    }
  }

  private async readProcesses(pids: readonly string[]): Promise<ProcessSample[]> {
    const pageKb = (await this.pageSize()) / 1024;
    const out: ProcessSample[] = [];
    for (const [i, pid] of pids.entries()) {
      if (i > 0 && i % PROCESSES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
      try {
        const stat = parsePidStat(await this.files.readText(`/proc/${pid}/stat`));
        const statm = parseStatm(await this.files.readText(`/proc/${pid}/statm`));
        if (!stat || !statm) continue;
        out.push({
          pid,
          name: stat.name,
          starttime: stat.starttime,
          utime: stat.utime,
          stime: stat.stime,
          residentKb: statm.resident * pageKb,
          sharedKb: statm.shared * pageKb,
        });
      } catch {
        // The process exited between the directory listing and the read.
      }
    }
    return out;
  }

  private async pageSize(): Promise<number> {
    if (this.pageSizeBytes === undefined) {
      try {
        this.pageSizeBytes = parseKernelPageSize(await this.files.readText(PROC_PATHS.smaps)) ?? 4096;
      } catch {
        this.pageSizeBytes = 4096;
      }
    }
    return this.pageSizeBytes;
  }
}
