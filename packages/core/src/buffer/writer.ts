import { constants as bufferConstants } from 'node:buffer';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../errors.js';
import { DeviceSpace, type DeviceProbe } from './device-space.js';
import { FILE_MODE, isNoSpace, syncDir, writeFully } from './fs-util.js';
import { EMPTY, closedError, type QueueState } from './queue-state.js';
import { MAX_RECORD_COUNT, MAX_RECORD_PAYLOAD_BYTES, RECORD_HEADER_BYTES, encodeRecordHeader, segmentFileName } from './record-format.js';
import { RECORD_LIVE } from './record-index.js';
import { Segment } from './segment.js';

/** At most this many records (two iovecs each) go into one writev. */
const MAX_BATCH_RECORDS = 512;
/** At most this many bytes go into one writev. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
/** While the device is full, how often free space is looked at again (and a held write retried). */
const SPACE_POLL_MS = 1000;

export interface PendingWrite {
  readonly seq: number;
  readonly header: Buffer;
  payload: Uint8Array;
  readonly records: number;
  readonly bytes: number;
  readonly appendedAt: number;
  readonly resolve: (seq: number) => void;
  readonly reject: (err: unknown) => void;
  seg?: Segment;
  /** The append's signal: it still applies while the write is held for lack of space. */
  readonly signal: AbortSignal | undefined;
}

interface BlockedAppend {
  readonly payload: Uint8Array;
  readonly records: number;
  readonly bytes: number;
  readonly resolve: (p: Promise<number>) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort?: () => void;
}

/**
 * The writing side of the durable queue: admits appends (or blocks or drops them per the full
 * policy), assigns seqs, writes them in batches (one writev each) to the active segment, rolls and
 * seals segments, settles appends per the fsync policy (the 'interval' group commit is GroupCommit's),
 * and holds or drops writes while the device is full or below its free-space floor.
 */
export class QueueWriter {
  readonly space: DeviceSpace;
  /** Since when the device has been full or below the floor (writes held or dropped per the policy). */
  spaceLowSince: number | undefined;
  /** 'block' while the device is full: writes are held and appends wait until space returns. */
  holding = false;
  private spaceTimer: NodeJS.Timeout | undefined;
  private readonly maxRecordBytes: number;
  /** Seal the active segment at the next chance (to delete it once fully acknowledged). */
  sealRequested = false;
  private pendingWrites: PendingWrite[] = [];
  /** Appends withdrawn from `pendingWrites` so far: the write loop re-counts its batch when this moved during an await. */
  private withdrawals = 0;
  private inflightLastSeq: number | undefined;
  loop: Promise<void> | undefined;
  private writeBarriers: Array<{ seq: number; resolve: () => void }> = [];
  blocked: BlockedAppend[] = [];

  constructor(private readonly s: QueueState, device: DeviceProbe | undefined) {
    const opts = s.opts;
    this.space = new DeviceSpace(opts.dir, opts.minFreeBytes ?? 0, opts.minFreePercent ?? 0, () => s.clock.now(), device);
    this.maxRecordBytes = Math.min(
      opts.maxBytes,
      opts.segmentMaxBytes,
      RECORD_HEADER_BYTES + Math.min(MAX_RECORD_PAYLOAD_BYTES, bufferConstants.MAX_LENGTH),
    );
  }

