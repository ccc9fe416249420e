import { constants, type BigIntStats } from 'node:fs';
import { open as openFile, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CheckpointDamage, CheckpointLoad } from '../../checkpoint/checkpoint-store.js';
import { AgentError, errorType } from '../../errors.js';
import type { LogRecord } from '../../model/record.js';
import type { Source, SourceContext } from '../../pipeline/component.js';
import { RateLimitedLog } from '../../telemetry/logger.js';
import { parseCheckpoint, serializeCheckpoint, type FileCheckpoint } from './checkpoint-state.js';
import { COMPRESSED_PATTERNS, type CustomLogConfig } from './config.js';
import {
  FINGERPRINT_BYTES,
  fingerprintOf,
  identityOf,
  prefixesAgree,
  readPrefix,
  startsWith,
} from './file-identity.js';
import { compileExclude, compileGlob, expandGlobs, type CompiledGlob } from './glob.js';
import type { RecordSink, RecordSplitterOptions } from './record-splitter.js';
import { TailedFile, type TailState } from './tailed-file.js';
import { timestampParser } from './timestamp-formats.js';

/** Bytes read from one file before the others get their turn (at least one read). */
const TURN_BYTES = 4 * 1024 * 1024;
/** A new file waits at most this long for an older file of the same origin to be drained first. */
const ORDER_WAIT_MAX_MS = 30_000;
/** Directory entries examined when looking for a renamed file or a copytruncate copy. */
const MAX_DIR_ENTRIES = 4096;
/** Candidate files whose first bytes are compared when looking for a copy. */
const MAX_COPY_CANDIDATES = 32;
/** JSON bytes of a record besides the RawData, FilePath and Computer values (keys, TimeGenerated, quotes). */
const RECORD_OVERHEAD_BYTES = 85;
const MAX_EMIT_BACKOFF_MS = 10_000;
/** Consecutive unexpected reader-loop failures after which the source reports itself failed. */
const MAX_LOOP_FAILURES = 5;
/** What separates a log's name from a rotation suffix: `app.log.1`, `app.log-20240101`, `app.log_2`. */
const ROTATION_SEPARATORS: readonly string[] = ['.', '-', '_'];
/** Missed generations taken at once when a file is found rotated away. */
const MAX_GENERATIONS = 32;
/** Released files remembered, so that neither they nor copies of them pass for missed generations. */
const MAX_RELEASED = 256;
/** File timestamps come from a coarse kernel clock (one tick behind at most): allowance when comparing them with ours. */
const FS_CLOCK_SLACK_MS = 25;
const IS_WINDOWS = process.platform === 'win32';

interface Matched {
  readonly path: string;
  readonly key: string;
  readonly size: number;
}

interface OpenedFile {
  readonly fh: FileHandle;
  readonly dev: string;
  readonly ino: string;
  readonly path: string;
}

/** First bytes and size of a file, to tell a copy of it. */
interface ContentSample {
  readonly key: string;
  readonly prefix: Buffer;
  readonly size: number;
}

/** A name the rotation of a log called `base` may have: `base` + separator + suffix. */
function isRotationName(name: string, base: string): boolean {
  const [n, b] = IS_WINDOWS ? [name.toLowerCase(), base.toLowerCase()] : [name, base];
  return n.length > b.length + 1 && n.startsWith(b) && ROTATION_SEPARATORS.includes(n[b.length]!);
}

/**
 * True when a file with these first bytes and size may be a copy of `of`: same first bytes (all
 * `FINGERPRINT_BYTES` of them, or as many as there are while it is no larger than `of`).
 */
