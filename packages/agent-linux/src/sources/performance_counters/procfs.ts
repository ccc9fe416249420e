/**
 * Pure parsers of the kernel's text (and utmp's binary) files the performance counters are computed
 * from. Each takes the file's content and returns plain numbers; nothing here reads a file.
 * Lines that do not have the expected shape are skipped, never fatal: a kernel may add fields.
 */

/** CPU time spent in each state, in clock ticks (USER_HZ), as in one `cpu` line of /proc/stat. */
export interface CpuTimes {
  readonly user: number;
  readonly nice: number;
  readonly system: number;
  readonly idle: number;
  readonly iowait: number;
  readonly irq: number;
  readonly softirq: number;
  readonly steal: number;
}

export interface ProcStat {
  /** The aggregate `cpu` line. */
  readonly total: CpuTimes;
  /** Per CPU, keyed by its number as a string (`'0'`, `'1'`…): the instance names of Processor. */
  readonly cpus: ReadonlyMap<string, CpuTimes>;
}

const CPU_FIELDS = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

/** Integer fields of a whitespace-separated line, from `from` on (a missing or non-numeric field is 0). */
function numbers(parts: readonly string[], from: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const n = Number(parts[from + i]);
    out.push(Number.isFinite(n) ? n : 0);
  }
  return out;
}

/** /proc/stat: the aggregate and per-CPU lines (fields a kernel does not have, e.g. steal before 2.6.11, are 0). */
export function parseProcStat(text: string): ProcStat {
  let total: CpuTimes | undefined;
  const cpus = new Map<string, CpuTimes>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    const parts = line.trim().split(/\s+/);
    const label = parts[0]!;
    const values = numbers(parts, 1, CPU_FIELDS.length);
    const times = Object.fromEntries(CPU_FIELDS.map((f, i) => [f, values[i]!])) as unknown as CpuTimes;
    if (label === 'cpu') total = times;
    else if (/^cpu\d+$/.test(label)) cpus.set(label.slice(3), times);
  }
  return { total: total ?? Object.fromEntries(CPU_FIELDS.map((f) => [f, 0])) as unknown as CpuTimes, cpus };
}

/** Sum of every state: the ticks that passed on this CPU (or on all of them for the aggregate). */
export function cpuTotal(t: CpuTimes): number {
  return t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal;
}

/** /proc/meminfo: `Key: value kB` lines as key → value in kB (lines without a number are skipped). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([^:\s]+):\s+(\d+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** /proc/vmstat: `key value` lines. */
export function parseVmstat(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\d+)\s*$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** One line of /proc/diskstats (Documentation/admin-guide/iostats.rst): counts since boot or since the device appeared. */
export interface DiskStat {
  readonly major: number;
  readonly minor: number;
  readonly name: string;
  readonly reads: number;
  readonly readSectors: number;
  readonly readMs: number;
  readonly writes: number;
  readonly writeSectors: number;
  readonly writeMs: number;
}

/** /proc/diskstats; sectors are 512 bytes whatever the device's sector size. */
export function parseDiskstats(text: string): DiskStat[] {
  const out: DiskStat[] = [];
  for (const line of text.split('\n')) {
    const p = line.trim().split(/\s+/);
    if (p.length < 14) continue;
    const [major, minor] = numbers(p, 0, 2);
    const [reads, , readSectors, readMs, writes, , writeSectors, writeMs] = numbers(p, 3, 8);
    out.push({ major: major!, minor: minor!, name: p[2]!, reads: reads!, readSectors: readSectors!, readMs: readMs!, writes: writes!, writeSectors: writeSectors!, writeMs: writeMs! });
  }
  return out;
}

/** One mount of /proc/self/mountinfo (proc(5)). */
export interface MountInfo {
  readonly major: number;
  readonly minor: number;
  /** Where it is mounted, with the kernel's octal escapes (`\040` for a space) decoded. */
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
}

/** Decodes the kernel's `\ooo` escapes of space, tab, newline and backslash in mountinfo paths. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** /proc/self/mountinfo: mount point, device number, filesystem type and source of each mount. */
export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const p = line.split(' ');
    // id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions
    const sep = p.indexOf('-', 6);
    if (p.length < 7 || sep < 0 || sep + 2 >= p.length) continue;
    const dev = /^(\d+):(\d+)$/.exec(p[2]!);
    if (!dev) continue;
    out.push({ major: Number(dev[1]), minor: Number(dev[2]), mountPoint: unescapeMount(p[4]!), fsType: p[sep + 1]!, source: unescapeMount(p[sep + 2]!) });
  }
  return out;
}