  append(payload: Buffer, records: number, signal?: AbortSignal): Promise<number> {
    if (this.s.closing) return Promise.reject(closedError());
    if (!(payload instanceof Uint8Array)) {
      return Promise.reject(new TypeError('durable queue payloads must be Buffers'));
    }
    if (!Number.isSafeInteger(records) || records < 0 || records > MAX_RECORD_COUNT) {
      return Promise.reject(new RangeError(`record count must be an integer from 0 to ${MAX_RECORD_COUNT}`));
    }
    const bytes = RECORD_HEADER_BYTES + payload.length;
    if (bytes > this.maxRecordBytes) {
      return Promise.reject(
        new AgentError(
          'OMA_ERR_BUFFER_TOO_LARGE',
          `payload of ${payload.length} bytes can never fit: the largest record this queue holds is ` +
            `${this.maxRecordBytes - RECORD_HEADER_BYTES} bytes (maxBytes and segmentMaxBytes minus a ` +
            `${RECORD_HEADER_BYTES}-byte header)`,
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.s.opts.fullPolicy === 'drop_oldest' || (this.blocked.length === 0 && this.fits(bytes))) {
      return this.admit(payload, records, bytes, signal);
    }
    if (this.s.opts.fullPolicy === 'drop_newest') {
      this.refuseNewest(records, this.spaceLowSince !== undefined ? 'no_space' : 'full');
      return Promise.resolve(0);
    }
    return new Promise<number>((resolve, reject) => {
      const b: BlockedAppend = { payload, records, bytes, resolve, reject, signal };
      if (signal) {
        b.onAbort = () => {
          const i = this.blocked.indexOf(b);
          if (i < 0) return;
          this.blocked.splice(i, 1);
          reject(signal.reason as Error);
          // The head may have changed: the next one might fit.
          this.processBlocked();
        };
        signal.addEventListener('abort', b.onAbort, { once: true });
      }
      this.blocked.push(b);
      this.requestReclaim();
    });
  }

  private fits(bytes: number): boolean {
    return !this.holding && this.s.diskBytes + this.s.pendingBytes + bytes <= this.s.opts.maxBytes;
  }

  /** drop_newest: a payload refused because the queue (or its device) is full; counted and logged. */
  private refuseNewest(records: number, reason: 'full' | 'no_space'): void {
    const suppressed = this.s.errorLog.admit(`refuse-${reason}`);
    if (suppressed >= 0) {
      this.s.log.error(
        { count: records, suppressed, dir: this.s.dir },
        reason === 'full' ? 'durable queue full, dropped the newest records' : 'durable queue device full, dropped the newest records',
      );
    }
    this.s.reportDrop(records, reason);
  }

  /** Assigns the seq and queues the write; the promise settles per the fsync policy. */
  private admit(payload: Uint8Array, records: number, bytes: number, signal: AbortSignal | undefined): Promise<number> {
    const seq = this.s.nextSeq++;
    const appendedAt = this.s.clock.now();
    const header = encodeRecordHeader(seq, appendedAt, records, payload);
    this.s.pendingBytes += bytes;
    return new Promise<number>((resolve, reject) => {
      const onAbort = (): void => this.withdraw(w);
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      const w: PendingWrite = {
        seq,
        header,
        payload,
        records,
        bytes,
        appendedAt,
        signal,
        resolve: (s) => (done(), resolve(s)),
        reject: (e) => (done(), reject(e instanceof Error ? e : new Error(String(e)))),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pendingWrites.push(w);
      this.kickWriter();
    });
  }

  /**
   * An aborted append whose write is still waiting (held for lack of space, or queued behind others):
   * taken back, never stored (its seq is accounted as a known gap, not a loss). A write already under
   * way completes.
   */
  private withdraw(w: PendingWrite): void {
    const i = this.pendingWrites.indexOf(w);
    if (i < 0) return;
    this.pendingWrites.splice(i, 1);
    this.withdrawals++;
    this.s.pendingBytes -= w.bytes;
    w.payload = EMPTY;
    this.s.addLostRange(w.seq, w.seq);
    // A flush waiting for this write now waits for the one before it (or for nothing).
    const before = this.pendingWrites[i - 1]?.seq ?? this.inflightLastSeq;
    const keep: Array<{ seq: number; resolve: () => void }> = [];
    for (const b of this.writeBarriers) {
      if (b.seq !== w.seq) keep.push(b);
      else if (before === undefined) b.resolve();
      else keep.push({ seq: before, resolve: b.resolve });
    }
    this.writeBarriers = keep;
    w.reject(w.signal?.reason ?? closedError());
    this.processBlocked();
  }

  /** Admits blocked appends, in order, while they fit. */
  processBlocked(): void {
    while (this.blocked.length > 0) {
      const b = this.blocked[0]!;
      if (this.s.closing) {
        this.blocked.shift();
        if (b.onAbort) b.signal?.removeEventListener('abort', b.onAbort);
        b.reject(closedError());
        continue;
      }
      if (!this.fits(b.bytes)) break;
      this.blocked.shift();
      if (b.onAbort) b.signal?.removeEventListener('abort', b.onAbort);
      b.resolve(this.admit(b.payload, b.records, b.bytes, b.signal));
    }
    if (this.blocked.length > 0 && !this.s.closing) this.sealIfReclaimable();
  }

  /** Under pressure: roll a fully acknowledged active segment and delete acknowledged segments now. */
  requestReclaim(): void {
    this.sealIfReclaimable();
    this.s.retention.scheduleHousekeeping(true);
  }

  /** Seals the active segment when all of it is acknowledged, so that housekeeping can delete it. */
  private sealIfReclaimable(): void {
    const a = this.s.active;
    if (a && a.index.count > 0 && a.lastSeq <= this.s.ackedThrough && this.pendingWrites.length === 0) {
      this.sealRequested = true;
      this.kickWriter();
    }
  }

  // ---------------------------------------------------------------- write loop

  kickWriter(): void {
    if (this.loop || this.holding) return;
    if (this.pendingWrites.length === 0 && !this.sealRequested) return;
    this.loop = this.writeLoop().finally(() => {
      this.loop = undefined;
      this.kickWriter();
    });
  }

  private async writeLoop(): Promise<void> {
    while ((this.pendingWrites.length > 0 || this.sealRequested) && !this.holding) {
      try {
        if (this.pendingWrites.length === 0) {
          this.sealRequested = false;
          await this.sealActive();
          this.s.retention.scheduleHousekeeping(true);
          continue;
        }
        const first = this.pendingWrites[0]!;
        let seg: Segment;
        try {
          seg = await this.ensureActive(first.bytes);
        } catch (err) {
          if (isNoSpace(err)) {
            await this.outOfSpace(err);
            continue;
          }
          this.s.log.error({ err }, 'durable queue could not create a segment');
          this.failQueued(err);
          continue;
        }
        const limit = Math.min(this.s.opts.segmentMaxBytes - seg.size, this.s.opts.maxBytes, MAX_BATCH_BYTES);
        let n = 0;
        let bytes = 0;
        while (n < this.pendingWrites.length && n < MAX_BATCH_RECORDS) {
          const w = this.pendingWrites[n]!;
          if (n > 0 && bytes + w.bytes > limit) break;
          bytes += w.bytes;
          n++;
        }
        const withdrawn = this.withdrawals;
        if (this.s.opts.fullPolicy === 'drop_oldest' && !(await this.makeRoom(bytes, seg))) continue;
        if (await this.space.wouldCross(bytes)) {
          await this.outOfSpace(undefined);
          continue;
        }
        // An append withdrawn while we waited shifted the line: the n writes counted are no longer its head.
        if (this.withdrawals !== withdrawn) continue;
        const batch = this.pendingWrites.splice(0, n);
        await this.writeBatch(seg, batch, bytes);
      } catch (err) {
        // Not expected (every step handles its own errors); keep the loop alive for later appends.
        this.s.log.error({ err }, 'durable queue writer failed');
        this.failQueued(err);
      }
    }
  }

  /** The segment the next record goes to: rolls when the record does not fit or a seal was requested. */
  private async ensureActive(recordBytes: number): Promise<Segment> {
    const cur = this.s.active;
    if (cur && (this.sealRequested || (cur.size > 0 && cur.size + recordBytes > this.s.opts.segmentMaxBytes))) {
      this.sealRequested = false;
      await this.sealActive();
    }
    if (this.s.active) return this.s.active;
    const firstSeq = this.pendingWrites[0]?.seq ?? this.s.nextSeq;
    const path = join(this.s.dir, segmentFileName(firstSeq));
    const fh = await open(path, 'wx', FILE_MODE);
    const seg = new Segment(firstSeq, path);
    seg.fh = fh;
    seg.state = 'active';
    this.s.segments.push(seg);
    this.s.active = seg;
    if (this.s.opts.fsync !== 'never') await syncDir(this.s.dir);
    return seg;
  }

  /** Closes the active segment for writing (fsync first unless the policy is 'never'). */
  async sealActive(): Promise<void> {
    const seg = this.s.active;
    if (!seg) return;
    this.s.active = undefined;
    seg.state = 'sealing';
    const fh = seg.fh;
    seg.fh = undefined;
    const policy = this.s.opts.fsync;
    seg.sealed = (async (): Promise<unknown> => {
      let syncErr: unknown;
      try {
        if (fh && policy !== 'never') await fh.sync();
      } catch (err) {
        syncErr = err;
        this.s.log.error({ err }, 'durable queue segment fsync failed');
      }
      try {
        await fh?.close();
      } catch (err) {
        this.s.log.warn({ err }, 'durable queue could not close a segment');
      }
      return syncErr;
    })();
    await seg.sealed;
    seg.state = 'sealed';
  }

  /** drop_oldest: deletes the oldest segments until `bytes` more fit. False when the active one went. */
  private async makeRoom(bytes: number, seg: Segment): Promise<boolean> {
    let activeDropped = false;
    let droppedAny = false;
    while (this.s.diskBytes + bytes > this.s.opts.maxBytes && this.s.segments.length > 0) {
      const victim = this.s.segments[0]!;
      if (victim === seg) {
        if (seg.size === 0) break;
        await this.sealActive();
        activeDropped = true;
      }
      this.s.retention.dropSegment(victim, 'full');
      droppedAny = true;
      if (activeDropped) break;
    }
    // Delete the files before writing more, so the disk never holds more than maxBytes for long.
    if (droppedAny) await this.s.retention.housekeep(false).catch(() => undefined);
    return !activeDropped;
  }

  private async writeBatch(seg: Segment, batch: PendingWrite[], bytes: number): Promise<void> {
    const iov: Uint8Array[] = [];
    for (const w of batch) iov.push(w.header, w.payload);
    const base = seg.size;
    this.inflightLastSeq = batch[batch.length - 1]!.seq;
    const fh = seg.fh;
    try {
      if (!fh) throw new Error('segment not open for writing');
      await writeFully(fh, iov, base, bytes);
    } catch (err) {
      if (isNoSpace(err)) {
        this.inflightLastSeq = undefined;
        // Not stored: cut back what part of it was written, and put it back at the head of the line.
        await fh?.truncate(base).catch(() => undefined);
        this.pendingWrites.unshift(...batch);
        // Appends aborted while this write was under way are not waited for.
        for (const w of batch) if (w.signal?.aborted) this.withdraw(w);
        await this.outOfSpace(err);
        return;
      }
      this.s.pendingBytes -= bytes;
      this.inflightLastSeq = undefined;
      this.s.log.error({ err, count: batch.length, bytes }, 'durable queue write failed');
      // The file may end in a partial record now: cut it back and continue in a new segment.
      await fh?.truncate(base).catch(() => undefined);
      if (this.s.active === seg) await this.sealActive();
      this.failWrites(batch, err);
      this.processBlocked();
      return;
    }
    seg.size = base + bytes;
    this.s.diskBytes += bytes;
    this.s.pendingBytes -= bytes;
    this.inflightLastSeq = undefined;
    this.space.wrote(bytes);
    if (this.spaceLowSince !== undefined) this.spaceRecovered();
    let off = base;
    for (const w of batch) {
      while (seg.firstSeq + seg.index.count < w.seq) seg.index.pushHole();
      seg.index.push(off, w.payload.length, w.appendedAt, w.records, RECORD_LIVE);
      off += w.bytes;
      w.seg = seg;
      this.s.unackedRecords += w.records;
    }
    this.s.unacked += batch.length;
    this.releaseBarriers(batch[batch.length - 1]!.seq);
    this.s.reader.wakeReaders();

    switch (this.s.opts.fsync) {
      case 'never':
        this.resolveWrites(batch);
        break;
      case 'always': {
        try {
          await fh?.sync();
          this.resolveWrites(batch);
        } catch (err) {
          this.s.log.error({ err, count: batch.length }, 'durable queue segment fsync failed');
          for (const w of batch) w.reject(err);
        }
        break;
      }
      case 'interval':
        this.s.commit.add(batch);
        break;
    }
  }

  resolveWrites(batch: PendingWrite[]): void {
    for (const w of batch) {
      if (w.seq > this.s.storedThrough) this.s.storedThrough = w.seq;
      w.payload = EMPTY;
      w.resolve(w.seq);
    }
  }

  /** Fails every queued write (their reservations are released). */
  private failQueued(err: unknown): void {
    const batch = this.pendingWrites.splice(0);
    for (const w of batch) this.s.pendingBytes -= w.bytes;
    this.failWrites(batch, err);
    this.processBlocked();
  }

  private failWrites(batch: PendingWrite[], err: unknown): void {
    if (batch.length === 0) return;
    const e = isNoSpace(err) ? new AgentError('OMA_ERR_BUFFER_NO_SPACE', 'no space left on the durable queue device', { cause: err }) : err;
    for (const w of batch) {
      w.payload = EMPTY;
      w.reject(e);
    }
    // Never stored: not to be counted as lost by a later recovery.
    this.s.addLostRange(batch[0]!.seq, batch[batch.length - 1]!.seq);
    this.releaseBarriers(batch[batch.length - 1]!.seq);
  }

  /** Resolves when every write queued so far has been attempted. */
  writeBarrier(): Promise<void> {
    const seq = this.pendingWrites[this.pendingWrites.length - 1]?.seq ?? this.inflightLastSeq;
    if (seq === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => this.writeBarriers.push({ seq, resolve }));
  }

  private releaseBarriers(throughSeq: number): void {
    if (this.writeBarriers.length === 0) return;
    const keep: Array<{ seq: number; resolve: () => void }> = [];
    for (const b of this.writeBarriers) {
      if (b.seq <= throughSeq) b.resolve();
      else keep.push(b);
    }
    this.writeBarriers = keep;
  }

  // ---------------------------------------------------------------- no space on the device

  /**
   * The device is full (`err`: a write failed with ENOSPC or EDQUOT) or writing would take it below the
   * free-space floor. 'block': writes are held and appends wait until space returns (looked at every
   * SPACE_POLL_MS and whenever segments are deleted); 'drop_oldest': the oldest segment goes to make
   * room, or the pending writes when nothing is left to delete; 'drop_newest': the pending writes go.
   * Drops are counted as 'no_space'. Logged (rate-limited) with the directory and the free space.
   */
  private async outOfSpace(err: unknown): Promise<void> {
    const first = this.spaceLowSince === undefined;
    this.spaceLowSince ??= this.s.clock.now();
    const suppressed = this.s.errorLog.admit('no-space');
    if (suppressed >= 0) {
      this.s.log.error(
        {
          ...(err === undefined ? {} : { err }),
          dir: this.s.dir,
          freeBytes: this.space.freeBytes(),
          floorBytes: this.space.floorBytes(),
          fullPolicy: this.s.opts.fullPolicy,
          suppressed,
        },
        err === undefined
          ? 'durable queue device is below its free-space floor; the full policy applies until space is freed'
          : 'durable queue device is full; the full policy applies until space is freed',
      );
    } else if (first) {
      this.s.log.debug({ dir: this.s.dir }, 'durable queue device full again');
    }
    switch (this.s.opts.fullPolicy) {
      case 'block':
        this.holding = true;
        this.pollSpace();
        return;
      case 'drop_oldest': {
        const victim = this.s.segments[0];
        if (victim && (victim !== this.s.active || victim.size > 0)) {
          if (victim === this.s.active) await this.sealActive();
          this.s.retention.dropSegment(victim, 'no_space');
          await this.s.retention.housekeep(false).catch(() => undefined);
          await this.space.refresh();
          return;
        }
        this.dropPending('no_space');
        return;
      }
      case 'drop_newest':
        this.dropPending('no_space');
        return;
    }
  }

  /** Writes succeed again after a full device: logged once. */
  private spaceRecovered(): void {
    const since = this.spaceLowSince;
    this.spaceLowSince = undefined;
    if (since !== undefined) {
      this.s.log.info({ dir: this.s.dir, durationMs: this.s.clock.now() - since, freeBytes: this.space.freeBytes() }, 'durable queue device has space again');
    }
  }

  /** Drops every pending write (accepted, never stored): counted and logged. Their appends resolve. */
  private dropPending(reason: 'no_space'): void {
    const batch = this.pendingWrites.splice(0);
    if (batch.length === 0) return;
    let records = 0;
    for (const w of batch) {
      this.s.pendingBytes -= w.bytes;
      records += w.records;
      w.payload = EMPTY;
      w.resolve(w.seq);
    }
    const last = batch[batch.length - 1]!.seq;
    this.s.addLostRange(batch[0]!.seq, last);
    this.releaseBarriers(last);
    const suppressed = this.s.errorLog.admit('drop-pending');
    if (suppressed >= 0) this.s.log.error({ count: records, suppressed, dir: this.s.dir }, 'durable queue device full, dropped the newest records');
    this.s.reportDrop(records, reason);
  }

  private pollSpace(): void {
    if (this.spaceTimer || this.s.closing) return;
    this.spaceTimer = setTimeout(() => {
      this.spaceTimer = undefined;
      this.retrySpace().catch((err: unknown) => this.s.log.warn({ err }, 'durable queue free-space check failed'));
    }, SPACE_POLL_MS);
    this.spaceTimer.unref();
  }

  /** 'block' with a full device: resumes writing once the head of the line fits above the floor. */
  async retrySpace(): Promise<void> {
    if (!this.holding || this.s.closing) return;
    await this.space.refresh();
    const head = this.pendingWrites[0]?.bytes ?? this.blocked[0]?.bytes ?? 0;
    if (await this.space.wouldCross(head)) {
      this.pollSpace();
      return;
    }
    this.holding = false;
    this.kickWriter();
    this.processBlocked();
  }

  /** Closing while writes are held for space: they fail (never stored, so their sources keep their positions). */
  failHeld(): void {
    if (!this.holding) return;
    this.holding = false;
    if (this.spaceTimer) clearTimeout(this.spaceTimer);
    this.spaceTimer = undefined;
    this.failQueued(new AgentError('OMA_ERR_BUFFER_NO_SPACE', 'no space left on the durable queue device; the batch was not stored'));
  }

  /** Closing: no more free-space polls. */
  stopSpacePoll(): void {
    if (this.spaceTimer) clearTimeout(this.spaceTimer);
    this.spaceTimer = undefined;
  }

  /** The reader found the active segment's file gone: start a new one at the next chance. */
  requestSeal(): void {
    this.sealRequested = true;
    this.kickWriter();
  }
}
