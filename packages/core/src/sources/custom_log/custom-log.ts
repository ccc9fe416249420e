import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CheckpointLoad } from '../../checkpoint/checkpoint-store.js';
import { errorType } from '../../errors.js';
import type { Source, SourceContext } from '../../pipeline/component.js';
import { Emitter } from './batches.js';
import { parseCheckpoint } from './checkpoint-state.js';
import type { CustomLogConfig } from './config.js';
import { CopyTruncation, locate } from './copytruncate.js';
import { identityOf, readPrefix } from './file-identity.js';
import { closeQuietly, FileSet, keyOf, openForRead, type TrackOptions } from './file-set.js';
import { Generations } from './generations.js';
import { PositionSaver } from './position-saver.js';
import { textRecordFormat, type RecordFormat } from './record-format.js';
import { Problems } from './problems.js';
import { FileReader } from './reader.js';
import { CheckpointResume, reportDamage } from './resume.js';
import { PathScanner } from './scan.js';
import type { TailedFile } from './tailed-file.js';
import { timestampParser } from './timestamp-formats.js';

/** Consecutive unexpected reader-loop failures after which the source reports itself failed. */
const MAX_LOOP_FAILURES = 5;

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
 * The parts: `scan.ts` expands the patterns, `file-set.ts` holds the tailed files, `reader.ts` reads
 * them in turns, `batches.ts` turns what is read into batches and emits them, `position-saver.ts` saves
 * the positions, `resume.ts` matches them to the files at start, `generations.ts` finds missed rotated
 * generations and `copytruncate.ts` follows truncated files; this class runs the loop and the scans.
 *
 * Rotation:
 * - rename + create: the renamed file is read through the handle already open until it has not grown
 *   for `rotateWaitMs`, then released; the new file at the path is read from its start, after the old
 *   one is drained. A renamed file that still matches the patterns is the same file (not read twice).
 * - missed generations: when rotations come faster than the scans (or happen while the source is
 *   stopped), a generation can be at the watched path only between two scans and be renamed to a name
 *   the patterns do not match before any scan sees it. So when a file that was at a matching path is
 *   found rotated away, or a file is found at a path no tracked file came from, the directory of its
 *   origin is searched for such generations and they are read in order (the rules are `Generations`'s).
 * - copytruncate: the truncated file's unread tail is read from the copy, then the file is read again
 *   from 0; a new file that starts like a tailed file (a copy being made) waits until that is settled
 *   (see `CopyTruncation`).
 * - delete: the handle is drained, then released.
 *
 * A checkpoint entry per file holds its path, origin (the FilePath of its records), identity, whether it
 * was rotated away, when it was first seen, and the offset of the first byte not yet durably emitted; it
 * is saved (coalesced) only after `emit` resolved. Records keep the path a file was first found at as
 * FilePath, so every generation of a rotated log has the same FilePath, and an older generation is
 * drained before a newer one is read.
 */
export class CustomLogSource implements Source {
  private readonly problems: Problems;
  private readonly paths: PathScanner;
  private readonly emitter: Emitter;
  private readonly files: FileSet;
  private readonly saver: PositionSaver;
  private readonly generations: Generations;
  private readonly copies: CopyTruncation;
  private readonly reader: FileReader;

  private started = false;
  private stopping = false;
  private stopped = false;
  private stopPromise: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastScanAt = 0;
  /** Wall-clock ms when the last completed scan (or the start) began. */
  private lastScanWallMs = 0;

  /**
   * `format` turns records into rows: by default the custom text-log table's (RawData); another source
   * type riding on this engine passes its own (`iis_log`: W3C lines into W3CIISLog rows).
   */
  constructor(
    private readonly config: CustomLogConfig,
    private readonly ctx: SourceContext,
    private readonly format: RecordFormat = textRecordFormat(ctx.host.computer),
  ) {
    const startFormat = config.recordStartTimestampFormat;
    const splitterOptions = {
      maxRecordBytes: config.maxLineBytes,
      recordStart: startFormat === undefined ? undefined : timestampParser(startFormat, () => ctx.clock.now()),
    };
    this.problems = new Problems(ctx, config.scanIntervalMs);
    this.paths = new PathScanner(config, this.problems);
    const requestSave = (): void => this.saver.request();
    this.emitter = new Emitter({
      ctx,
      config,
      format,
      signal: this.abort.signal,
      problems: this.problems,
      stopping: () => this.stopping,
      parked: (p) => this.parked(p),
      saveCaughtUp: () => this.saver.caughtUp(),
      requestSave,
      idle: (ms) => this.idle(ms),
    });
    this.files = new FileSet(ctx.clock, splitterOptions, (file) => this.emitter.sinkFor(file));
    this.saver = new PositionSaver(ctx.checkpoints, this.files, this.problems);
    this.generations = new Generations(this.files, this.paths, ctx.log, requestSave);
    this.copies = new CopyTruncation({
      files: this.files,
      paths: this.paths,
      problems: this.problems,
      log: ctx.log,
      clock: ctx.clock,
      rotateWaitMs: config.rotateWaitMs,
      flush: (f) => this.emitter.flush(f),
      requestSave,
    });
    this.reader = new FileReader({
      files: this.files,
      copies: this.copies,
      emitter: this.emitter,
      problems: this.problems,
      clock: ctx.clock,
      rotateWaitMs: config.rotateWaitMs,
      readBufferBytes: config.readBufferBytes,
      stopping: () => this.stopping,
      scanDue: () => this.scanDue(),
    });
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
    if (loaded.damage) reportDamage(loaded.damage, this.problems, this.ctx.log);
    this.lastScanWallMs = Date.now();
    const resume = new CheckpointResume({
      files: this.files,
      paths: this.paths,
      copies: this.copies,
      generations: this.generations,
      log: this.ctx.log,
      startAt: this.config.startAt,
      track: (path, opts) => this.track(path, opts),
    });
    await resume.run(loaded.state, damaged, this.lastScanWallMs);
    await this.saver.saveNow();
    this.saver.open();
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
    await this.saver.close();
    for (const f of this.files.all) await this.closeHandle(f.fh);
    this.files.clear();
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
        await this.emitter.emitPending();
        if (!progressed) {
          const untilScan = this.lastScanAt + this.config.scanIntervalMs - performance.now();
          await this.idle(Math.max(1, Math.min(this.config.pollIntervalMs, untilScan)));
        }
        failures = 0;
      } catch (err) {
        // Per-file problems are handled where they happen; what reaches here is unexpected. Once it keeps
        // happening, a fresh instance (state rebuilt from the saved positions) is the better bet.
        this.problems.countError(err, 'loop');
        if (++failures >= MAX_LOOP_FAILURES) {
          this.ctx.log.error({ err, failures }, 'custom log reader keeps failing; handing it back to the pipeline to restart');
          this.ctx.fail(err);
          return;
        }
        this.problems.warn('loop', { err }, 'custom log reader error; continuing');
        await this.idle(this.config.pollIntervalMs);
      }
    }
    // Complete records already split are handed over; partial lines and open multi-line records stay
    // behind the saved positions and are read again next time.
    await this.emitter.emitPending();
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
        this.problems.countError(err, 'scan');
        this.problems.warn('scan', { err }, 'file scan failed; retrying later');
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

  /** Gives each file a turn (see `FileReader.round`); true when one made progress. */
  private readRound(): Promise<boolean> {
    return this.reader.round();
  }

  // ---------------------------------------------------------------------------------------------
  // Idle files: partial lines, rotated files

  private async housekeeping(): Promise<void> {
    const now = this.ctx.clock.now();
    for (const f of [...this.files.all]) {
      if (f.retired || f.state === 'suspect' || !f.atEof) continue;
      const quiet = now - f.lastGrowthAt;
      if (this.format.flushPartialLines && f.splitter.hasPending && quiet >= this.config.partialLineFlushMs) this.emitter.flush(f);
      if (f.state === 'rotated' && now - Math.max(f.lastGrowthAt, f.goneAt) >= this.config.rotateWaitMs) {
        if (f.splitter.hasPending) this.emitter.flush(f);
        if (f.committed >= f.readOffset) await this.release(f, 'file drained and released');
      }
      if (this.emitter.hasFull && !(await this.emitter.emitFull())) return;
    }
  }

  private async release(f: TailedFile, msg: string): Promise<void> {
    this.files.retire(f);
    this.generations.remember(f);
    await this.closeHandle(f.fh);
    this.ctx.log.info({ path: f.path, origin: f.origin }, msg);
    this.saver.request();
  }

  private closeHandle(fh: FileHandle): Promise<void> {
    return closeQuietly(fh, this.ctx.log);
  }

  // ---------------------------------------------------------------------------------------------
  // Scanning

  private async scan(): Promise<void> {
    const startedAtMs = Date.now();
    const found = await this.paths.matchedFiles();
    const matchedKeys = new Set(found.map((x) => x.key));
    const liveOrigins = new Set(this.files.all.filter((f) => !f.retired).map((f) => f.origin));
    const newOrigins: TailedFile[] = [];
    const seen = new Set<TailedFile>();
    let changed = false;
    for (const m of found) {
      const f = this.files.get(m.key);
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
    for (const f of [...this.files.all]) {
      if (seen.has(f) || f.retired) continue;
      if (f.state === 'suspect') {
        await this.release(f, 'file left the patterns before it was read');
        continue;
      }
      if (f.state !== 'active') continue;
      f.state = 'rotated';
      f.goneAt = now;
      const moved = await locate(dirname(f.path), f.dev, f.ino);
      this.ctx.log.info({ path: f.path, movedTo: moved }, 'file rotated away or removed; draining it');
      if (moved) f.path = moved;
      changed = true;
      await this.generations.adoptAfter(f, matchedKeys);
    }
    // A file at a path no tracked file came from: generations of it may have come and gone since the
    // previous scan.
    for (const n of newOrigins) {
      if (!n.retired && n.state === 'active') await this.generations.adoptBefore(n, this.lastScanWallMs, matchedKeys);
    }
    this.lastScanWallMs = startedAtMs;
    if (changed) this.saver.request();
  }

  /** Opens a path and starts tailing it; undefined when it cannot be opened or is already tailed. */
  private async track(path: string, opts: TrackOptions): Promise<TailedFile | undefined> {
    let fh: FileHandle;
    try {
      fh = await openForRead(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.paths.reportPath(path, err, 'open');
      return undefined;
    }
    try {
      const id = await identityOf(fh);
      if (this.files.has(keyOf(id.dev, id.ino))) {
        await this.closeHandle(fh);
        return undefined;
      }
      const offset = opts.offset === 'end' ? id.size : opts.offset;
      const f = this.files.add({
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
      this.files.index(f);
      this.paths.opened(path);
      this.ctx.log.info({ path, offset }, 'tailing file');
      if (f.unclassified) await this.copies.classify(f);
      return f;
    } catch (err) {
      this.paths.reportPath(path, err, 'open');
      await this.closeHandle(fh);
      return undefined;
    }
  }
}