/** /proc/filesystems: the filesystem types marked `nodev` (not backed by a block device: proc, tmpfs, overlay, nfs…). */
export function parseNodevFilesystems(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^nodev\s+(\S+)/.exec(line);
    if (m) out.add(m[1]!);
  }
  return out;
}

/** One interface of /proc/net/dev: counts since the interface appeared. */
export interface NetDevStat {
  readonly name: string;
  readonly rxBytes: number;
  readonly rxPackets: number;
  readonly rxErrors: number;
  readonly txBytes: number;
  readonly txPackets: number;
  readonly txErrors: number;
  readonly collisions: number;
}

/** /proc/net/dev (two header lines, then `name: 8 receive fields 8 transmit fields`). */
export function parseNetDev(text: string): NetDevStat[] {
  const out: NetDevStat[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const p = line.slice(colon + 1).trim().split(/\s+/);
    if (!name || p.length < 16 || !/^\d+$/.test(p[0]!)) continue;
    const v = numbers(p, 0, 16);
    out.push({ name, rxBytes: v[0]!, rxPackets: v[1]!, rxErrors: v[2]!, txBytes: v[8]!, txPackets: v[9]!, txErrors: v[10]!, collisions: v[13]! });
  }
  return out;
}

/** /proc/uptime: seconds since boot (first field), or undefined when the text holds no number. */
export function parseUptime(text: string): number | undefined {
  const n = Number(text.trim().split(/\s+/)[0]);
  return text.trim() !== '' && Number.isFinite(n) ? n : undefined;
}

/** Size of one `struct utmp` record on Linux with glibc (x86_64, arm64 and the other 64-bit ABIs alike). */
export const UTMP_RECORD_BYTES = 384;
/** `ut_type` (a short at offset 0) of a logged-in user's session. */
const USER_PROCESS = 7;
/** Offset of `ut_user` (32 bytes) in the record. */
const UT_USER_OFFSET = 44;

/** Sessions of logged-in users in a utmp file (what `who` lists): records of type USER_PROCESS with a user name. */
export function countUtmpUsers(buf: Uint8Array): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let n = 0;
  for (let off = 0; off + UTMP_RECORD_BYTES <= buf.byteLength; off += UTMP_RECORD_BYTES) {
    if (view.getInt16(off, true) === USER_PROCESS && buf[off + UT_USER_OFFSET] !== 0) n++;
  }
  return n;
}

/** The fields of /proc/<pid>/stat a Process counter needs (proc(5)); times in clock ticks. */
export interface PidStat {
  /** The command name (`comm`, at most 15 bytes; may hold spaces and parentheses). */
  readonly name: string;
  readonly utime: number;
  readonly stime: number;
  /** Start time after boot in ticks: tells a reused pid from the process that had it before. */
  readonly starttime: number;
}

/** /proc/<pid>/stat; undefined when it is not one (a process can vanish while it is read). */
export function parsePidStat(text: string): PidStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  // After "pid (comm) ": state is field 3, utime field 14, stime 15, starttime 22.
  const p = text.slice(close + 2).trim().split(/\s+/);
  if (p.length < 20) return undefined;
  const [utime, stime] = numbers(p, 11, 2);
  const [starttime] = numbers(p, 19, 1);
  return { name: text.slice(open + 1, close), utime: utime!, stime: stime!, starttime: starttime! };
}

/** /proc/<pid>/statm, in pages: total program size, resident set, resident shared (file-backed) pages. */
export interface Statm {
  readonly size: number;
  readonly resident: number;
  readonly shared: number;
}

export function parseStatm(text: string): Statm | undefined {
  const p = text.trim().split(/\s+/);
  if (p.length < 3 || !p.slice(0, 3).every((x) => /^\d+$/.test(x))) return undefined;
  return { size: Number(p[0]), resident: Number(p[1]), shared: Number(p[2]) };
}

/** The page size from the first `KernelPageSize:` line of an smaps file, in bytes. */
export function parseKernelPageSize(text: string): number | undefined {
  const m = /^KernelPageSize:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}
