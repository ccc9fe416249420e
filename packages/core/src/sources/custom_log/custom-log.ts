import { constants } from 'node:fs';
import { open as openFile, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { errorType } from '../../errors.js';
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

/** Chunks read from one file before the others get their turn. */
const CHUNKS_PER_TURN = 16;
/** Checkpoint saves are coalesced to at most one per this many ms. */
const SAVE_INTERVAL_MS = 200;
/** A new file waits at most this long for an older file of the same origin to be drained first. */
const ORDER_WAIT_MAX_MS = 30_000;
/** Directory entries examined when looking for a renamed file or a copytruncate copy. */
const MAX_DIR_ENTRIES = 4096;
/** Candidate files whose first bytes are compared when looking for a copy. */
const MAX_COPY_CANDIDATES = 32;
/** JSON bytes of a record besides the RawData, FilePath and Computer values (keys, TimeGenerated, quotes). */
const RECORD_OVERHEAD_BYTES = 85;
const MAX_EMIT_BACKOFF_MS = 10_000;

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
 * Tails text files matching glob patterns into a custom table (reference §7.6, §8.6).
 *
 * One loop does everything in turn: expand the patterns (every `scanIntervalMs`), read each open file
 * from its position in big chunks, split records, emit full batches and wait for the queue before
 * reading on (backpressure), then save positions. A file is known by device + inode + a fingerprint of
 * its first bytes, so a renamed file keeps its position and an inode reused by another file is not
 * trusted.
 *
 * Rotation:
 * - rename + create: the renamed file is read through the handle already open until it has not grown
 *   for `rotateWaitMs`, then released; the new file at the path is read from its start, after the old
 *   one is drained. A renamed file that still matches the patterns is the same file (not read twice).
 * - copytruncate: the truncated file's unread tail is read from the copy (a file in the same directory
 *   with the same first bytes and at least our position), then the file is read again from 0. Lines the
 *   writer adds between the copy and the truncation exist in neither file and are lost; that is inherent
 *   to copytruncate.
 *   A new file whose first bytes equal those of a tailed file (a copy being made) is not read until
 *   that file's truncation claims it, it outgrows that file, or it has not grown for `rotateWaitMs`.
 * - delete: the handle is drained, then released.
 *
 * A checkpoint entry per file holds its path, origin (the FilePath of its records), identity and the
 * offset of the first byte not yet durably emitted; it is saved (coalesced) only after `emit` resolved.
 * Records keep the path a file was first found at as FilePath, so every generation of a rotated log
 * has the same FilePath, and an older generation is drained before a newer one is read.
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
  /** Matched paths whose failure (by code) was already counted, so that a scan does not count it again. */
  private readonly reported = new Map<string, string>();
  /** The same for directories the patterns cannot list. */
  private readonly reportedDirs = new Map<string, string>();

  private saveTimer: NodeJS.Timeout | undefined;
  private lastSaveAt = -Infinity;
  private saveChain: Promise<void> = Promise.resolve();

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
    let state: Record<string, unknown> = {};
    try {
      state = await this.ctx.checkpoints.load();
    } catch (err) {
      this.countError(err, 'checkpoint');
      this.ctx.log.warn({ err }, 'checkpoint not readable; starting without it');
    }
    await this.initialScan(state);
    this.ready = true;
    this.lastScanAt = performance.now();
    this.loop = this.run();
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
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (this.ready) await this.saveNow();
    for (const f of this.files) await this.closeHandle(f.fh);
    this.files = [];
    this.byKey.clear();
    this.stopped = true;
  }

  // ---------------------------------------------------------------------------------------------
  // Main loop

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        if (performance.now() - this.lastScanAt >= this.config.scanIntervalMs) {
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
      } catch (err) {
        this.countError(err, 'loop');
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

  private async readRound(): Promise<boolean> {
    let progressed = false;
    for (const f of [...this.files]) {
      if (this.stopping) break;
      if (f.retired) continue;
      if (await this.turn(f)) progressed = true;
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
      return false;
    }
    f.atEof = false;
    for (let i = 0; i < CHUNKS_PER_TURN && !this.stopping; i++) {
      let n: number;
      try {
        n = (await f.fh.read(this.slab, 0, this.slab.length, f.readOffset)).bytesRead;
      } catch (err) {
        this.fileFailed(f, err, 'read');
        return i > 0;
      }
      if (n === 0) return i > 0;
      const verdict = await this.verify(f, n);
      if (verdict === 'truncated') {
        await this.handleTruncation(f);
        return true;
      }
      if (verdict !== 'ok') return i > 0;
      f.lastGrowthAt = this.ctx.clock.now();
      await this.consume(f, n);
      if (n < this.slab.length) return true;
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
    this.scheduleSave();
  }

  /** True while an older file of the same origin (a rotated generation) still has data to read. */
  private waitsForOlder(f: TailedFile): boolean {
    if (performance.now() - f.openedAt > Math.max(this.config.rotateWaitMs, ORDER_WAIT_MAX_MS)) return false;
    for (const g of this.files) {
      if (g.seq >= f.seq) break;
      if (g.origin === f.origin && !g.retired && g.state !== 'suspect' && !g.atEof) return true;
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
    return (text, timeMs, bytes, end, truncated) => {
      if (truncated) this.ctx.metrics.recordsDropped.inc(this.truncatedLabels);
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
      try {
        await this.ctx.emit({ table: this.config.table, records: b.records }, this.abort.signal);
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
    if (advanced) this.scheduleSave();
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
    await this.closeHandle(f.fh);
    this.ctx.log.info({ path: f.path, origin: f.origin }, msg);
    this.scheduleSave();
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
    this.scheduleSave();
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
    const found = await this.matchedFiles();
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
      const added = await this.track(m.path, { offset: 0, unclassified: true, origin: m.path });
      if (added) {
        seen.add(added);
        changed = true;
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
    }
    if (changed) this.scheduleSave();
  }

  /** Opens a path and starts tailing it; undefined when it cannot be opened or is already tailed. */
  private async track(
    path: string,
    opts: { offset: number | 'end'; unclassified: boolean; origin: string; seq?: number },
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

  private async initialScan(state: Record<string, unknown>): Promise<void> {
    const saved = parseCheckpoint(state);
    if (saved.invalid !== undefined) {
      this.ctx.log.warn({ reason: saved.invalid }, 'checkpoint not understood; starting without it');
    }
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
          const f = await this.track(now, { offset: 0, unclassified: false, origin: e.origin, seq: i + 0.5 });
          if (f) claimed.add(f.key);
        }
        continue;
      }
      this.ctx.log.info({ path: e.path, offset: e.offset }, 'checkpointed file is gone or replaced; dropping its position');
    }
    const fromEnd = !saved.known && this.config.startAt === 'end';
    for (const m of found) {
      if (claimed.has(m.key)) continue;
      await this.track(m.path, { offset: fromEnd ? 'end' : 0, unclassified: saved.known, origin: m.path });
    }
    this.files.sort((a, b) => a.seq - b.seq);
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
    const f = this.addFile({ ...file, origin: e.origin, prefix, offset: e.offset, state, unclassified, seq });
    this.byKey.set(f.key, f);
    claimed.add(f.key);
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
      entries.push(entry);
    }
    return serializeCheckpoint(entries);
  }

  private scheduleSave(): void {
    if (this.saveTimer || this.stopped || !this.ready) return;
    const wait = Math.max(0, this.lastSaveAt + SAVE_INTERVAL_MS - performance.now());
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.saveNow();
    }, wait);
    this.saveTimer.unref();
  }

  /** Saves the positions now (after the saves already under way); never rejects. */
  private saveNow(): Promise<void> {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const state = this.snapshot();
    this.lastSaveAt = performance.now();
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
