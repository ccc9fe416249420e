import { constants as bufferConstants } from 'node:buffer';
import { chmod, mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError, ConfigError, type ConfigIssue } from '../errors.js';
import { systemClock, type Clock } from '../ports/clock.js';
import { RateLimitedLog, type Logger } from '../telemetry/logger.js';
import { convertLegacySegments } from './legacy-segments.js';
import { DeviceSpace, type DeviceProbe } from './device-space.js';
import { crc32c } from './crc32c.js';
import { DIR_MODE, FILE_MODE, errnoCode, isNoSpace, readFully, syncDir, writeFully } from './fs-util.js';
import {
  MAX_LEDGER_LOST_RANGES,
  readLedger,
  sameLedger,
  writeLedger,
  type LedgerState,
  type SeqRange,
} from './ledger.js';
import {
  MAX_RECORD_COUNT,
  MAX_RECORD_PAYLOAD_BYTES,
  RECORD_HEADER_BYTES,
  decodeRecordHeader,
  encodeRecordHeader,
  headerCrcSeed,
  parseSegmentFileName,
  segmentFileName,
} from './record-format.js';
import { RECORD_ACKED, RECORD_HOLE, RECORD_LIVE, RecordIndex } from './record-index.js';
import { scanSegment } from './segment-scan.js';
import type { DiskQueue, DiskQueueOptions, QueueDropReason, QueueEntry, QueueStats, RecoveryReport } from './types.js';

/**
 * The ledger is rewritten at most this often while acknowledgements flow (and on flush/close). Short:
 * after a crash, the entries acknowledged since the last rewrite are sent again. Rewrites that only move
 * the acknowledged mark are not fsynced (a process crash keeps them; a machine crash at worst sends
 * again what they covered); those that precede a segment deletion, a flush or a close are.
 */
const LEDGER_INTERVAL_MS = 20;
/**
 * Acknowledged segments are deleted (behind an fsynced ledger) at most this often, unless appends wait
 * for the space or the queue is flushed.
 */
const DELETE_INTERVAL_MS = 200;
/** At most this many records (two iovecs each) go into one writev. */
const MAX_BATCH_RECORDS = 512;
/** At most this many bytes go into one writev. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
/** Read-ahead window of the reader (records larger than it are read directly). */
const READ_AHEAD_BYTES = 512 * 1024;
/** While the device is full, how often free space is looked at again (and a held write retried). */
const SPACE_POLL_MS = 1000;

type SegmentState = 'active' | 'sealing' | 'sealed';

/** One segment file: records with consecutive seqs starting at `firstSeq`. */
class Segment {
  readonly index: RecordIndex;
  /** Bytes of the file (records written; for recovered segments the valid part). */
  size = 0;
  state: SegmentState = 'sealed';
  /** Write handle while active. */
  fh: FileHandle | undefined;
  /** Set while sealing: resolves to the fsync error, if any, once the write handle is closed. */
  sealed: Promise<unknown> | undefined;
  /** Removed by the drop_oldest policy or because its file vanished. */
  dropped = false;

  constructor(readonly firstSeq: number, readonly path: string, index?: RecordIndex) {
    this.index = index ?? new RecordIndex(256);
  }

  /** Last indexed seq (firstSeq - 1 when empty). */
  get lastSeq(): number {
    return this.firstSeq + this.index.count - 1;
  }
}

interface PendingWrite {
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

interface ReadRequest {
  readonly resolve: (e: QueueEntry | undefined) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort?: () => void;
  settled: boolean;
}

interface ReadPos {
  readonly seg: Segment;
  readonly idx: number;
  readonly seq: number;
}

function closedError(): AgentError {
  return new AgentError('OMA_ERR_BUFFER_CLOSED', 'the durable queue is closed');
}

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

  private readonly dir: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly space: DeviceSpace;
  /** Since when the device has been full or below the floor (writes held or dropped per the policy). */
  private spaceLowSince: number | undefined;
  /** 'block' while the device is full: writes are held and appends wait until space returns. */
  private holding = false;
  private spaceTimer: NodeJS.Timeout | undefined;
  private readonly maxRecordBytes: number;
  private readonly errorLog = new RateLimitedLog();

  /** Segments in seq order; the last one may be `active`. */
  private segments: Segment[] = [];
  private active: Segment | undefined;
  /** Seal the active segment at the next chance (to delete it once fully acknowledged). */
  private sealRequested = false;

  private nextSeq = 1;
  private ackedThrough = 0;
  private storedThrough = 0;
  /** The reader hands out seqs >= readSeq; every live seq below it has been handed out. */
  private readSeq = 1;
  /**
   * Seq ranges above the acked mark known to be missing: already counted as lost, or never stored
   * (failed writes). Persisted so that a later recovery does not count them (again).
   */
  private lostRanges: SeqRange[] = [];

  private diskBytes = 0;
  /** Bytes admitted but not yet written (reserved against maxBytes under 'block'). */
  private pendingBytes = 0;
  /** Unacknowledged entries, and the telemetry records they carry. */
  private unacked = 0;
  private unackedRecords = 0;

  private pendingWrites: PendingWrite[] = [];
  private inflightLastSeq: number | undefined;
  private writer: Promise<void> | undefined;
  private writeBarriers: Array<{ seq: number; resolve: () => void }> = [];
  private blocked: BlockedAppend[] = [];

  private unsynced: PendingWrite[] = [];
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<unknown> | undefined;

  private hkTimer: NodeJS.Timeout | undefined;
  private expiryTimer: AbortController | undefined;
  private hkQueued: Promise<void> | undefined;
  private hkChain: Promise<void> = Promise.resolve();
  private hkForce = false;
  private hkUrgent = false;
  private lastDeleteAt = -Infinity;
  private ledgerOnDisk: LedgerState | undefined;
  /** Segments taken out of `segments`, waiting to be unlinked after the next ledger write. */
  private doomed: Segment[] = [];

