import { ConfigError, type ConfigIssue } from '../errors.js';
import type { DeviceProbe } from './device-space.js';
import { GroupCommit } from './group-commit.js';
import { QueueReader } from './reader.js';
import { RECORD_HEADER_BYTES } from './record-format.js';
import { recoverQueue } from './recovery.js';
import { Retention } from './retention.js';
import { QueueState, asError } from './queue-state.js';
import type { DiskQueue, DiskQueueOptions, QueueEntry, QueueStats, RecoveryReport } from './types.js';
import { QueueWriter } from './writer.js';

/*
 * The durable queue: append-only segment files of checksummed records and a ledger of positions.
 * Its parts share one QueueState: recovery.ts opens it, writer.ts (with group-commit.ts) appends,
 * reader.ts reads and takes acknowledgements, retention.ts drops segments and writes the ledger before
 * deleting acknowledged ones. FileDiskQueue below ties them together behind the DiskQueue interface.
 */

function validateOptions(o: DiskQueueOptions): void {
  const issues: ConfigIssue[] = [];
  const minBytes = RECORD_HEADER_BYTES + 1;
  if (typeof o.dir !== 'string' || o.dir.length === 0) issues.push({ path: 'dir', message: 'must be a non-empty path' });
  if (!Number.isSafeInteger(o.maxBytes) || o.maxBytes < minBytes) {
    issues.push({ path: 'maxBytes', message: `must be an integer >= ${minBytes}` });
  }
  if (!Number.isSafeInteger(o.segmentMaxBytes) || o.segmentMaxBytes < minBytes) {
    issues.push({ path: 'segmentMaxBytes', message: `must be an integer >= ${minBytes}` });
  }
  if (!['always', 'interval', 'never'].includes(o.fsync)) {
    issues.push({ path: 'fsync', message: "must be 'always', 'interval' or 'never'" });
  }
  if (!Number.isFinite(o.fsyncIntervalMs) || o.fsyncIntervalMs < 0) {
    issues.push({ path: 'fsyncIntervalMs', message: 'must be a number >= 0' });
  }
  if (!['block', 'drop_oldest', 'drop_newest'].includes(o.fullPolicy)) {
    issues.push({ path: 'fullPolicy', message: "must be 'block', 'drop_oldest' or 'drop_newest'" });
  }
  if (o.minFreeBytes !== undefined && (!Number.isSafeInteger(o.minFreeBytes) || o.minFreeBytes < 0)) {
    issues.push({ path: 'minFreeBytes', message: 'must be an integer >= 0 (0: no floor)' });
  }
  if (o.minFreePercent !== undefined && (!Number.isFinite(o.minFreePercent) || o.minFreePercent < 0 || o.minFreePercent > 100)) {
    issues.push({ path: 'minFreePercent', message: 'must be a number from 0 to 100 (0: no floor)' });
  }
  if (o.maxAgeMs !== undefined && (!Number.isSafeInteger(o.maxAgeMs) || o.maxAgeMs < 0)) {
    issues.push({ path: 'maxAgeMs', message: 'must be an integer >= 0 (0: no age limit)' });
  }
  if (issues.length > 0) throw new ConfigError('invalid durable queue options', issues);
}

/** Opens (creating or recovering) the durable queue in `opts.dir`. Never fails because of damaged files. */
export async function openDiskQueue(opts: DiskQueueOptions, device?: DeviceProbe): Promise<DiskQueue> {
  validateOptions(opts);
  const q = new FileDiskQueue(opts, device);
  await q.open();
  q.startAgePolicy();
  return q;
}

class FileDiskQueue implements DiskQueue {
  recovery: RecoveryReport = { replayed: 0, corrupt: 0, corruptEntries: 0, corruptEstimated: false, badSegments: 0, converted: 0 };

  private readonly s: QueueState;
  private closePromise: Promise<void> | undefined;

  constructor(opts: DiskQueueOptions, device?: DeviceProbe) {
    const s = new QueueState(opts);
    s.writer = new QueueWriter(s, device);
    s.commit = new GroupCommit(s);
    s.reader = new QueueReader(s);
    s.retention = new Retention(s);
    this.s = s;
  }

  /** Starts the periodic age check (no-op without `maxAgeMs`). */
  startAgePolicy(): void {
    this.s.retention.scheduleExpiry();
  }

  async open(): Promise<void> {
    this.recovery = await recoverQueue(this.s);
    // Persist the recovered positions (and delete fully acknowledged segments) before taking appends.
    await this.s.retention.housekeep(false);
  }

  append(payload: Buffer, records: number, signal?: AbortSignal): Promise<number> {
    return this.s.writer.append(payload, records, signal);
  }

  read(signal?: AbortSignal): Promise<QueueEntry | undefined> {
    return this.s.reader.read(signal);
  }

  ack(seq: number): void {
    this.s.reader.ack(seq);
  }

  recycle(payload: Buffer): void {
    this.s.reader.payloads.give(payload);
  }

  stats(): QueueStats {
    const s = this.s;
    const oldest = s.firstLiveFrom(s.ackedThrough + 1);
    const oldestAppendedAt = oldest.seg ? oldest.seg.index.appendedAt(oldest.idx) : undefined;
    return {
      bytes: s.diskBytes,
      records: s.unackedRecords,
      entries: s.unacked,
      noSpace: s.writer.spaceLowSince !== undefined,
      deviceFreeBytes: s.writer.space.freeBytes(),
      oldestAppendedAt,
      nextSeq: s.nextSeq,
      ackedThrough: s.ackedThrough,
    };
  }

  async flush(): Promise<void> {
    if (this.s.closed) return;
    await this.flushInternal();
  }

  private async flushInternal(): Promise<void> {
    this.s.writer.failHeld();
    await this.s.writer.writeBarrier();
    const syncErr = await this.s.commit.syncNow(true);
    await this.s.retention.housekeep(true);
    if (syncErr !== undefined) throw asError(syncErr);
  }

  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    const s = this.s;
    s.closing = true;
    s.writer.processBlocked();
    s.reader.endReads();
    let error: unknown;
    try {
      while (s.writer.loop) await s.writer.loop;
      await this.flushInternal();
    } catch (err) {
      error = err;
      s.log.error({ err }, 'durable queue flush on close failed');
    }
    s.closed = true;
    s.retention.stopTimers();
    s.commit.stopTimer();
    s.writer.stopSpacePoll();
    await s.reader.pumpDone;
    await s.retention.idle();
    await s.writer.sealActive();
    await s.reader.closeReadHandle();
    s.log.info({ count: s.unackedRecords, entries: s.unacked, bytes: s.diskBytes }, 'durable queue closed');
    if (error !== undefined) throw asError(error);
  }
}
