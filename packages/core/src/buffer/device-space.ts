import { statfs } from 'node:fs/promises';

/** Free and total bytes of the device holding a directory, as an unprivileged writer sees them. */
export interface DeviceUsage {
  readonly freeBytes: number;
  readonly totalBytes: number;
}

export type StatDevice = (dir: string) => Promise<DeviceUsage | undefined>;

/** statfs(2): blocks available to unprivileged users (root's reserve is not ours to fill). */
export const statDevice: StatDevice = async (dir) => {
  try {
    const s = await statfs(dir);
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    return undefined;
  }
};

/** Re-read the device's usage at least this often while writing. */
const REFRESH_MS = 1000;

/** How a queue learns its device's usage (tests pass a pretend device). */
export interface DeviceProbe {
  readonly stat: StatDevice;
  /** Re-read at least this often while writing (default 1 s). */
  readonly refreshMs?: number;
}

/**
 * The free-space floor of one queue: whether writing `n` more bytes would leave its device with less
 * than the floor free. Reads statfs at most once a second while space is plentiful, and before every
 * write once the margin left is thinner than what was written since the last read, so that checking
 * costs nothing on the hot path and nothing slips through when the margin is small.
 */
export class DeviceSpace {
  private usage: DeviceUsage | undefined;
  private readAt = -Infinity;
  private writtenSince = 0;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly minFreeBytes: number,
    private readonly minFreePercent: number,
    private readonly now: () => number,
    probe: DeviceProbe = { stat: statDevice },
  ) {
    this.stat = probe.stat;
    this.refreshMs = probe.refreshMs ?? REFRESH_MS;
  }

  private readonly stat: StatDevice;
  private readonly refreshMs: number;

  /** The floor in bytes: the smaller of the two settings (0 when either is 0 or the device size is unknown). */
  floorBytes(): number {
    if (this.minFreeBytes <= 0 || this.minFreePercent <= 0 || !this.usage) return 0;
    return Math.min(this.minFreeBytes, Math.floor((this.usage.totalBytes * this.minFreePercent) / 100));
  }

  /** Free bytes at the last read, less what was written since (undefined where the OS does not say). */
  freeBytes(): number | undefined {
    return this.usage === undefined ? undefined : Math.max(0, this.usage.freeBytes - this.writtenSince);
  }

  /** Reads the device's usage now. */
  refresh(): Promise<void> {
    this.reading ??= (async () => {
      try {
        this.usage = await this.stat(this.dir);
        this.readAt = this.now();
        this.writtenSince = 0;
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  /** True when writing `bytes` now would take the device below the floor. */
  async wouldCross(bytes: number): Promise<boolean> {
    const stale = this.now() - this.readAt >= this.refreshMs;
    const free = this.freeBytes();
    const thin = free !== undefined && free - bytes < this.floorBytes() + this.writtenSince;
    if (stale || thin) await this.refresh();
    const now = this.freeBytes();
    if (now === undefined) return false;
    return now - bytes < this.floorBytes();
  }

  /** Counts bytes written since the last read (the estimate of free space shrinks by them). */
  wrote(bytes: number): void {
    this.writtenSince += bytes;
  }
}
