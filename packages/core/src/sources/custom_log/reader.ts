import { performance } from 'node:perf_hooks';
import type { Clock } from '../../ports/clock.js';
import type { Emitter } from './batches.js';
import type { CopyTruncation } from './copytruncate.js';
import { FINGERPRINT_BYTES, readPrefix, startsWith } from './file-identity.js';
import type { FileSet } from './file-set.js';
import type { Problems } from './problems.js';
import type { TailedFile } from './tailed-file.js';

/** Bytes read from one file before the others get their turn (at least one read). */
const TURN_BYTES = 4 * 1024 * 1024;
/** A new file waits at most this long for an older file of the same origin to be drained first. */
const ORDER_WAIT_MAX_MS = 30_000;

/** What reading the files needs from the source. */
export interface FileReaderDeps {
  readonly files: FileSet;
  readonly copies: CopyTruncation;
  readonly emitter: Emitter;
  readonly problems: Problems;
  readonly clock: Clock;
  readonly rotateWaitMs: number;
  readonly readBufferBytes: number;
  /** True once the source is stopping: reading ends. */
  stopping(): boolean;
  /** True when a scan is due: a turn, and the round, end. */
  scanDue(): boolean;
}

/**
 * Reads the tailed files in turns, each from its position in big chunks, checking before a chunk is
 * used that the file was not truncated and rewritten meanwhile; hands the chunks to the emitter.
 */
export class FileReader {
  private readonly slab: Buffer;
  private readonly prefixScratch = Buffer.allocUnsafe(FINGERPRINT_BYTES);
  /** Index in the files of the file whose turn comes next (a round cut short goes on from there). */
  private nextTurn = 0;

  constructor(private readonly deps: FileReaderDeps) {
    this.slab = Buffer.allocUnsafe(deps.readBufferBytes);
  }

  /** Gives each file a turn, starting after the last file served; ends early when a scan is due. */
  async round(): Promise<boolean> {
    let progressed = false;
    const files = [...this.deps.files.all];
    const start = files.length === 0 ? 0 : this.nextTurn % files.length;
    for (let k = 0; k < files.length; k++) {
      if (this.deps.stopping()) break;
      const i = (start + k) % files.length;
      const f = files[i]!;
      if (!f.retired && (await this.turn(f))) progressed = true;
      this.nextTurn = i + 1;
      if (this.deps.scanDue()) break;
    }
    return progressed;
  }

  /** Reads one file for a while; true when it made progress. */
  private async turn(f: TailedFile): Promise<boolean> {
    if (f.state === 'suspect') {
      await this.deps.copies.checkSuspect(f);
      return false;
    }
    if (f.retryAt > performance.now()) return false;
    if (this.waitsForOlder(f)) return false;
    let size: number;
    try {
      size = (await f.fh.stat()).size;
    } catch (err) {
      this.deps.problems.fileFailed(f, err, 'read');
      return false;
    }
    if (size < f.readOffset) {
      await this.deps.copies.handleTruncation(f);
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
    for (let read = 0; read < TURN_BYTES && !this.deps.stopping(); ) {
      let n: number;
      try {
        n = (await f.fh.read(this.slab, 0, this.slab.length, f.readOffset)).bytesRead;
      } catch (err) {
        this.deps.problems.fileFailed(f, err, 'read');
        return read > 0;
      }
      if (n === 0) return read > 0;
      const verdict = await this.verify(f, n);
      if (verdict === 'truncated') {
        await this.deps.copies.handleTruncation(f);
        return true;
      }
      if (verdict !== 'ok') return read > 0;
      f.lastGrowthAt = this.deps.clock.now();
      await this.deps.emitter.consume(f, this.slab, n);
      read += n;
      if (n < this.slab.length || this.deps.scanDue()) return true;
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
        this.deps.problems.fileFailed(f, err, 'read');
        return 'failed';
      }
    }
    if (!startsWith(head, f.prefix)) return 'truncated';
    if (head.length > f.prefix.length) f.prefix = Buffer.from(head);
    if (f.unclassified && (await this.deps.copies.classify(f))) return 'suspect';
    return 'ok';
  }

  /**
   * True while an older file of the same origin (a rotated generation) may still have data to read: it
   * is drained only once found at its end after `f` was opened (lines written to it just before its
   * rotation come before those of `f`).
   */
  private waitsForOlder(f: TailedFile): boolean {
    if (performance.now() - f.openedAt > Math.max(this.deps.rotateWaitMs, ORDER_WAIT_MAX_MS)) return false;
    for (const g of this.deps.files.all) {
      if (g.seq >= f.seq) break;
      if (g.origin !== f.origin || g.retired || g.state === 'suspect') continue;
      if (!g.atEof || g.eofAt < f.openedAt) return true;
    }
    return false;
  }
}
