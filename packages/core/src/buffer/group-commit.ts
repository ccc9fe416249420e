import type { QueueState } from './queue-state.js';
import type { Segment } from './segment.js';
import type { PendingWrite } from './writer.js';

/**
 * The 'interval' fsync policy: appends written to a segment are settled together by one fsync per
 * segment, `fsyncIntervalMs` after the first of them (or at once on flush and close).
 */
export class GroupCommit {
  private unsynced: PendingWrite[] = [];
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<unknown> | undefined;

  constructor(private readonly s: QueueState) {}

  /** Written appends to settle at the next group commit (scheduled if none is). */
  add(batch: readonly PendingWrite[]): void {
    for (const w of batch) this.unsynced.push(w);
    this.scheduleSync();
  }

  private scheduleSync(): void {
    if (this.syncTimer || this.syncing || this.s.closed) return;
    // A commit delay, counted from the first unsynced append: appends arriving meanwhile share the fsync.
    // Not counted from the last fsync: a producer that waits for each append would otherwise get one
    // batch per interval.
    const delay = this.s.opts.fsyncIntervalMs;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      void this.syncNow(false);
    }, delay);
    this.syncTimer.unref();
  }

  /**
   * One group commit: fsyncs the segments holding the written-but-unsynced appends (and the active
   * segment when `all`), then settles those appends. Returns the first fsync error.
   */
  async syncNow(all: boolean): Promise<unknown> {
    if (this.syncTimer) {
      clearTimeout(this.syncTimer);
      this.syncTimer = undefined;
    }
    while (this.syncing) await this.syncing;
    const run = (async (): Promise<unknown> => {
      const batch = this.unsynced;
      this.unsynced = [];
      const segs = new Set<Segment>();
      for (const w of batch) if (w.seg) segs.add(w.seg);
      if (all && this.s.active) segs.add(this.s.active);
      let error: unknown;
      for (const seg of segs) {
        const e = await this.syncSegment(seg);
        error ??= e;
      }
      if (error === undefined) this.s.writer.resolveWrites(batch);
      else for (const w of batch) w.reject(error);
      return error;
    })();
    this.syncing = run;
    const error = await run;
    this.syncing = undefined;
    if (this.unsynced.length > 0) this.scheduleSync();
    return error;
  }

  private async syncSegment(seg: Segment): Promise<unknown> {
    if (seg.state === 'active' && seg.fh) {
      try {
        await seg.fh.sync();
        return undefined;
      } catch (err) {
        this.s.log.error({ err }, 'durable queue segment fsync failed');
        return err;
      }
    }
    return seg.sealed ? await seg.sealed : undefined;
  }

  /** Closing: no more scheduled commits. */
  stopTimer(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
  }
}