function looksLikeCopy(prefix: Buffer, size: number, of: ContentSample): boolean {
  if (!prefixesAgree(prefix, of.prefix)) return false;
  return Math.min(prefix.length, of.prefix.length) >= FINGERPRINT_BYTES || size <= of.size;
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What a rotated file must satisfy to be a generation that no scan saw (see the class comment). */
interface GenerationBound {
  /** The rotated file it follows: it was written after it. */
  readonly predecessor?: BigIntStats;
  /**
   * Wall-clock ms after which it was created. Checked where the file system has birth times; without a
   * predecessor it is the only evidence, so birth times are then required.
   */
  readonly bornAfterMs?: number;
}

function withinBound(st: BigIntStats, bound: GenerationBound): boolean {
  const born = st.birthtimeNs > 0n;
  const p = bound.predecessor;
  if (p) {
    // Last written before the predecessor was: an older generation, or a copy made before its last
    // write. Within one timestamp tick, it must have been created no earlier than the predecessor last
    // changed (its rename).
    if (st.mtimeNs < p.mtimeNs) return false;
    if (st.mtimeNs === p.mtimeNs && !(born && st.birthtimeNs >= p.ctimeNs)) return false;
  } else if (!born) {
    return false;
  }
  // Created before that time: it existed then, so it is no generation that came after.
  if (bound.bornAfterMs !== undefined && born && Number(st.birthtimeMs) < bound.bornAfterMs - FS_CLOCK_SLACK_MS) return false;
  return true;
}

/** Records waiting to be emitted and the positions they make safe to save. */
class PendingBatch {
  readonly records: LogRecord[] = [];
  bytes = 0;
  readonly commits = new Map<TailedFile, number>();
}

/** Opens for reading; never blocks on a FIFO that replaced a matched file. */
function openForRead(path: string): Promise<FileHandle> {
  return process.platform === 'win32' ? openFile(path, 'r') : openFile(path, constants.O_RDONLY | constants.O_NONBLOCK);
}

function keyOf(dev: bigint | string, ino: bigint | string): string {
  return `${dev}:${ino}`;
}

/**
 * Tails text files matching glob patterns into a custom table (docs/protocol-notes.md#table-custom-text, #custom-text-logs).
 *
 * One loop does everything in turn: expand the patterns, read each open file from its position in big
 * chunks, split records, emit full batches and wait for the queue before reading on (backpressure), then
 * save positions. Scans (pattern expansion, rotation detection) run at least every `scanIntervalMs` even
 * while there is a backlog: a file's turn ends after `TURN_BYTES` or when a scan is due, a round ends when
 * a scan is due (the next round goes on with the next file), and while an emit waits on the queue longer
 * than that, the scan runs during the wait (the loop is parked there, so the scan still runs alone). A
 * file is known by device + inode + a fingerprint of its first bytes, so a renamed file keeps its
 * position and an inode reused by another file is not trusted.
 *
 * Rotation:
 * - rename + create: the renamed file is read through the handle already open until it has not grown
 *   for `rotateWaitMs`, then released; the new file at the path is read from its start, after the old
 *   one is drained. A renamed file that still matches the patterns is the same file (not read twice).
 * - missed generations: when rotations come faster than the scans (or happen while the source is
 *   stopped), a generation can be at the watched path only between two scans and be renamed to a name
 *   the patterns do not match before any scan sees it. So when a file that was at a matching path is
 *   found rotated away (by a scan, or at start for a file that was at a matching path when the source
 *   stopped), the directory of its origin is searched for generations written after it. A file there is
 *   one when all of these hold:
 *   - its name is the origin's name + `.`, `-` or `_` + a suffix; it is no compressed file, not excluded,
 *     does not match the patterns (those the scan finds itself) and is not tracked;
 *   - it is a non-empty regular file last modified after the rotated file was (a generation is written
 *     after its predecessor; older generations and copies made of the file before its last write are
 *     not), or, both last modified within the same timestamp tick, it was created no earlier than the
 *     rotated file last changed (its rename);
 *   - where the file system reports birth times: it was created after the rotated file was first seen at
 *     a matching path (every later generation was; anything that existed then, such as the generations
 *     present at a first start with `startAt: end`, did not);
 *   - its first bytes are not those of a tracked file of the same origin or of a file released before
 *     (it is not a copy of one, nor a released file again).
 *   Such files are read completely, oldest (by modification time, then birth time, then name) first,
 *   after the rotated file and before the file now at the path, with the rotated file's FilePath.
 *   Likewise, when a file is found at a path no tracked file came from (a new log, or one whose files
 *   were all released), files named like its rotations that were created (by birth time, so only where
 *   the file system reports it) since the previous scan, or at start since the checkpoint was last saved,
 *   were at that path unseen: they are read first, under the same other conditions.
 *   Limits: rotations moved to another directory are not followed; a copy of an already read generation
 *   made later under a rotation name is recognised only until the source restarts; when a file is
 *   copy-truncated twice before it is read again, only the first copy is found (this search follows
 *   renames, not truncations).
 * - copytruncate: the truncated file's unread tail is read from the copy (a file in the same directory
 *   with the same first bytes and at least our position), then the file is read again from 0. Lines the
 *   writer adds between the copy and the truncation exist in neither file and are lost; that is inherent
 *   to copytruncate.
 *   A new file whose first bytes equal those of a tailed file (a copy being made) is not read until
 *   that file's truncation claims it, it outgrows that file, or it has not grown for `rotateWaitMs`.
 * - delete: the handle is drained, then released.
 *
 * A checkpoint entry per file holds its path, origin (the FilePath of its records), identity, whether it
 * was rotated away, when it was first seen, and the offset of the first byte not yet durably emitted; it
 * is saved (coalesced) only after `emit` resolved. Records keep the path a file was first found at as
 * FilePath, so every generation of a rotated log has the same FilePath, and an older generation is
 * drained before a newer one is read.
 */
export class CustomLogSource implements Source {
  private readonly includes: readonly CompiledGlob[];
  private readonly excludes: ReadonlyArray<(path: string) => boolean>;
  private readonly compressed: ReadonlyArray<(path: string) => boolean>;
  private readonly splitterOptions: RecordSplitterOptions;
  private readonly slab: Buffer;
  private readonly prefixScratch = Buffer.allocUnsafe(FINGERPRINT_BYTES);
  private readonly rate = new RateLimitedLog();
  private readonly truncatedLabels: Readonly<Record<string, string>>;

  /** Tailed files, oldest first. */
  private files: TailedFile[] = [];
  private readonly byKey = new Map<string, TailedFile>();
  private seq = 0;

  private pending = new PendingBatch();
  private readonly full: PendingBatch[] = [];
  private nowIso = '';

  private started = false;
  /** Set once the saved positions were matched to files: only then may positions be saved. */
  private ready = false;
  private stopping = false;
  private stopped = false;
  private stopPromise: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastScanAt = 0;
  /** Wall-clock ms when the last completed scan (or the start) began. */
  private lastScanWallMs = 0;
  /** Index in `files` of the file whose turn comes next (a round cut short goes on from there). */
  private nextTurn = 0;
  /** Files released lately: not to be taken for missed generations again (nor copies of them). */
  private readonly released: ContentSample[] = [];
  /** During start: resumed files that were at a matching path at the stop and are rotated away now. */
  private rotatedWhileStopped: TailedFile[] = [];
  /** Matched paths whose failure (by code) was already counted, so that a scan does not count it again. */
  private readonly reported = new Map<string, string>();
  /** The same for directories the patterns cannot list. */
  private readonly reportedDirs = new Map<string, string>();

  private saveChain: Promise<void> = Promise.resolve();
  /** True while `requestSave`'s saves run. */
  private saving = false;
  /** The one of them under way. */
  private currentSave: Promise<void> | undefined;
  /** Positions changed while a save was under way: one more save follows it. */
  private saveAgain = false;
  /** Set at stop, before the last save: no save may follow it. */
  private savesClosed = false;

  constructor(private readonly config: CustomLogConfig, private readonly ctx: SourceContext) {
    const cwd = process.cwd();
    this.includes = config.filePatterns.map((p) => compileGlob(p, cwd));
    this.excludes = config.excludePatterns.map((p) => compileExclude(p, cwd));
    this.compressed = COMPRESSED_PATTERNS.map((p) => compileExclude(p, cwd));
    const format = config.recordStartTimestampFormat;
    this.splitterOptions = {
      maxRecordBytes: config.maxLineBytes,
      recordStart: format === undefined ? undefined : timestampParser(format, () => ctx.clock.now()),
    };
    this.slab = Buffer.allocUnsafe(config.readBufferBytes);
    this.truncatedLabels = { ...ctx.labels, reason: 'line_truncated' };
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('custom_log source started twice');
    this.started = true;
    let loaded: CheckpointLoad;
    try {
      loaded = await this.ctx.checkpoints.load((state) => parseCheckpoint(state).invalid);
    } catch (err) {
      loaded = { state: {}, damage: { reason: `not loaded (${errorType(err)})`, fromBackup: false } };
    }
    const damaged = loaded.damage !== undefined;
    if (loaded.damage) this.reportDamage(loaded.damage);
    await this.initialScan(loaded.state, damaged);
    this.ready = true;
    this.lastScanAt = performance.now();
    // A reader loop that dies is reported: the pipeline replaces this instance from the saved positions.
    this.loop = this.run().catch((err: unknown) => this.ctx.fail(err));
  }

  stop(signal: AbortSignal): Promise<void> {
    this.stopPromise ??= this.shutdown(signal);
    return this.stopPromise;
  }

  private async shutdown(signal: AbortSignal): Promise<void> {
    this.stopping = true;
    const onAbort = (): void => this.abort.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      this.wake?.();
      await this.loop;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    this.savesClosed = true;
    if (this.ready) await this.saveNow();
    for (const f of this.files) await this.closeHandle(f.fh);
    this.files = [];
    this.byKey.clear();
    this.stopped = true;
  }

  // ---------------------------------------------------------------------------------------------
  // Main loop

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        if (this.scanDue()) {
          await this.scan();
          this.lastScanAt = performance.now();
        }
        const progressed = await this.readRound();
        if (this.stopping) break;
        await this.housekeeping();
        if (this.stopping) break;
        await this.emitPending();
        if (!progressed) {
          const untilScan = this.lastScanAt + this.config.scanIntervalMs - performance.now();
          await this.idle(Math.max(1, Math.min(this.config.pollIntervalMs, untilScan)));
        }
        failures = 0;
      } catch (err) {
        // Per-file problems are handled where they happen; what reaches here is unexpected. Once it keeps
        // happening, a fresh instance (state rebuilt from the saved positions) is the better bet.
        this.countError(err, 'loop');
        if (++failures >= MAX_LOOP_FAILURES) {
          this.ctx.log.error({ err, failures }, 'custom log reader keeps failing; handing it back to the pipeline to restart');
          this.ctx.fail(err);
          return;
        }
        this.warn('loop', { err }, 'custom log reader error; continuing');
        await this.idle(this.config.pollIntervalMs);
      }
    }
    // Complete records already split are handed over; partial lines and open multi-line records stay
    // behind the saved positions and are read again next time.
    await this.emitPending();
  }

  private idle(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wake = done;
    });
  }

  private scanDue(): boolean {
    return performance.now() - this.lastScanAt >= this.config.scanIntervalMs;
  }

  /**
   * Waits for `p` (an emit). While it waits, runs the scans that fall due: the loop is parked here, so
   * a scan runs alone; the loop goes on only once the scan finished.
   */
  private async parked<T>(p: Promise<T>): Promise<T> {
    const settled = p.then(
      () => true,
      () => true,
    );
    for (;;) {
      const wait = this.lastScanAt + this.config.scanIntervalMs - performance.now();
      if (wait > 0 && (await this.settlesWithin(settled, wait))) break;
      if (this.stopping) break;
      try {
        await this.scan();
      } catch (err) {
        this.countError(err, 'scan');
        this.warn('scan', { err }, 'file scan failed; retrying later');
      } finally {
        this.lastScanAt = performance.now();
      }
    }
    return p;
  }

  private settlesWithin(settled: Promise<boolean>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const elapsed = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
      timer.unref();
    });
    return Promise.race([settled, elapsed]).finally(() => clearTimeout(timer));
  }

  /** Gives each file a turn, starting after the last file served; ends early when a scan is due. */
  private async readRound(): Promise<boolean> {
    let progressed = false;
    const files = [...this.files];
    const start = files.length === 0 ? 0 : this.nextTurn % files.length;
    for (let k = 0; k < files.length; k++) {
      if (this.stopping) break;
      const i = (start + k) % files.length;
      const f = files[i]!;
      if (!f.retired && (await this.turn(f))) progressed = true;
      this.nextTurn = i + 1;
      if (this.scanDue()) break;
    }
    return progressed;
  }

  /** Reads one file for a while; true when it made progress. */
  private async turn(f: TailedFile): Promise<boolean> {
    if (f.state === 'suspect') {
      await this.checkSuspect(f);
      return false;
    }
    if (f.retryAt > performance.now()) return false;
    if (this.waitsForOlder(f)) return false;
    let size: number;
    try {
      size = (await f.fh.stat()).size;
    } catch (err) {
      this.fileFailed(f, err, 'read');
      return false;
    }
    if (size < f.readOffset) {
      await this.handleTruncation(f);
      return true;
    }
    if (size === f.readOffset) {
      f.atEof = true;
      f.eofAt = performance.now();
      return false;
    }
    f.atEof = false;
    // The turn ends after TURN_BYTES, or earlier when a scan is due, so that scans keep their pace
    // however large the backlog is.
    for (let read = 0; read < TURN_BYTES && !this.stopping; ) {
      let n: number;
      try {
        n = (await f.fh.read(this.slab, 0, this.slab.length, f.readOffset)).bytesRead;
      } catch (err) {
        this.fileFailed(f, err, 'read');
        return read > 0;
      }
      if (n === 0) return read > 0;
      const verdict = await this.verify(f, n);
      if (verdict === 'truncated') {
        await this.handleTruncation(f);
        return true;
      }
      if (verdict !== 'ok') return read > 0;
      f.lastGrowthAt = this.ctx.clock.now();
      await this.consume(f, n);
      read += n;
      if (n < this.slab.length || this.scanDue()) return true;
    }
    return true;
  }

  /**
   * Checks, after reading `n` bytes at the file's position, that the file still starts with the bytes
   * it started with: if not, it was truncated and rewritten (the chunk may be new content read at an old
   * offset, so it is not used). Also extends a short prefix and classifies new files.
   */
  private async verify(f: TailedFile, n: number): Promise<'ok' | 'truncated' | 'suspect' | 'failed'> {
    let head: Buffer;
    if (f.readOffset === 0) {
      head = this.slab.subarray(0, Math.min(n, FINGERPRINT_BYTES));
    } else {
      try {
        head = await readPrefix(f.fh, this.prefixScratch);
      } catch (err) {
        this.fileFailed(f, err, 'read');
        return 'failed';
      }
    }
    if (!startsWith(head, f.prefix)) return 'truncated';
    if (head.length > f.prefix.length) f.prefix = Buffer.from(head);
    if (f.unclassified && (await this.classify(f))) return 'suspect';
    return 'ok';
  }

  /**
   * Compares a file first seen after start with the older tailed files: one with the same first bytes
   * may be a copy in the making (copytruncate) and becomes a suspect. True when it did.
   */
  private async classify(f: TailedFile): Promise<boolean> {
    if (f.prefix.length === 0) return false;
    f.unclassified = false;
    for (const g of this.files) {
      if (g === f || g.retired || g.state === 'suspect' || g.seq >= f.seq) continue;
      if (g.prefix.length < FINGERPRINT_BYTES && g.readOffset === 0) {
        // Not read yet: its first bytes may have grown since it was opened.
        try {
          const head = await readPrefix(g.fh, this.prefixScratch);
          if (head.length > g.prefix.length && startsWith(head, g.prefix)) g.prefix = Buffer.from(head);
        } catch (err) {
          this.ctx.log.debug({ err, path: g.path }, 'prefix not readable');
        }
      }
      if (!prefixesAgree(f.prefix, g.prefix)) continue;
      f.state = 'suspect';
      f.copyOf = g;
      f.lastGrowthAt = this.ctx.clock.now();
      this.ctx.log.info({ path: f.path, original: g.path }, 'new file starts like a tailed file; waiting to see whether it is its copy');
      return true;
    }
    return false;
  }

  /** Splits `slab[0, n)` (read at the file's position) into records, emitting full batches. */
  private async consume(f: TailedFile, n: number): Promise<void> {
    this.nowIso = new Date(this.ctx.clock.now()).toISOString();
    const base = f.readOffset;
    let pos = 0;
    while (pos < n) {
      pos = f.splitter.push(this.slab, pos, n, base + pos, f.sink);
      this.pending.commits.set(f, f.splitter.safeOffset);
      if (this.full.length > 0 && !(await this.emitFull())) break;
    }
    f.readOffset = base + pos;
  }

  private async checkSuspect(f: TailedFile): Promise<void> {
    const now = this.ctx.clock.now();
    let size: number;
    let head: Buffer;
    try {
      size = (await f.fh.stat()).size;
      head = await readPrefix(f.fh, this.prefixScratch);
    } catch (err) {
      this.fileFailed(f, err, 'read');
      return;
    }
    if (size !== f.suspectSize) {
      f.suspectSize = size;
      f.lastGrowthAt = now;
    }
    const g = f.copyOf;
    let stillLikeIt = g !== undefined && !g.retired && g.state !== 'suspect' && prefixesAgree(head, g.prefix);
    if (stillLikeIt) {
      // A copy never outgrows its original: one that does is a file of its own.
      try {
        if (size > (await g!.fh.stat()).size && size > g!.readOffset) stillLikeIt = false;
      } catch (err) {
        this.ctx.log.debug({ err, path: g!.path }, 'original not readable');
      }
    }
    // Settled by waiting only once the original has been looked at since (a truncation would show).
    if (stillLikeIt && (now - f.lastGrowthAt < this.config.rotateWaitMs || !g!.atEof)) return;
    if (stillLikeIt) {
      this.ctx.log.info({ path: f.path }, 'file starts like another tailed file but is no copy of a truncated one; reading it');
    }
    f.state = 'active';
    f.copyOf = undefined;
    f.prefix = Buffer.alloc(0);
    f.lastGrowthAt = now;
    this.requestSave();
  }

  /**
   * True while an older file of the same origin (a rotated generation) may still have data to read: it
   * is drained only once found at its end after `f` was opened (lines written to it just before its
   * rotation come before those of `f`).
   */
  private waitsForOlder(f: TailedFile): boolean {
    if (performance.now() - f.openedAt > Math.max(this.config.rotateWaitMs, ORDER_WAIT_MAX_MS)) return false;
    for (const g of this.files) {
      if (g.seq >= f.seq) break;
      if (g.origin !== f.origin || g.retired || g.state === 'suspect') continue;
      if (!g.atEof || g.eofAt < f.openedAt) return true;
    }
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Batches

  private sinkFor(f: TailedFile): RecordSink {
    const computer = this.ctx.host.computer;
    const overhead = RECORD_OVERHEAD_BYTES + Buffer.byteLength(computer) + f.originBytes;
    const maxRecords = this.config.maxBatchRecords;
    const maxBytes = this.config.maxBatchBytes;
    let lastMs = NaN;
    let lastIso = '';
    return (text, timeMs, bytes, end, cutBytes) => {
      if (cutBytes > 0) this.truncated(f, bytes, cutBytes);
      if (timeMs !== undefined && timeMs !== lastMs) {
        lastMs = timeMs;
        lastIso = new Date(timeMs).toISOString();
      }
      const record: LogRecord = {
        TimeGenerated: timeMs === undefined ? this.nowIso : lastIso,
        RawData: text,
        FilePath: f.origin,
        Computer: computer,
      };
      const size = bytes + overhead;
      let b = this.pending;
      let more = true;
      if (b.records.length > 0 && b.bytes + size > maxBytes) {
        this.full.push(b);
        b = this.pending = new PendingBatch();
        more = false;
      }
      b.records.push(record);
      b.bytes += size;
      b.commits.set(f, end);
      if (b.records.length >= maxRecords) {
        this.full.push(b);
        this.pending = new PendingBatch();
        return false;
      }
      return more;
    };
  }

  /** A record cut at `maxLineBytes`: counted, and said why (one line per file per 10 s). */
  private truncated(f: TailedFile, keptBytes: number, cutBytes: number): void {
    this.ctx.metrics.recordsDropped.inc(this.truncatedLabels);
    this.warn(
      `truncated:${f.origin}`,
      { path: f.path, maxLineBytes: this.config.maxLineBytes, bytes: keptBytes + cutBytes, cutBytes },
      'record longer than maxLineBytes; truncated',
    );
  }

  /** Emits the full batches in order; false when stopping cut it short. */
  private async emitFull(): Promise<boolean> {
    while (this.full.length > 0) {
      if (!(await this.emitBatch(this.full[0]!))) return false;
      this.full.shift();
    }
    return true;
  }

  /** Emits everything split so far. */
  private async emitPending(): Promise<void> {
    if (this.pending.records.length > 0 || this.pending.commits.size > 0) {
      this.full.push(this.pending);
      this.pending = new PendingBatch();
    }
    await this.emitFull();
  }

  private async emitBatch(b: PendingBatch): Promise<boolean> {
    if (b.records.length === 0) {
      this.applyCommits(b);
      return true;
    }
    let backoff = 250;
    for (;;) {
      if (this.abort.signal.aborted) return false;
      await this.saveCaughtUp();
      try {
        await this.parked(this.ctx.emit({ table: this.config.table, records: b.records }, this.abort.signal));
        this.applyCommits(b);
        return true;
      } catch (err) {
        if (this.abort.signal.aborted) return false;
        this.countError(err, 'emit');
        this.warn('emit', { err, count: b.records.length }, 'batch not queued; retrying');
        if (this.stopping) return false;
        await this.idle(backoff);
        if (this.stopping) return false;
        backoff = Math.min(backoff * 2, MAX_EMIT_BACKOFF_MS);
      }
    }
  }

  private applyCommits(b: PendingBatch): void {
    let advanced = false;
    for (const [f, offset] of b.commits) {
      if (f.retired || offset <= f.committed) continue;
      f.committed = offset;
      advanced = true;
    }
    if (advanced) this.requestSave();
  }

  // ---------------------------------------------------------------------------------------------
  // Idle files: partial lines, rotated files

  private async housekeeping(): Promise<void> {
    const now = this.ctx.clock.now();
    for (const f of [...this.files]) {
      if (f.retired || f.state === 'suspect' || !f.atEof) continue;
      const quiet = now - f.lastGrowthAt;
      if (f.splitter.hasPending && quiet >= this.config.partialLineFlushMs) this.flushSplitter(f);
      if (f.state === 'rotated' && now - Math.max(f.lastGrowthAt, f.goneAt) >= this.config.rotateWaitMs) {
        if (f.splitter.hasPending) this.flushSplitter(f);
        if (f.committed >= f.readOffset) await this.release(f, 'file drained and released');
      }
      if (this.full.length > 0 && !(await this.emitFull())) return;
    }
  }

  private flushSplitter(f: TailedFile): void {
    this.nowIso = new Date(this.ctx.clock.now()).toISOString();
    f.splitter.flush(f.sink);
    this.pending.commits.set(f, f.splitter.safeOffset);
  }

  private async release(f: TailedFile, msg: string): Promise<void> {
    this.retire(f);
    if (f.prefix.length > 0) {
      if (this.released.length >= MAX_RELEASED) this.released.shift();
      this.released.push({ key: f.key, prefix: f.prefix, size: f.readOffset });
    }
    await this.closeHandle(f.fh);
    this.ctx.log.info({ path: f.path, origin: f.origin }, msg);
    this.requestSave();
  }

  private retire(f: TailedFile): void {
    f.retired = true;
    this.files = this.files.filter((x) => x !== f);
    if (this.byKey.get(f.key) === f) this.byKey.delete(f.key);
  }

  private async closeHandle(fh: FileHandle): Promise<void> {
    try {
      await fh.close();
    } catch (err) {
      this.ctx.log.debug({ err }, 'file handle close failed');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Truncation (copytruncate)

  private async handleTruncation(t: TailedFile): Promise<void> {
    const at = t.readOffset;
    const copy = await this.findCopy(t, at);
    const fresh = this.addFile({
      path: t.path,
      origin: t.origin,
      fh: t.fh,
      dev: t.dev,
      ino: t.ino,
      prefix: Buffer.alloc(0),
      offset: 0,
      state: 'active',
      unclassified: false,
      // Its content was written after the truncation, so after `t` was first seen.
      seenAtMs: t.seenAtMs,
    });
    if (copy) {
      // The old stream continues in the copy, at the same offset and with the same splitter state.
      if (this.byKey.get(t.key) === t) this.byKey.delete(t.key);
      t.fh = copy.fh;
      t.dev = copy.dev;
      t.ino = copy.ino;
      t.path = copy.path;
      t.state = 'rotated';
      t.goneAt = this.ctx.clock.now();
      t.atEof = false;
      this.byKey.set(t.key, t);
      this.ctx.log.info({ path: fresh.path, copy: copy.path, offset: at }, 'file truncated; reading the rest from its copy');
    } else {
      this.countError({ code: 'file_truncated' }, 'read');
      this.warn(`truncated:${t.path}`, { path: t.path, offset: at }, 'file truncated and no copy found; reading it again from the start');
      this.flushSplitter(t);
      this.retire(t);
    }
    this.byKey.set(fresh.key, fresh);
    this.requestSave();
  }

  /** A file holding the content `t` had before it was truncated, opened, or undefined. */
  private async findCopy(t: TailedFile, minSize: number): Promise<OpenedFile | undefined> {
    if (t.prefix.length === 0) return undefined;
    // A copy may already be tracked: as a suspect, or found by a scan but not read yet.
    for (const s of this.files) {
      const candidate = (s.state === 'suspect' && s.copyOf === t) || (s.unclassified && s.readOffset === 0);
      if (!candidate || s === t || s.retired) continue;
      try {
        const size = (await s.fh.stat()).size;
        const head = await readPrefix(s.fh, this.prefixScratch);
        if (size >= minSize && startsWith(head, t.prefix)) {
          this.retire(s);
          return { fh: s.fh, dev: s.dev, ino: s.ino, path: s.path };
        }
      } catch (err) {
        this.ctx.log.debug({ err, path: s.path }, 'copy candidate not readable');
      }
    }
    return this.findInDirectory(dirname(t.path), basename(t.origin), async (fh, size) => {
      if (size < minSize) return false;
      return startsWith(await readPrefix(fh, this.prefixScratch), t.prefix);
    });
  }

  /**
   * Looks through a directory (names starting like `hint` first) for an untracked regular file that
   * `accept` takes; returns it open.
   */
  private async findInDirectory(
    dir: string,
    hint: string,
    accept: (fh: FileHandle, size: number) => Promise<boolean>,
  ): Promise<OpenedFile | undefined> {
    let names: string[];
    try {
      names = (await readdir(dir)).slice(0, MAX_DIR_ENTRIES);
    } catch {
      return undefined;
    }
    names.sort((a, b) => Number(b.startsWith(hint)) - Number(a.startsWith(hint)) || a.localeCompare(b));
    let candidates = 0;
    for (const name of names) {
      if (candidates >= MAX_COPY_CANDIDATES) break;
      const path = join(dir, name);
      if (this.compressed.some((m) => m(path))) continue;
      let key: string;
      let size: number;
      try {
        const st = await stat(path, { bigint: true });
        if (!st.isFile()) continue;
        key = keyOf(st.dev, st.ino);
        size = Number(st.size);
      } catch {
        continue;
      }
      if (this.byKey.has(key)) continue;
      candidates++;
      let fh: FileHandle;
      try {
        fh = await openForRead(path);
      } catch {
        continue;
      }
      try {
        const id = await identityOf(fh);
        if (keyOf(id.dev, id.ino) === key && (await accept(fh, size))) return { fh, dev: id.dev, ino: id.ino, path };
      } catch (err) {
        this.ctx.log.debug({ err, path }, 'copy candidate not readable');
      }
      await this.closeHandle(fh);
    }
    return undefined;
  }

  /** Where a file with this identity is now in `dir`, if anywhere. */
  private async locate(dir: string, dev: string, ino: string): Promise<string | undefined> {
    let names: string[];
    try {
      names = (await readdir(dir)).slice(0, MAX_DIR_ENTRIES);
    } catch {
      return undefined;
    }
    const want = keyOf(dev, ino);
    for (const name of names) {
      const path = join(dir, name);
      try {
        const st = await stat(path, { bigint: true });
        if (st.isFile() && keyOf(st.dev, st.ino) === want) return path;
      } catch {
        // vanished meanwhile
      }
    }
    return undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Scanning

  private excluded(path: string): boolean {
    if (this.config.excludeCompressed && this.compressed.some((m) => m(path))) return true;
    return this.excludes.some((m) => m(path));
  }

  /** Regular files matching the patterns now, one per identity (hard links collapse). */
  private async matchedFiles(): Promise<Matched[]> {
    const paths = await expandGlobs(this.includes, ({ path, err }) => this.reportDir(path, err));
    paths.sort();
    const current = new Set(paths);
    for (const path of this.reported.keys()) if (!current.has(path)) this.reported.delete(path);
    const out: Matched[] = [];
    const keys = new Set<string>();
    for (const path of paths) {
      if (this.excluded(path)) continue;
      try {
        const st = await stat(path, { bigint: true });
        if (!st.isFile()) {
          const code = st.isDirectory() ? 'EISDIR' : 'ENOTFILE';
          this.reportPath(path, Object.assign(new Error('not a regular file'), { code }), 'scan');
          continue;
        }
        const key = keyOf(st.dev, st.ino);
        if (keys.has(key)) continue;
        keys.add(key);
        out.push({ path, key, size: Number(st.size) });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.reportPath(path, err, 'scan');
      }
    }
    return out;
  }

  private reportDir(dir: string, err: unknown): void {
    const code = errorType(err);
    if (this.reportedDirs.get(dir) === code) return;
    if (this.reportedDirs.size >= MAX_DIR_ENTRIES) this.reportedDirs.clear();
    this.reportedDirs.set(dir, code);
    this.countError(err, 'scan');
    this.warn(`dir:${code}`, { err, path: dir }, 'directory of a file pattern cannot be listed; skipping it');
  }

  /** Counts and logs a path's failure once per kind of failure, until it is opened or no longer matches. */
  private reportPath(path: string, err: unknown, stage: string): void {
    const code = errorType(err);
    if (this.reported.get(path) === code) return;
    this.reported.set(path, code);
    this.countError(err, stage);
    this.warn(`path:${code}`, { err, path }, 'matched path cannot be read; skipping it');
  }

  private async scan(): Promise<void> {
    const startedAtMs = Date.now();
    const found = await this.matchedFiles();
    const matchedKeys = new Set(found.map((x) => x.key));
    const liveOrigins = new Set(this.files.filter((f) => !f.retired).map((f) => f.origin));
    const newOrigins: TailedFile[] = [];
    const seen = new Set<TailedFile>();
    let changed = false;
    for (const m of found) {
      const f = this.byKey.get(m.key);
      if (f) {
        seen.add(f);
        if (f.path !== m.path) {
          this.ctx.log.info({ from: f.path, path: m.path }, 'file renamed; continuing at its new path');
          f.path = m.path;
          changed = true;
        }
        if (f.state === 'rotated') f.state = 'active';
        continue;
      }
      const added = await this.track(m.path, { offset: 0, unclassified: true, origin: m.path, seenAtMs: startedAtMs });
      if (added) {
        seen.add(added);
        changed = true;
        if (!liveOrigins.has(added.origin)) newOrigins.push(added);
      }
    }
    const now = this.ctx.clock.now();
    for (const f of [...this.files]) {
      if (seen.has(f) || f.retired) continue;
      if (f.state === 'suspect') {
        await this.release(f, 'file left the patterns before it was read');
        continue;
      }
      if (f.state !== 'active') continue;
      f.state = 'rotated';
      f.goneAt = now;
      const moved = await this.locate(dirname(f.path), f.dev, f.ino);
      this.ctx.log.info({ path: f.path, movedTo: moved }, 'file rotated away or removed; draining it');
      if (moved) f.path = moved;
      changed = true;
      await this.adoptGenerationsAfter(f, matchedKeys);
    }
    // A file at a path no tracked file came from: generations of it may have come and gone since the
    // previous scan.
    for (const n of newOrigins) {
      if (!n.retired && n.state === 'active') await this.adoptGenerationsBefore(n, this.lastScanWallMs, matchedKeys);
    }
    this.lastScanWallMs = startedAtMs;
    if (changed) this.requestSave();
  }

  // ---------------------------------------------------------------------------------------------
  // Missed generations (see the class comment for the rules)

  /** Finds the generations written after the rotated file `t` that no scan saw, and queues them after it. */
  private async adoptGenerationsAfter(t: TailedFile, matchedKeys: ReadonlySet<string>): Promise<void> {
    let predecessor: BigIntStats;
    try {
      predecessor = await t.fh.stat({ bigint: true });
    } catch (err) {
      this.ctx.log.debug({ err, path: t.path }, 'rotated file not readable; not looking for later generations');
      return;
    }
    const found = await this.findGenerations(t.origin, { predecessor, bornAfterMs: t.seenAtMs }, matchedKeys);
    if (found.length > 0) this.place(this.adopt(found, t.origin), { after: t });
  }

  /**
   * Finds the generations of a path that were created after `sinceMs` and rotated away before a scan saw
   * them, the file `n` now at the path being the first one seen; queues them before it.
   */
  private async adoptGenerationsBefore(n: TailedFile, sinceMs: number, matchedKeys: ReadonlySet<string>): Promise<void> {
    const found = await this.findGenerations(n.origin, { bornAfterMs: sinceMs }, matchedKeys);
    if (found.length > 0) this.place(this.adopt(found, n.origin), { before: n });
  }

  private adopt(found: ReadonlyArray<OpenedFile & { prefix: Buffer }>, origin: string): TailedFile[] {
    const added: TailedFile[] = [];
    for (const g of found) {
      const f = this.addFile({ ...g, origin, offset: 0, state: 'rotated', unclassified: false, seenAtMs: undefined });
      this.byKey.set(f.key, f);
      added.push(f);
      this.ctx.log.info({ path: g.path, origin }, 'rotated generation found; reading it');
    }
    this.requestSave();
    return added;
  }

  /** Moves `added` (in their order) right after or before a file in the generation order, and renumbers. */
  private place(added: readonly TailedFile[], at: { after: TailedFile } | { before: TailedFile }): void {
    const moving = new Set(added);
    const rest = this.files.filter((f) => !moving.has(f)).sort((a, b) => a.seq - b.seq);
    const i = 'after' in at ? rest.indexOf(at.after) + 1 : rest.indexOf(at.before);
    rest.splice(i, 0, ...added);
    this.files = rest;
    this.renumber();
  }

  private renumber(): void {
    this.files.forEach((f, i) => {
      f.seq = i;
    });
    this.seq = this.files.length;
  }

  /**
   * Untracked files in the directory of `origin` named like its rotations that are generations within
   * `bound`, open, oldest first. `matchedKeys`: identities matching the patterns (the scan finds those).
   */
  private async findGenerations(
    origin: string,
    bound: GenerationBound,
    matchedKeys: ReadonlySet<string>,
  ): Promise<Array<OpenedFile & { prefix: Buffer }>> {
    const dir = dirname(origin);
    const base = basename(origin);
    let names: string[];
    try {
      names = (await readdir(dir)).slice(0, MAX_DIR_ENTRIES);
    } catch (err) {
      this.ctx.log.debug({ err, path: dir }, 'directory not readable; not looking for rotated generations');
      return [];
    }
    const candidates: Array<{ path: string; key: string; st: BigIntStats }> = [];
    for (const name of names) {
      if (!isRotationName(name, base)) continue;
      const path = join(dir, name);
      if (this.compressed.some((m) => m(path)) || this.excludes.some((m) => m(path))) continue;
      let st: BigIntStats;
      try {
        st = await stat(path, { bigint: true });
      } catch {
        continue; // vanished meanwhile
      }
      if (!st.isFile() || st.size === 0n) continue;
      const key = keyOf(st.dev, st.ino);
      if (matchedKeys.has(key) || this.byKey.has(key) || !withinBound(st, bound)) continue;
      candidates.push({ path, key, st });
    }
    if (candidates.length === 0) return [];
    candidates.sort(
      (a, b) =>
        compareBig(a.st.mtimeNs, b.st.mtimeNs) || compareBig(a.st.birthtimeNs, b.st.birthtimeNs) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
    );
    const known = [...this.released, ...(await this.samplesOf(origin))];
    const out: Array<OpenedFile & { prefix: Buffer }> = [];
    for (const c of candidates) {
      if (out.length >= MAX_GENERATIONS) {
        this.ctx.log.warn({ path: origin, count: candidates.length, max: MAX_GENERATIONS }, 'too many rotated generations; reading the oldest');
        break;
      }
      let fh: FileHandle;
      try {
        fh = await openForRead(c.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.reportPath(c.path, err, 'open');
        continue;
      }
      try {
        const id = await identityOf(fh);
        const key = keyOf(id.dev, id.ino);
        const prefix = await readPrefix(fh);
        const seen = known.find((k) => (k.key === key && prefixesAgree(prefix, k.prefix)) || looksLikeCopy(prefix, id.size, k));
        if (key === c.key && prefix.length > 0 && seen === undefined) {
          out.push({ fh, dev: id.dev, ino: id.ino, path: c.path, prefix });
          continue;
        }
        if (seen) this.ctx.log.debug({ path: c.path }, 'rotated file is a file read before or a copy of one; skipping it');
      } catch (err) {
        this.ctx.log.debug({ err, path: c.path }, 'generation candidate not readable');
      }
      await this.closeHandle(fh);
    }
    return out;
  }

  /** First bytes and size of the tracked files of an origin, as they are now. */
  private async samplesOf(origin: string): Promise<ContentSample[]> {
    const out: ContentSample[] = [];
    for (const f of this.files) {
      if (f.retired || f.origin !== origin) continue;
      try {
        const size = (await f.fh.stat()).size;
        out.push({ key: f.key, prefix: await readPrefix(f.fh), size });
      } catch (err) {
        this.ctx.log.debug({ err, path: f.path }, 'file not readable');
      }
    }
    return out;
  }

  /** Opens a path and starts tailing it; undefined when it cannot be opened or is already tailed. */
  private async track(
    path: string,
    opts: { offset: number | 'end'; unclassified: boolean; origin: string; seenAtMs: number | undefined; seq?: number },
  ): Promise<TailedFile | undefined> {
    let fh: FileHandle;
    try {
      fh = await openForRead(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.reportPath(path, err, 'open');
      return undefined;
    }
    try {
      const id = await identityOf(fh);
      if (this.byKey.has(keyOf(id.dev, id.ino))) {
        await this.closeHandle(fh);
        return undefined;
      }
      const offset = opts.offset === 'end' ? id.size : opts.offset;
      const f = this.addFile({
        path,
        origin: opts.origin,
        fh,
        dev: id.dev,
        ino: id.ino,
        prefix: await readPrefix(fh),
        offset,
        state: 'active',
        unclassified: opts.unclassified && offset === 0,
        seenAtMs: opts.seenAtMs,
        seq: opts.seq,
      });
      this.byKey.set(f.key, f);
      this.reported.delete(path);
      this.ctx.log.info({ path, offset }, 'tailing file');
      if (f.unclassified) await this.classify(f);
      return f;
    } catch (err) {
      this.reportPath(path, err, 'open');
      await this.closeHandle(fh);
      return undefined;
    }
  }

  private addFile(init: {
    path: string;
    origin: string;
    fh: FileHandle;
    dev: string;
    ino: string;
    prefix: Buffer;
    offset: number;
    state: TailState;
    unclassified: boolean;
    seenAtMs: number | undefined;
    seq?: number;
  }): TailedFile {
    const f = new TailedFile(
      {
        ...init,
        seq: init.seq ?? this.seq++,
        now: this.ctx.clock.now(),
        splitter: this.splitterOptions,
        sink: (file) => this.sinkFor(file),
      },
      performance.now(),
    );
    if (init.state === 'rotated') f.goneAt = this.ctx.clock.now();
    this.files.push(f);
    return f;
  }

  // ---------------------------------------------------------------------------------------------
  // Start: resume from checkpoints

  /**
   * A damaged checkpoint: the source has run before, so `startAt: end` would skip what was written since
   * (loss). It resumes from the backup when there is one, else reads every file from its beginning.
   */
  private reportDamage(d: CheckpointDamage): void {
    const err = new AgentError('OMA_ERR_CHECKPOINT_CORRUPT', `checkpoint damaged: ${d.reason}`);
    this.countError(err, 'checkpoint');
    const fields = { err, reason: d.reason, keptAs: d.keptAs, positions: d.fromBackup ? 'backup' : 'beginning' };
    if (d.fromBackup) this.ctx.log.error(fields, 'checkpoint damaged; resuming from the previous checkpoint, records after it are sent again');
    else this.ctx.log.error(fields, 'checkpoint damaged and no usable backup; reading every file from its beginning');
  }

  private async initialScan(state: Record<string, unknown>, damaged: boolean): Promise<void> {
    this.lastScanWallMs = Date.now();
    const saved = parseCheckpoint(state);
    const found = await this.matchedFiles();
    const foundByKey = new Map(found.map((m) => [m.key, m]));
    const claimed = new Set<string>();
    this.seq = saved.files.length;
    for (let i = 0; i < saved.files.length; i++) {
      const e = saved.files[i]!;
      const key = keyOf(e.dev, e.ino);
      if (claimed.has(key)) continue; // taken over as the copy of an earlier file
      const m = foundByKey.get(key);
      if (m && (await this.resume(e, m.path, i, 'active', claimed))) continue;
      // Rotated out of the patterns before the stop: at its last path, or renamed within its directory.
      const elsewhere = (await this.sameFileAt(e.path, key)) ?? (await this.locate(dirname(e.path), e.dev, e.ino));
      if (elsewhere && !m && (await this.resume(e, elsewhere, i, 'rotated', claimed))) continue;
      // Truncated while stopped (copytruncate): its content up to the offset lives on in a copy, and what
      // the file holds now was written to the same path after the copy: it is read next, from its start.
      if (!e.fresh && (await this.resumeFromCopy(e, i, found, claimed))) {
        const now = m?.path ?? elsewhere;
        if (now !== undefined && !claimed.has(key)) {
          const f = await this.track(now, { offset: 0, unclassified: false, origin: e.origin, seenAtMs: e.seenAtMs, seq: i + 0.5 });
          if (f) claimed.add(f.key);
        }
        continue;
      }
      this.ctx.log.info({ path: e.path, offset: e.offset }, 'checkpointed file is gone or replaced; dropping its position');
    }
    // After damage the source has run before: what was written since must not be skipped.
    const fromEnd = !saved.known && !damaged && this.config.startAt === 'end';
    const resumedOrigins = new Set(this.files.map((f) => f.origin));
    const newOrigins: TailedFile[] = [];
    for (const m of found) {
      if (claimed.has(m.key)) continue;
      const f = await this.track(m.path, { offset: fromEnd ? 'end' : 0, unclassified: saved.known, origin: m.path, seenAtMs: this.lastScanWallMs });
      if (f && !resumedOrigins.has(f.origin)) newOrigins.push(f);
    }
    this.files.sort((a, b) => a.seq - b.seq);
    this.renumber();
    // Generations rotated away while stopped: behind a file that was at a matching path then, or before
    // a file at a path no file was tracked from (created since the last save). Looked for once every
    // file is placed, so that none is taken that a checkpoint entry or a pattern claims.
    const rotated = this.rotatedWhileStopped;
    this.rotatedWhileStopped = [];
    const matchedKeys = new Set(found.map((m) => m.key));
    for (const t of rotated) if (!t.retired) await this.adoptGenerationsAfter(t, matchedKeys);
    if (saved.savedAtMs !== undefined) {
      for (const n of newOrigins) {
        if (!n.retired && n.state === 'active') await this.adoptGenerationsBefore(n, saved.savedAtMs, matchedKeys);
      }
    }
    await this.saveNow();
  }

  private async sameFileAt(path: string, key: string): Promise<string | undefined> {
    try {
      const st = await stat(path, { bigint: true });
      return st.isFile() && keyOf(st.dev, st.ino) === key ? path : undefined;
    } catch {
      return undefined;
    }
  }

  /** True when `fh` starts with the bytes the checkpoint fingerprinted and holds at least its offset. */
  private async matchesCheckpoint(fh: FileHandle, e: FileCheckpoint): Promise<Buffer | undefined> {
    const id = await identityOf(fh);
    if (id.size < e.offset) return undefined;
    const head = await readPrefix(fh);
    if (head.length < e.fpLen || fingerprintOf(head.subarray(0, e.fpLen)) !== e.fp) return undefined;
    return head;
  }

  private async resume(e: FileCheckpoint, path: string, seq: number, state: TailState, claimed: Set<string>): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await openForRead(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.reportPath(path, err, 'open');
      return false;
    }
    try {
      const id = await identityOf(fh);
      const key = keyOf(id.dev, id.ino);
      const head = key === keyOf(e.dev, e.ino) && !claimed.has(key) ? await this.matchesCheckpoint(fh, e) : undefined;
      if (head === undefined) {
        this.ctx.log.info({ path }, 'file differs from its checkpoint (inode reused or content replaced); not resuming it');
        await this.closeHandle(fh);
        return false;
      }
      const f = this.resumeOn({ fh, dev: id.dev, ino: id.ino, path }, e, head, seq, state, claimed);
      if (f.unclassified) await this.classify(f);
      return true;
    } catch (err) {
      this.reportPath(path, err, 'open');
      await this.closeHandle(fh);
      return false;
    }
  }

  private async resumeFromCopy(e: FileCheckpoint, seq: number, found: readonly Matched[], claimed: Set<string>): Promise<boolean> {
    if (e.fpLen === 0) return false;
    const accept = async (fh: FileHandle, size: number): Promise<boolean> =>
      size >= e.offset && (await this.matchesCheckpoint(fh, e)) !== undefined;
    // Matched files are not tracked yet at this point: skip the claimed ones explicitly.
    const dir = dirname(e.path);
    for (const m of found) {
      if (claimed.has(m.key) || dirname(m.path) !== dir || m.size < e.offset) continue;
      let fh: FileHandle | undefined;
      try {
        fh = await openForRead(m.path);
        const id = await identityOf(fh);
        if (keyOf(id.dev, id.ino) === m.key && (await accept(fh, id.size))) {
          this.resumeOn({ fh, dev: id.dev, ino: id.ino, path: m.path }, e, await readPrefix(fh), seq, 'active', claimed);
          return true;
        }
      } catch (err) {
        this.ctx.log.debug({ err, path: m.path }, 'copy candidate not readable');
      }
      if (fh) await this.closeHandle(fh);
    }
    const matchedKeys = new Set(found.map((m) => m.key));
    const copy = await this.findInDirectory(dir, basename(e.origin), async (fh, size) => {
      const id = await identityOf(fh);
      return !matchedKeys.has(keyOf(id.dev, id.ino)) && (await accept(fh, size));
    });
    if (!copy) return false;
    try {
      this.resumeOn(copy, e, await readPrefix(copy.fh), seq, 'rotated', claimed);
      return true;
    } catch (err) {
      this.reportPath(copy.path, err, 'open');
      await this.closeHandle(copy.fh);
      return false;
    }
  }

  private resumeOn(file: OpenedFile, e: FileCheckpoint, prefix: Buffer, seq: number, state: TailState, claimed: Set<string>): TailedFile {
    const unclassified = e.fresh === true && e.offset === 0;
    const f = this.addFile({ ...file, origin: e.origin, prefix, offset: e.offset, state, unclassified, seenAtMs: e.seenAtMs, seq });
    this.byKey.set(f.key, f);
    claimed.add(f.key);
    if (state === 'rotated' && e.rotated !== true) this.rotatedWhileStopped.push(f);
    this.ctx.log.info({ path: file.path, offset: e.offset }, 'resuming file');
    return f;
  }

  // ---------------------------------------------------------------------------------------------
  // Checkpoints

  private snapshot(): Record<string, unknown> {
    const entries: FileCheckpoint[] = [];
    for (const f of this.files) {
      if (f.retired) continue;
      const entry: FileCheckpoint = {
        path: f.path,
        origin: f.origin,
        dev: f.dev,
        ino: f.ino,
        fpLen: f.prefix.length,
        fp: f.fingerprint(),
        offset: f.committed,
      };
      // Not compared with the other files yet (or a possible copy): compared again after a restart.
      if (f.unclassified || f.state === 'suspect') entry.fresh = true;
      if (f.state === 'rotated') entry.rotated = true;
      if (f.seenAtMs !== undefined) entry.seenAtMs = f.seenAtMs;
      entries.push(entry);
    }
    return serializeCheckpoint(entries, Date.now());
  }

  /**
   * Saves the positions soon, off the emit path: one save under way at most and one more after it that
   * takes the positions as they are then (so changes made meanwhile are coalesced into it).
   */
  private requestSave(): void {
    if (this.savesClosed || !this.ready) return;
    if (this.saving) {
      this.saveAgain = true;
      return;
    }
    this.saving = true;
    void this.saveLoop();
  }

  private async saveLoop(): Promise<void> {
    try {
      do {
        this.saveAgain = false;
        this.currentSave = this.saveNow();
        await this.currentSave;
      } while (this.saveAgain && !this.savesClosed);
    } finally {
      this.saving = false;
      this.currentSave = undefined;
    }
  }

  /**
   * Before a batch is emitted: waits while the positions of two emitted batches are unsaved (a save
   * under way and one more asked for), so that a crash sends again at most the batch whose positions
   * are being saved and the one being emitted. Saves are quicker than emits as a rule: this rarely waits.
   */
  private async saveCaughtUp(): Promise<void> {
    while (this.saveAgain && this.currentSave) await this.currentSave;
  }

  /** Saves the positions now (after the saves already under way); never rejects. */
  private saveNow(): Promise<void> {
    const state = this.snapshot();
    const next = this.saveChain.then(
      () => this.ctx.checkpoints.save(state),
    ).catch((err: unknown) => {
      this.countError(err, 'checkpoint');
      this.warn('checkpoint', { err }, 'positions not saved');
    });
    this.saveChain = next;
    return next;
  }

  // ---------------------------------------------------------------------------------------------
  // Errors

  private fileFailed(f: TailedFile, err: unknown, stage: string): void {
    this.countError(err, stage);
    this.warn(`file:${stage}:${errorType(err)}`, { err, path: f.path }, 'file read failed; retrying later');
    f.retryAt = performance.now() + this.config.scanIntervalMs;
  }

  private countError(err: unknown, stage: string): void {
    this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage });
  }

  private warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const suppressed = this.rate.admit(key);
    if (suppressed < 0) return;
    this.ctx.log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }
}
