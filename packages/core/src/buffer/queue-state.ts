import { unlink } from 'node:fs/promises';
import { AgentError } from '../errors.js';
import { systemClock, type Clock } from '../ports/clock.js';
import { RateLimitedLog, type Logger } from '../telemetry/logger.js';
import { errnoCode } from './fs-util.js';
import { MAX_LEDGER_LOST_RANGES, type SeqRange } from './ledger.js';
import { RECORD_LIVE } from './record-index.js';
import type { GroupCommit } from './group-commit.js';
import type { QueueReader } from './reader.js';
import type { Retention } from './retention.js';
import type { Segment } from './segment.js';
import { mergeRanges } from './seq-ranges.js';
import type { DiskQueueOptions, QueueDropReason } from './types.js';
import type { QueueWriter } from './writer.js';

export const EMPTY = new Uint8Array(0);

export function closedError(): AgentError {
  return new AgentError('OMA_ERR_BUFFER_CLOSED', 'the durable queue is closed');
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * What the parts of the durable queue share: the segments, the positions (next, stored, read and
 * acknowledged seqs), the counters, the known losses and the way to the other parts. Only the queue's
 * own modules use it.
 */
export class QueueState {
  readonly dir: string;
  readonly log: Logger;
  readonly clock: Clock;
  readonly errorLog = new RateLimitedLog();

  /** Segments in seq order; the last one may be `active`. */
  segments: Segment[] = [];
  active: Segment | undefined;

  nextSeq = 1;
  ackedThrough = 0;
  storedThrough = 0;
  /** The reader hands out seqs >= readSeq; every live seq below it has been handed out. */
  readSeq = 1;
  /**
   * Seq ranges above the acked mark known to be missing: already counted as lost, or never stored
   * (failed writes). Persisted so that a later recovery does not count them (again).
   */
  lostRanges: SeqRange[] = [];

  diskBytes = 0;
  /** Bytes admitted but not yet written (reserved against maxBytes under 'block'). */
  pendingBytes = 0;
  /** Unacknowledged entries, and the telemetry records they carry. */
  unacked = 0;
  unackedRecords = 0;

  closing = false;
  closed = false;

  /** The parts, set by the queue right after it creates them. */
  writer!: QueueWriter;
  commit!: GroupCommit;
  reader!: QueueReader;
  retention!: Retention;

  constructor(readonly opts: DiskQueueOptions) {
    this.dir = opts.dir;
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
  }

  /**
   * The first live (unacknowledged) record at or after `from`, skipping acknowledged records, holes
   * and gaps between segments; or, when there is none, the seq just past the last indexed record.
   */
  firstLiveFrom(from: number): { seq: number; seg: Segment | undefined; idx: number } {
    let s = from;
    let i = this.segmentFor(s);
    if (i < 0) {
      if (this.segments.length === 0) return { seq: s, seg: undefined, idx: -1 };
      i = 0;
      s = Math.max(s, this.segments[0]!.firstSeq);
    }
    for (;;) {
      const seg = this.segments[i]!;
      const n = seg.index.count;
      let idx = s - seg.firstSeq;
      while (idx < n && seg.index.state(idx) !== RECORD_LIVE) idx++;
      if (idx < n) return { seq: seg.firstSeq + idx, seg, idx };
      s = Math.max(s, seg.firstSeq + n);
      const nextSeg = this.segments[i + 1];
      if (!nextSeg) return { seq: s, seg: undefined, idx: -1 };
      s = Math.max(s, nextSeg.firstSeq);
      i++;
    }
  }

  /** Moves ackedThrough over acknowledged records, holes and gaps, up to the first live record. */
  advanceMark(): void {
    const before = this.ackedThrough;
    const s = this.firstLiveFrom(this.ackedThrough + 1).seq;
    if (s - 1 > this.ackedThrough) this.ackedThrough = s - 1;
    if (this.readSeq <= this.ackedThrough) this.readSeq = this.ackedThrough + 1;
    if (this.ackedThrough !== before) this.onMarkAdvanced();
  }

  private onMarkAdvanced(): void {
    if (this.writer.blocked.length > 0) this.writer.requestReclaim();
    else this.retention.scheduleHousekeeping(false);
  }

  /** Index of the last segment with firstSeq <= seq, or -1. */
  segmentFor(seq: number): number {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (segs[mid]!.firstSeq <= seq) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  addLostRange(lo: number, hi: number): void {
    this.lostRanges = mergeRanges([...this.lostRanges, [lo, hi]]).slice(-MAX_LEDGER_LOST_RANGES);
  }

  reportDrop(count: number, reason: Exclude<QueueDropReason, 'too_large'>): void {
    try {
      this.opts.onDrop?.(count, reason);
    } catch (err) {
      this.log.warn({ err }, 'durable queue drop callback failed');
    }
  }

  async removeFile(path: string): Promise<void> {
    try {
      await unlink(path);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.log.warn({ err }, 'durable queue could not delete a segment');
    }
  }
}