  private reads: ReadRequest[] = [];
  /** True while `pump` runs (set before it starts: it may finish synchronously). */
  private pumping = false;
  private pumpDone: Promise<void> = Promise.resolve();
  private fetching = false;
  private readHandle: { seg: Segment; fh: FileHandle } | undefined;
  private readonly cache = Buffer.allocUnsafe(READ_AHEAD_BYTES);
  private cacheSeg: Segment | undefined;
  private cacheStart = 0;
  private cacheLen = 0;

  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;

  constructor(private readonly opts: DiskQueueOptions, device?: DeviceProbe) {
    this.dir = opts.dir;
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
    this.space = new DeviceSpace(opts.dir, opts.minFreeBytes ?? 0, opts.minFreePercent ?? 0, () => this.clock.now(), device);
    this.maxRecordBytes = Math.min(
      opts.maxBytes,
      opts.segmentMaxBytes,
      RECORD_HEADER_BYTES + Math.min(MAX_RECORD_PAYLOAD_BYTES, bufferConstants.MAX_LENGTH),
    );
  }

  /** Starts the periodic age check (no-op without `maxAgeMs`). */
  startAgePolicy(): void {
    this.scheduleExpiry();
  }

  // ---------------------------------------------------------------- recovery

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: DIR_MODE });
    // Queued telemetry is as private as the logs it came from, whatever the umask made of the directory.
    await chmod(this.dir, DIR_MODE).catch(() => undefined);
    const ledgerRead = await readLedger(this.dir);
    let ledger: LedgerState | undefined;
    if (ledgerRead.kind === 'ok') ledger = ledgerRead.state;
    else if (ledgerRead.kind === 'corrupt') {
      this.log.warn({ reason: ledgerRead.reason }, 'durable queue ledger unreadable, replaying every stored record');
    }
    const converted = await convertLegacySegments({
      dir: this.dir,
      ackedThrough: ledger?.ackedThrough ?? 0,
      log: this.log,
      ...(this.opts.recordsOfLegacyPayload ? { recordsOf: this.opts.recordsOfLegacyPayload } : {}),
    });
    const files = (await readdir(this.dir))
      .map((name) => ({ name, firstSeq: parseSegmentFileName(name) }))
      .filter((f): f is { name: string; firstSeq: number } => f.firstSeq !== undefined)
      .sort((a, b) => a.firstSeq - b.firstSeq);
    // Segments are deleted oldest first, and only once acknowledged (or dropped by a policy, which was
    // counted then): without a ledger, everything before the first segment was acknowledged, not lost.
    const acked = ledger?.ackedThrough ?? Math.max(0, (files[0]?.firstSeq ?? 1) - 1);
    const stored = ledger?.storedThrough ?? 0;
    const known: SeqRange[] = (ledger?.lost ?? []).filter((r) => r[1] > acked);
    let maxSeen = Math.max(acked, stored, (ledger?.nextSeq ?? 1) - 1);

    /** Seq ranges reported lost: by an earlier run (from the ledger) or by this recovery. */
    let counted: SeqRange[] = mergeRanges(known);
    /** Entries lost (their record counts are unreadable: estimated below). */
    let lostCount = 0;
    /** Counts the seqs of [lo, hi] above the acked mark that were not reported before, and remembers them. */
    const lose = (lo: number, hi: number): void => {
      const fresh = uncovered(Math.max(lo, acked + 1), hi, counted);
      for (const [a, b] of fresh) lostCount += b - a + 1;
      if (fresh.length > 0) counted = mergeRanges([...counted, ...fresh]);
    };

    let badSegments = 0;
    // Every seq in (acked, stored] must be in a segment or known to be missing; anything else was lost.
    /** Every seq up to here is present, acknowledged or already accounted for. */
    let prevEnd = acked;
    /** The newest file read so far ends in bytes that are not a valid record. */
    let tailBad = false;
    /** The seq the newest file's next record would have had. */
    let tailFrom = acked + 1;
    for (let k = 0; k < files.length; k++) {
      const f = files[k]!;
      const next = files[k + 1];
      const path = join(this.dir, f.name);
      const maxSeq = next ? next.firstSeq - 1 : Number.MAX_SAFE_INTEGER;
      maxSeen = Math.max(maxSeen, f.firstSeq);
      if (next && maxSeq <= acked) {
        // Every record it can hold is acknowledged: no need to read it.
        await this.removeFile(path);
        continue;
      }
      // Records between the previous file's last one and this file's first one are gone.
      lose(prevEnd + 1, f.firstSeq - 1);
      const scanned = await this.scanFile(path, f.firstSeq, maxSeq, acked);
      if (!scanned) {
        badSegments++;
        await this.quarantine(path, f.name);
        prevEnd = Math.max(prevEnd, f.firstSeq - 1);
        tailBad = true;
        tailFrom = f.firstSeq;
        continue;
      }
      const { scan, seg } = scanned;
      // Gaps already accounted for (withdrawn or failed appends, earlier losses) are no damage.
      if (scan.tailBad || scan.lostInside.some(([a, b]) => uncovered(Math.max(a, acked + 1), b, counted).length > 0)) badSegments++;
      for (const [a, b] of scan.lostInside) lose(a, b);
      prevEnd = Math.max(prevEnd, scan.lastSeq);
      tailBad = scan.tailBad;
      tailFrom = scan.lastSeq + 1;
      maxSeen = Math.max(maxSeen, scan.lastSeq);
      if (seg.index.count === 0) {
        await this.removeFile(path);
        continue;
      }
      this.segments.push(seg);
      this.diskBytes += seg.size;
      this.unacked += seg.index.liveCount();
      this.unackedRecords += seg.index.liveRecords();
    }
    // The newest records up to `stored` were promised to be kept. A bad tail counts at least one
    // record even when the ledger is older than the data.
    lose(prevEnd + 1, stored);
    if (tailBad) lose(tailFrom, tailFrom);
    // Seqs past the last stored record were never promised: account for them without counting.
    const skipFrom = Math.max(prevEnd, acked) + 1;
    if (skipFrom <= maxSeen) counted = mergeRanges([...counted, [skipFrom, maxSeen]]);

    this.nextSeq = maxSeen + 1;
    this.ackedThrough = acked;
    this.readSeq = acked + 1;
    this.storedThrough = Math.max(acked, prevEnd);
    this.lostRanges = counted.slice(-MAX_LEDGER_LOST_RANGES);
    this.ledgerOnDisk = ledger;
    this.advanceMark();

    // A lost entry's own count is gone with it: estimate it from the entries that could be read.
    let readEntries = 0;
    let readRecords = 0;
    for (const seg of this.segments) {
      const c = seg.index.indexedRecords();
      readEntries += c.entries;
      readRecords += c.records;
    }
    const perEntry = readEntries > 0 ? readRecords / readEntries : 1;
    const lostRecords = Math.round(lostCount * perEntry);
    this.recovery = {
      replayed: this.unackedRecords,
      corrupt: lostRecords,
      corruptEntries: lostCount,
      corruptEstimated: lostCount > 0,
      badSegments,
      converted,
    };
    if (lostCount > 0) {
      this.log.error(
        { count: lostRecords, entries: lostCount, estimated: true, badSegments, dir: this.dir },
        'durable queue records lost to corruption',
      );
      if (lostRecords > 0) this.reportDrop(lostRecords, 'corrupt');
    } else if (badSegments > 0) {
      this.log.warn({ badSegments, dir: this.dir }, 'durable queue segments hold damaged records already counted as lost');
    }
    this.log.info(
      { count: this.unackedRecords, entries: this.unacked, bytes: this.diskBytes, segments: this.segments.length },
      'durable queue opened',
    );
    // Persist the recovered positions (and delete fully acknowledged segments) before taking appends.
    await this.housekeep(false);
  }

  /** Scans one segment file; undefined when it cannot be read at all. Truncates a bad tail. */
  private async scanFile(
    path: string,
    firstSeq: number,
    maxSeq: number,
    acked: number,
  ): Promise<{ scan: Awaited<ReturnType<typeof scanSegment>>; seg: Segment } | undefined> {
    let fh: FileHandle | undefined;
    try {
      let writable = true;
      try {
        fh = await open(path, 'r+');
      } catch (err) {
        const code = errnoCode(err);
        if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw err;
        // Still readable: replay it, without cutting a bad tail.
        fh = await open(path, 'r');
        writable = false;
      }
      const { size } = await fh.stat();
      const scan = await scanSegment(fh, size, firstSeq, maxSeq, acked);
      let fileSize = size;
      if (scan.tailBad && writable) {
        try {
          await fh.truncate(scan.validEnd);
          fileSize = scan.validEnd;
        } catch (err) {
          this.log.warn({ err }, 'durable queue could not truncate a damaged segment tail');
        }
      }
      const seg = new Segment(firstSeq, path, scan.index);
      seg.size = fileSize;
      return { scan, seg };
    } catch (err) {
      this.log.error({ err }, 'durable queue segment unreadable');
      return undefined;
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  /** Moves an unreadable segment aside so that it is neither read nor counted again. */
  private async quarantine(path: string, name: string): Promise<void> {
    try {
      await rename(path, join(this.dir, `${name}.bad`));
    } catch (err) {
      this.log.warn({ err }, 'durable queue could not move an unreadable segment aside');
    }
  }

  private async removeFile(path: string): Promise<void> {
    try {
      await unlink(path);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.log.warn({ err }, 'durable queue could not delete a segment');
    }
  }

  // ---------------------------------------------------------------- append

  append(payload: Buffer, records: number, signal?: AbortSignal): Promise<number> {
    if (this.closing) return Promise.reject(closedError());
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
    if (this.opts.fullPolicy === 'drop_oldest' || (this.blocked.length === 0 && this.fits(bytes))) {
      return this.admit(payload, records, bytes, signal);
    }
    if (this.opts.fullPolicy === 'drop_newest') {
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
    return !this.holding && this.diskBytes + this.pendingBytes + bytes <= this.opts.maxBytes;
  }

  /** drop_newest: a payload refused because the queue (or its device) is full; counted and logged. */
  private refuseNewest(records: number, reason: 'full' | 'no_space'): void {
    const suppressed = this.errorLog.admit(`refuse-${reason}`);
    if (suppressed >= 0) {
      this.log.error(
        { count: records, suppressed, dir: this.dir },
        reason === 'full' ? 'durable queue full, dropped the newest records' : 'durable queue device full, dropped the newest records',
      );
    }
    this.reportDrop(records, reason);
  }

  /** Assigns the seq and queues the write; the promise settles per the fsync policy. */
  private admit(payload: Uint8Array, records: number, bytes: number, signal: AbortSignal | undefined): Promise<number> {
    const seq = this.nextSeq++;
    const appendedAt = this.clock.now();
    const header = encodeRecordHeader(seq, appendedAt, records, payload);
    this.pendingBytes += bytes;
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
    this.pendingBytes -= w.bytes;
    w.payload = EMPTY;
    this.addLostRange(w.seq, w.seq);
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
  private processBlocked(): void {
    while (this.blocked.length > 0) {
      const b = this.blocked[0]!;
      if (this.closing) {
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
    if (this.blocked.length > 0 && !this.closing) this.sealIfReclaimable();
  }

  /** Under pressure: roll a fully acknowledged active segment and delete acknowledged segments now. */
  private requestReclaim(): void {
    this.sealIfReclaimable();
    this.scheduleHousekeeping(true);
  }

  /** Seals the active segment when all of it is acknowledged, so that housekeeping can delete it. */
  private sealIfReclaimable(): void {
    const a = this.active;
    if (a && a.index.count > 0 && a.lastSeq <= this.ackedThrough && this.pendingWrites.length === 0) {
      this.sealRequested = true;
      this.kickWriter();
    }
  }

  // ---------------------------------------------------------------- writer

  private kickWriter(): void {
    if (this.writer || this.holding) return;
    if (this.pendingWrites.length === 0 && !this.sealRequested) return;
    this.writer = this.writeLoop().finally(() => {
      this.writer = undefined;
      this.kickWriter();
    });
  }

  private async writeLoop(): Promise<void> {
    while ((this.pendingWrites.length > 0 || this.sealRequested) && !this.holding) {
      try {
        if (this.pendingWrites.length === 0) {
          this.sealRequested = false;
          await this.sealActive();
          this.scheduleHousekeeping(true);
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
          this.log.error({ err }, 'durable queue could not create a segment');
          this.failQueued(err);
          continue;
        }
        const limit = Math.min(this.opts.segmentMaxBytes - seg.size, this.opts.maxBytes, MAX_BATCH_BYTES);
        let n = 0;
        let bytes = 0;
        while (n < this.pendingWrites.length && n < MAX_BATCH_RECORDS) {
          const w = this.pendingWrites[n]!;
          if (n > 0 && bytes + w.bytes > limit) break;
          bytes += w.bytes;
          n++;
        }
        if (this.opts.fullPolicy === 'drop_oldest' && !(await this.makeRoom(bytes, seg))) continue;
        if (await this.space.wouldCross(bytes)) {
          await this.outOfSpace(undefined);
          continue;
        }
        const batch = this.pendingWrites.splice(0, n);
        await this.writeBatch(seg, batch, bytes);
      } catch (err) {
        // Not expected (every step handles its own errors); keep the loop alive for later appends.
        this.log.error({ err }, 'durable queue writer failed');
        this.failQueued(err);
      }
    }
  }

  /** The segment the next record goes to: rolls when the record does not fit or a seal was requested. */
  private async ensureActive(recordBytes: number): Promise<Segment> {
    const cur = this.active;
    if (cur && (this.sealRequested || (cur.size > 0 && cur.size + recordBytes > this.opts.segmentMaxBytes))) {
      this.sealRequested = false;
      await this.sealActive();
    }
    if (this.active) return this.active;
    const firstSeq = this.pendingWrites[0]?.seq ?? this.nextSeq;
    const path = join(this.dir, segmentFileName(firstSeq));
    const fh = await open(path, 'wx', FILE_MODE);
    const seg = new Segment(firstSeq, path);
    seg.fh = fh;
    seg.state = 'active';
    this.segments.push(seg);
    this.active = seg;
    if (this.opts.fsync !== 'never') await syncDir(this.dir);
    return seg;
  }

  /** Closes the active segment for writing (fsync first unless the policy is 'never'). */
  private async sealActive(): Promise<void> {
    const seg = this.active;
    if (!seg) return;
    this.active = undefined;
    seg.state = 'sealing';
    const fh = seg.fh;
    seg.fh = undefined;
    const policy = this.opts.fsync;
    seg.sealed = (async (): Promise<unknown> => {
      let syncErr: unknown;
      try {
        if (fh && policy !== 'never') await fh.sync();
      } catch (err) {
        syncErr = err;
        this.log.error({ err }, 'durable queue segment fsync failed');
      }
      try {
        await fh?.close();
      } catch (err) {
        this.log.warn({ err }, 'durable queue could not close a segment');
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
    while (this.diskBytes + bytes > this.opts.maxBytes && this.segments.length > 0) {
      const victim = this.segments[0]!;
      if (victim === seg) {
        if (seg.size === 0) break;
        await this.sealActive();
        activeDropped = true;
      }
      this.dropSegment(victim, 'full');
      droppedAny = true;
      if (activeDropped) break;
    }
    // Delete the files before writing more, so the disk never holds more than maxBytes for long.
    if (droppedAny) await this.housekeep(false).catch(() => undefined);
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
      this.pendingBytes -= bytes;
      this.inflightLastSeq = undefined;
      this.log.error({ err, count: batch.length, bytes }, 'durable queue write failed');
      // The file may end in a partial record now: cut it back and continue in a new segment.
      await fh?.truncate(base).catch(() => undefined);
      if (this.active === seg) await this.sealActive();
      this.failWrites(batch, err);
      this.processBlocked();
      return;
    }
    seg.size = base + bytes;
    this.diskBytes += bytes;
    this.pendingBytes -= bytes;
    this.inflightLastSeq = undefined;
    this.space.wrote(bytes);
    if (this.spaceLowSince !== undefined) this.spaceRecovered();
    let off = base;
    for (const w of batch) {
      while (seg.firstSeq + seg.index.count < w.seq) seg.index.pushHole();
      seg.index.push(off, w.payload.length, w.appendedAt, w.records, RECORD_LIVE);
      off += w.bytes;
      w.seg = seg;
      this.unackedRecords += w.records;
    }
    this.unacked += batch.length;
    this.releaseBarriers(batch[batch.length - 1]!.seq);
    this.wakeReaders();

    switch (this.opts.fsync) {
      case 'never':
        this.resolveWrites(batch);
        break;
      case 'always': {
        try {
          await fh?.sync();
          this.resolveWrites(batch);
        } catch (err) {
          this.log.error({ err, count: batch.length }, 'durable queue segment fsync failed');
          for (const w of batch) w.reject(err);
        }
        break;
      }
      case 'interval':
        for (const w of batch) this.unsynced.push(w);
        this.scheduleSync();
        break;
    }
  }

  private resolveWrites(batch: PendingWrite[]): void {
    for (const w of batch) {
      if (w.seq > this.storedThrough) this.storedThrough = w.seq;
      w.payload = EMPTY;
      w.resolve(w.seq);
    }
  }

  /** Fails every queued write (their reservations are released). */
  private failQueued(err: unknown): void {
    const batch = this.pendingWrites.splice(0);
    for (const w of batch) this.pendingBytes -= w.bytes;
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
    this.addLostRange(batch[0]!.seq, batch[batch.length - 1]!.seq);
    this.releaseBarriers(batch[batch.length - 1]!.seq);
  }

  /** Resolves when every write queued so far has been attempted. */
  private writeBarrier(): Promise<void> {
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
    this.spaceLowSince ??= this.clock.now();
    const suppressed = this.errorLog.admit('no-space');
    if (suppressed >= 0) {
      this.log.error(
        {
          ...(err === undefined ? {} : { err }),
          dir: this.dir,
          freeBytes: this.space.freeBytes(),
          floorBytes: this.space.floorBytes(),
          fullPolicy: this.opts.fullPolicy,
          suppressed,
        },
        err === undefined
          ? 'durable queue device is below its free-space floor; the full policy applies until space is freed'
          : 'durable queue device is full; the full policy applies until space is freed',
      );
    } else if (first) {
      this.log.debug({ dir: this.dir }, 'durable queue device full again');
    }
    switch (this.opts.fullPolicy) {
      case 'block':
        this.holding = true;
        this.pollSpace();
        return;
      case 'drop_oldest': {
        const victim = this.segments[0];
        if (victim && (victim !== this.active || victim.size > 0)) {
          if (victim === this.active) await this.sealActive();
          this.dropSegment(victim, 'no_space');
          await this.housekeep(false).catch(() => undefined);
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
      this.log.info({ dir: this.dir, durationMs: this.clock.now() - since, freeBytes: this.space.freeBytes() }, 'durable queue device has space again');
    }
  }

  /** Drops every pending write (accepted, never stored): counted and logged. Their appends resolve. */
  private dropPending(reason: 'no_space'): void {
    const batch = this.pendingWrites.splice(0);
    if (batch.length === 0) return;
    let records = 0;
    for (const w of batch) {
      this.pendingBytes -= w.bytes;
      records += w.records;
      w.payload = EMPTY;
      w.resolve(w.seq);
    }
    const last = batch[batch.length - 1]!.seq;
    this.addLostRange(batch[0]!.seq, last);
    this.releaseBarriers(last);
    const suppressed = this.errorLog.admit('drop-pending');
    if (suppressed >= 0) this.log.error({ count: records, suppressed, dir: this.dir }, 'durable queue device full, dropped the newest records');
    this.reportDrop(records, reason);
  }

  private pollSpace(): void {
    if (this.spaceTimer || this.closing) return;
    this.spaceTimer = setTimeout(() => {
      this.spaceTimer = undefined;
      this.retrySpace().catch((err: unknown) => this.log.warn({ err }, 'durable queue free-space check failed'));
    }, SPACE_POLL_MS);
    this.spaceTimer.unref();
  }

  /** 'block' with a full device: resumes writing once the head of the line fits above the floor. */
  private async retrySpace(): Promise<void> {
    if (!this.holding || this.closing) return;
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
  private failHeld(): void {
    if (!this.holding) return;
    this.holding = false;
    if (this.spaceTimer) clearTimeout(this.spaceTimer);
    this.spaceTimer = undefined;
    this.failQueued(new AgentError('OMA_ERR_BUFFER_NO_SPACE', 'no space left on the durable queue device; the batch was not stored'));
  }

  // ---------------------------------------------------------------- group commit ('interval')

  private scheduleSync(): void {
    if (this.syncTimer || this.syncing || this.closed) return;
    // A commit delay, counted from the first unsynced append: appends arriving meanwhile share the fsync.
    // Not counted from the last fsync: a producer that waits for each append would otherwise get one
    // batch per interval.
    const delay = this.opts.fsyncIntervalMs;
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
  private async syncNow(all: boolean): Promise<unknown> {
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
      if (all && this.active) segs.add(this.active);
      let error: unknown;
      for (const seg of segs) {
        const e = await this.syncSegment(seg);
        error ??= e;
      }
      if (error === undefined) this.resolveWrites(batch);
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
        this.log.error({ err }, 'durable queue segment fsync failed');
        return err;
      }
    }
    return seg.sealed ? await seg.sealed : undefined;
  }

  // ---------------------------------------------------------------- read

  read(signal?: AbortSignal): Promise<QueueEntry | undefined> {
    if (this.closing) return Promise.resolve(undefined);
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<QueueEntry | undefined>((resolve, reject) => {
      const req: ReadRequest = { resolve, reject, signal, settled: false };
      if (signal) {
        req.onAbort = () => {
          if (req.settled) return;
          req.settled = true;
          const i = this.reads.indexOf(req);
          if (i >= 0) this.reads.splice(i, 1);
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', req.onAbort, { once: true });
      }
      this.reads.push(req);
      this.wakeReaders();
    });
  }

  private wakeReaders(): void {
    if (this.pumping || this.reads.length === 0) return;
    this.pumping = true;
    this.pumpDone = this.pump();
  }

  private settleRead(req: ReadRequest, entry: QueueEntry | undefined): void {
    req.settled = true;
    if (req.onAbort) req.signal?.removeEventListener('abort', req.onAbort);
    req.resolve(entry);
  }

  /** Serves queued read requests in order while records are available. */
  private async pump(): Promise<void> {
    try {
      for (;;) {
        while (this.reads.length > 0 && this.reads[0]!.settled) this.reads.shift();
        const req = this.reads[0];
        if (!req) return;
        if (this.closing) {
          for (const r of this.reads.splice(0)) if (!r.settled) this.settleRead(r, undefined);
          return;
        }
        const pos = this.nextReadable();
        if (!pos) return;
        let entry: QueueEntry | undefined;
        this.fetching = true;
        try {
          const cached = this.fromCache(pos);
          entry = cached === MISS ? await this.fetch(pos) : cached;
        } catch (err) {
          if (!req.settled) {
            req.settled = true;
            this.reads.shift();
            if (req.onAbort) req.signal?.removeEventListener('abort', req.onAbort);
            req.reject(err);
          }
          continue;
        } finally {
          this.fetching = false;
        }
        // Dropped while being read, or skipped as damaged: look again. Aborted: keep it for the next read.
        if (!entry || pos.seg.dropped || req.settled) continue;
        this.readSeq = pos.seq + 1;
        this.reads.shift();
        this.settleRead(req, entry);
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The next live record at or after readSeq that has been written, skipping holes and gaps. Under the
   * age policy, live records older than `maxAgeMs` met on the way are dropped instead (counted).
   */
  private nextReadable(): ReadPos | undefined {
    const cutoff = this.expiryCutoff();
    let expired = 0;
    try {
      return this.scanReadable(cutoff, (records) => (expired += records));
    } finally {
      if (expired > 0) this.reportExpired(expired);
    }
  }

  /** appendedAt below which records have expired (-Infinity without an age policy). */
  private expiryCutoff(): number {
    const maxAge = this.opts.maxAgeMs ?? 0;
    return maxAge > 0 ? this.clock.now() - maxAge : -Infinity;
  }

  private scanReadable(cutoff: number, onExpired: (records: number) => void): ReadPos | undefined {
    let i = this.segmentFor(this.readSeq);
    let seq = this.readSeq;
    if (i < 0) {
      if (this.segments.length === 0) return undefined;
      i = 0;
      seq = Math.max(seq, this.segments[0]!.firstSeq);
    }
    while (i < this.segments.length) {
      const seg = this.segments[i]!;
      let idx = Math.max(0, seq - seg.firstSeq);
      const n = seg.index.count;
      while (idx < n) {
        if (seg.index.state(idx) === RECORD_LIVE) {
          const s = seg.firstSeq + idx;
          if (seg.index.appendedAt(idx) < cutoff) {
            seg.index.setState(idx, RECORD_HOLE);
            this.unacked--;
            this.unackedRecords -= seg.index.records(idx);
            this.addLostRange(s, s);
            onExpired(seg.index.records(idx));
            idx++;
            continue;
          }
          if (s > this.readSeq) this.readSeq = s;
          return { seg, idx, seq: s };
        }
        idx++;
      }
      i++;
      const nextSeg = this.segments[i];
      if (!nextSeg) break;
      seq = nextSeg.firstSeq;
    }
    return undefined;
  }

  /** Serves a record from the read-ahead window without I/O; MISS when it is not there. */
  private fromCache(pos: ReadPos): QueueEntry | undefined | typeof MISS {
    if (this.cacheSeg !== pos.seg) return MISS;
    const off = pos.seg.index.offset(pos.idx);
    const total = RECORD_HEADER_BYTES + pos.seg.index.payloadLen(pos.idx);
    if (off < this.cacheStart || off + total > this.cacheStart + this.cacheLen) return MISS;
    return this.decode(pos, this.cache, off - this.cacheStart, undefined);
  }

  private async fetch(pos: ReadPos): Promise<QueueEntry | undefined> {
    const { seg, idx } = pos;
    const off = seg.index.offset(idx);
    const len = seg.index.payloadLen(idx);
    const total = RECORD_HEADER_BYTES + len;
    let fh: FileHandle;
    try {
      fh = await this.readHandleFor(seg);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      // The file vanished under us: everything still unread in it is gone.
      if (seg === this.active) {
        this.sealRequested = true;
        this.kickWriter();
      }
      this.loseRecords(seg, idx, seg.index.count, err);
      return undefined;
    }
    if (total <= READ_AHEAD_BYTES) {
      const want = Math.max(total, Math.min(READ_AHEAD_BYTES, seg.size - off));
      this.cacheSeg = undefined;
      const got = await readFully(fh, this.cache, 0, want, off);
      this.cacheSeg = seg;
      this.cacheStart = off;
      this.cacheLen = got;
      if (got < total) {
        this.loseRecords(seg, idx, idx + 1, new Error('segment shorter than its index'));
        return undefined;
      }
      return this.decode(pos, this.cache, 0, undefined);
    }
    const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    const payload = Buffer.allocUnsafe(len);
    const gotH = await readFully(fh, header, 0, RECORD_HEADER_BYTES, off);
    const gotP = gotH === RECORD_HEADER_BYTES ? await readFully(fh, payload, 0, len, off + RECORD_HEADER_BYTES) : 0;
    if (gotP < len) {
      this.loseRecords(seg, idx, idx + 1, new Error('segment shorter than its index'));
      return undefined;
    }
    return this.decode(pos, header, 0, payload);
  }

  /** Checks a record read back (length, seq, CRC) and returns it with a payload the caller owns. */
  private decode(pos: ReadPos, buf: Buffer, at: number, ownPayload: Buffer | undefined): QueueEntry | undefined {
    const { seg, idx, seq } = pos;
    const len = seg.index.payloadLen(idx);
    const h = decodeRecordHeader(buf, at);
    const payloadView = ownPayload ?? buf.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + len);
    if (h.payloadLen !== len || h.seq !== seq || crc32c(payloadView, headerCrcSeed(buf, at)) !== h.crc) {
      this.loseRecords(seg, idx, idx + 1, new Error('record failed its checksum on read'));
      return undefined;
    }
    const payload = ownPayload ?? Buffer.from(payloadView);
    return { seq, payload, records: h.records, appendedAt: h.appendedAt };
  }

  private async readHandleFor(seg: Segment): Promise<FileHandle> {
    if (this.readHandle?.seg === seg) return this.readHandle.fh;
    await this.closeReadHandle();
    const fh = await open(seg.path, 'r');
    this.readHandle = { seg, fh };
    return fh;
  }

  private async closeReadHandle(): Promise<void> {
    const rh = this.readHandle;
    this.readHandle = undefined;
    if (this.cacheSeg === rh?.seg) this.cacheSeg = undefined;
    await rh?.fh.close().catch(() => undefined);
  }

  // ---------------------------------------------------------------- ack

  ack(seq: number): void {
    if (this.closed || !Number.isSafeInteger(seq) || seq <= this.ackedThrough || seq >= this.readSeq) return;
    const i = this.segmentFor(seq);
    const seg = this.segments[i];
    if (!seg) return;
    const idx = seq - seg.firstSeq;
    if (idx >= seg.index.count || seg.index.state(idx) !== RECORD_LIVE) return;
    seg.index.setState(idx, RECORD_ACKED);
    this.unacked--;
    this.unackedRecords -= seg.index.records(idx);
    // Cheap when seq is not the oldest unacknowledged record: the walk stops at the first live one.
    this.advanceMark();
  }

  /**
   * The first live (unacknowledged) record at or after `from`, skipping acknowledged records, holes
   * and gaps between segments; or, when there is none, the seq just past the last indexed record.
   */
  private firstLiveFrom(from: number): { seq: number; seg: Segment | undefined; idx: number } {
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
  private advanceMark(): void {
    const before = this.ackedThrough;
    const s = this.firstLiveFrom(this.ackedThrough + 1).seq;
    if (s - 1 > this.ackedThrough) this.ackedThrough = s - 1;
    if (this.readSeq <= this.ackedThrough) this.readSeq = this.ackedThrough + 1;
    if (this.ackedThrough !== before) this.onMarkAdvanced();
  }

  private onMarkAdvanced(): void {
    if (this.blocked.length > 0) this.requestReclaim();
    else this.scheduleHousekeeping(false);
  }

  /** Index of the last segment with firstSeq <= seq, or -1. */
  private segmentFor(seq: number): number {
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

  // ---------------------------------------------------------------- losses

  /** Records found damaged (or gone) while running: holes from now on, counted and logged. */
  private loseRecords(seg: Segment, from: number, to: number, cause: unknown): void {
    let n = 0;
    let records = 0;
    for (let idx = from; idx < to; idx++) {
      if (seg.index.state(idx) === RECORD_LIVE) {
        seg.index.setState(idx, RECORD_HOLE);
        n++;
        records += seg.index.records(idx);
      }
    }
    if (n === 0) return;
    this.unacked -= n;
    this.unackedRecords -= records;
    this.addLostRange(seg.firstSeq + from, seg.firstSeq + to - 1);
    const suppressed = this.errorLog.admit('corrupt');
    if (suppressed >= 0) {
      this.log.error({ err: cause, count: records, entries: n, suppressed, dir: this.dir }, 'durable queue records lost to corruption');
    }
    this.reportDrop(records, 'corrupt');
    this.advanceMark();
  }

  /** drop_oldest and the age policy: removes a whole segment, acknowledged or not. */
  private dropSegment(seg: Segment, reason: 'full' | 'no_space' | 'expired'): void {
    const i = this.segments.indexOf(seg);
    if (i >= 0) this.segments.splice(i, 1);
    seg.dropped = true;
    this.diskBytes -= seg.size;
    // Entries already handed to the reader count as lost too: the sink may still deliver them from
    // memory, but nothing stored backs them any more (a stop before then loses them).
    const entries = seg.index.liveCount();
    const n = seg.index.liveRecords();
    this.unacked -= entries;
    this.unackedRecords -= n;
    this.doomed.push(seg);
    // Everything up to the end of the oldest segment is now acknowledged or gone.
    if (seg.lastSeq > this.ackedThrough) this.ackedThrough = seg.lastSeq;
    if (this.readSeq <= seg.lastSeq) this.readSeq = seg.lastSeq + 1;
    this.advanceMark();
    this.scheduleHousekeeping(false);
    if (entries > 0) {
      const suppressed = this.errorLog.admit(reason);
      if (suppressed >= 0) {
        const fields = { count: n, entries, bytes: seg.size, suppressed, dir: this.dir };
        if (reason === 'full') this.log.error(fields, 'durable queue full, dropped the oldest records');
        else if (reason === 'no_space') this.log.error(fields, 'durable queue device full, dropped the oldest records');
        else this.log.error({ ...fields, maxAgeMs: this.opts.maxAgeMs }, 'durable queue records older than maxAge dropped');
      }
      this.reportDrop(n, reason);
    }
  }

  /** Records dropped by the age policy while reading: logged (rate-limited) and counted. */
  /** `n`: telemetry records. */
  private reportExpired(n: number): void {
    const suppressed = this.errorLog.admit('expired');
    if (suppressed >= 0) {
      this.log.error({ count: n, maxAgeMs: this.opts.maxAgeMs, suppressed }, 'durable queue records older than maxAge dropped');
    }
    this.reportDrop(n, 'expired');
    this.advanceMark();
  }

  /** Age policy: deletes sealed segments, oldest first, whose newest record has expired. */
  private expireSegments(): void {
    const cutoff = this.expiryCutoff();
    for (;;) {
      const seg = this.segments[0];
      if (!seg || seg === this.active || seg.state !== 'sealed' || seg.index.count === 0) return;
      if (seg.index.appendedAt(seg.index.count - 1) >= cutoff) return;
      this.dropSegment(seg, 'expired');
    }
  }

  private scheduleExpiry(): void {
    const maxAge = this.opts.maxAgeMs ?? 0;
    if (maxAge <= 0 || this.closing) return;
    const stop = new AbortController();
    this.expiryTimer = stop;
    this.clock
      .sleep(Math.min(60_000, Math.max(100, Math.floor(maxAge / 4))), stop.signal)
      .then(() => {
        this.expiryTimer = undefined;
        if (this.closing) return;
        try {
          this.expireSegments();
        } catch (err) {
          this.log.error({ err }, 'durable queue age check failed');
        }
        this.scheduleExpiry();
      })
      .catch(() => undefined);
  }

  private addLostRange(lo: number, hi: number): void {
    this.lostRanges = mergeRanges([...this.lostRanges, [lo, hi]]).slice(-MAX_LEDGER_LOST_RANGES);
  }

  private reportDrop(count: number, reason: Exclude<QueueDropReason, 'too_large'>): void {
    try {
      this.opts.onDrop?.(count, reason);
    } catch (err) {
      this.log.warn({ err }, 'durable queue drop callback failed');
    }
  }

  // ---------------------------------------------------------------- housekeeping

  private scheduleHousekeeping(urgent: boolean): void {
    if (this.closed) return;
    if (urgent) {
      if (this.hkTimer) {
        clearTimeout(this.hkTimer);
        this.hkTimer = undefined;
      }
      this.hkUrgent = true;
      this.housekeep(false).catch(() => undefined);
      return;
    }
    if (this.hkTimer || this.hkQueued) return;
    this.hkTimer = setTimeout(() => {
      this.hkTimer = undefined;
      this.housekeep(false).catch(() => undefined);
    }, LEDGER_INTERVAL_MS);
    this.hkTimer.unref();
  }

  /** Writes the ledger if it changed (always when `force`), then deletes acknowledged segments. */
  private housekeep(force: boolean): Promise<void> {
    if (force) this.hkForce = true;
    if (this.hkQueued) return this.hkQueued;
    const run = this.hkChain.then(() => {
      this.hkQueued = undefined;
      return this.housekeepOnce();
    });
    this.hkQueued = run;
    this.hkChain = run.catch(() => undefined);
    return run;
  }

  private async housekeepOnce(): Promise<void> {
    const force = this.hkForce;
    const urgent = this.hkUrgent;
    this.hkForce = false;
    this.hkUrgent = false;
    const now = performance.now();
    const deleting = force || urgent || now - this.lastDeleteAt >= DELETE_INTERVAL_MS;
    if (deleting) this.lastDeleteAt = now;
    else if (this.segments[0]?.state === 'sealed' && this.segments[0].lastSeq <= this.ackedThrough) this.scheduleHousekeeping(false);
    // Segments wholly at or below the acked mark go, oldest first.
    while (deleting && this.segments.length > 0) {
      const seg = this.segments[0]!;
      if (seg.state !== 'sealed' || seg.lastSeq > this.ackedThrough) break;
      this.segments.shift();
      this.diskBytes -= seg.size;
      this.doomed.push(seg);
    }
    const doomed = this.doomed.splice(0);
    const freeing = doomed.length > 0;
    this.lostRanges = this.lostRanges.filter((r) => r[1] > this.ackedThrough);
    const state: LedgerState = {
      ackedThrough: this.ackedThrough,
      storedThrough: this.storedThrough,
      nextSeq: this.nextSeq,
      lost: this.lostRanges.map((r) => [Math.max(r[0], this.ackedThrough + 1), r[1]] as const),
    };
    let ledgerErr: unknown;
    if (force || doomed.length > 0 || !sameLedger(this.ledgerOnDisk, state)) {
      const sync = force || (doomed.length > 0 && this.opts.fsync !== 'never');
      try {
        // The ledger goes first: a deleted segment is always covered by a persisted position.
        await writeLedger(this.dir, state, sync);
        this.ledgerOnDisk = state;
      } catch (err) {
        ledgerErr = err;
        if (isNoSpace(err) && doomed.length > 0) {
          // A full device would keep the ledger, and so every deletion, from ever happening: free the
          // oldest acknowledged segment first. A crash before the ledger is written would then report
          // its records as lost although they were delivered: the price of not staying stuck.
          await this.removeFile(doomed.shift()!.path);
          try {
            await writeLedger(this.dir, state, sync);
            this.ledgerOnDisk = state;
            ledgerErr = undefined;
          } catch (again) {
            ledgerErr = again;
          }
        }
        if (ledgerErr !== undefined) {
          const suppressed = this.errorLog.admit('ledger');
          if (suppressed >= 0) this.log.error({ err: ledgerErr, suppressed, dir: this.dir }, 'durable queue ledger write failed');
        }
      }
    }
    for (const seg of doomed) {
      if (this.readHandle?.seg === seg && !this.fetching) await this.closeReadHandle();
      if (this.cacheSeg === seg) this.cacheSeg = undefined;
      await this.removeFile(seg.path);
    }
    if (this.holding && freeing) await this.retrySpace();
    this.processBlocked();
    if (ledgerErr !== undefined && force) throw asError(ledgerErr);
  }

  // ---------------------------------------------------------------- stats, flush, close

  stats(): QueueStats {
    const oldest = this.firstLiveFrom(this.ackedThrough + 1);
    const oldestAppendedAt = oldest.seg ? oldest.seg.index.appendedAt(oldest.idx) : undefined;
    return {
      bytes: this.diskBytes,
      records: this.unackedRecords,
      entries: this.unacked,
      noSpace: this.spaceLowSince !== undefined,
      deviceFreeBytes: this.space.freeBytes(),
      oldestAppendedAt,
      nextSeq: this.nextSeq,
      ackedThrough: this.ackedThrough,
    };
  }

  async flush(): Promise<void> {
    if (this.closed) return;
    await this.flushInternal();
  }

  private async flushInternal(): Promise<void> {
    this.failHeld();
    await this.writeBarrier();
    const syncErr = await this.syncNow(true);
    await this.housekeep(true);
    if (syncErr !== undefined) throw asError(syncErr);
  }

  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    this.closing = true;
    this.processBlocked();
    for (const r of this.reads.splice(0)) if (!r.settled) this.settleRead(r, undefined);
    let error: unknown;
    try {
      while (this.writer) await this.writer;
      await this.flushInternal();
    } catch (err) {
      error = err;
      this.log.error({ err }, 'durable queue flush on close failed');
    }
    this.closed = true;
    if (this.hkTimer) clearTimeout(this.hkTimer);
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.expiryTimer?.abort();
    this.expiryTimer = undefined;
    if (this.spaceTimer) clearTimeout(this.spaceTimer);
    this.spaceTimer = undefined;
    this.hkTimer = undefined;
    this.syncTimer = undefined;
    await this.pumpDone;
    await this.hkChain;
    await this.sealActive();
    await this.closeReadHandle();
    this.log.info({ count: this.unackedRecords, entries: this.unacked, bytes: this.diskBytes }, 'durable queue closed');
    if (error !== undefined) throw asError(error);
  }
}

const EMPTY = new Uint8Array(0);

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
const MISS = Symbol('miss');

/** The parts of [lo, hi] not covered by `ranges` (sorted, merged). */
function uncovered(lo: number, hi: number, ranges: readonly SeqRange[]): SeqRange[] {
  const out: SeqRange[] = [];
  let from = lo;
  for (const [a, b] of ranges) {
    if (from > hi) break;
    if (b < from) continue;
    if (a > hi) break;
    if (a > from) out.push([from, a - 1]);
    from = Math.max(from, b + 1);
  }
  if (from <= hi) out.push([from, hi]);
  return out;
}

/** Sorts and merges overlapping or adjacent ranges. */
function mergeRanges(ranges: SeqRange[]): SeqRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}
