import type { LogRecord } from '../../model/record.js';
import type { SourceContext } from '../../pipeline/component.js';
import type { CustomLogConfig } from './config.js';
import type { Problems } from './problems.js';
import type { RecordSink } from './record-splitter.js';
import type { TailedFile } from './tailed-file.js';

/** JSON bytes of a record besides the RawData, FilePath and Computer values (keys, TimeGenerated, quotes). */
const RECORD_OVERHEAD_BYTES = 85;
const MAX_EMIT_BACKOFF_MS = 10_000;

/** Records waiting to be emitted and the positions they make safe to save. */
class PendingBatch {
  readonly records: LogRecord[] = [];
  bytes = 0;
  readonly commits = new Map<TailedFile, number>();
}

/** What the emitter needs from the source. */
export interface EmitterDeps {
  readonly ctx: SourceContext;
  readonly config: CustomLogConfig;
  /** Aborted when the source must stop at once: an emit under way is given up. */
  readonly signal: AbortSignal;
  readonly problems: Pick<Problems, 'countError' | 'warn'>;
  /** True once the source is stopping: a failed emit is not retried. */
  stopping(): boolean;
  /** Waits for an emit, running the scans that fall due meanwhile. */
  parked<T>(p: Promise<T>): Promise<T>;
  /** Waits while the positions of two emitted batches are unsaved. */
  saveCaughtUp(): Promise<void>;
  /** Saves the positions soon. */
  requestSave(): void;
  /** Waits `ms`, or less when the source is stopped. */
  idle(ms: number): Promise<void>;
}

/**
 * Turns what the files' splitters cut into records, gathers them into batches of at most
 * `maxBatchRecords` records and about `maxBatchBytes` bytes, and emits the batches in order, each once
 * the previous one is queued (backpressure). A file's position advances to what an emitted batch made
 * safe only after the emit resolved; then the positions are saved.
 */
export class Emitter {
  private pending = new PendingBatch();
  private readonly full: PendingBatch[] = [];
  /** TimeGenerated of the records split now that carry no timestamp of their own. */
  private nowIso = '';
  private readonly truncatedLabels: Readonly<Record<string, string>>;

  constructor(private readonly deps: EmitterDeps) {
    this.truncatedLabels = { ...deps.ctx.labels, reason: 'line_truncated' };
  }

  /** The sink a file's splitter hands its records to. */
  sinkFor(f: TailedFile): RecordSink {
    const { ctx, config } = this.deps;
    const computer = ctx.host.computer;
    const overhead = RECORD_OVERHEAD_BYTES + Buffer.byteLength(computer) + f.originBytes;
    const maxRecords = config.maxBatchRecords;
    const maxBytes = config.maxBatchBytes;
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

  /**
   * Splits `slab[0, n)` (read at the file's position) into records, emitting full batches, and moves
   * the file's read position past what was split.
   */
  async consume(f: TailedFile, slab: Buffer, n: number): Promise<void> {
    this.nowIso = new Date(this.deps.ctx.clock.now()).toISOString();
    const base = f.readOffset;
    let pos = 0;
    while (pos < n) {
      pos = f.splitter.push(slab, pos, n, base + pos, f.sink);
      this.pending.commits.set(f, f.splitter.safeOffset);
      if (this.full.length > 0 && !(await this.emitFull())) break;
    }
    f.readOffset = base + pos;
  }

  /** Takes what a file's splitter holds (a partial line, an open multi-line record) as a record. */
  flush(f: TailedFile): void {
    this.nowIso = new Date(this.deps.ctx.clock.now()).toISOString();
    f.splitter.flush(f.sink);
    this.pending.commits.set(f, f.splitter.safeOffset);
  }

  /** True when full batches wait to be emitted. */
  get hasFull(): boolean {
    return this.full.length > 0;
  }

  /** Emits the full batches in order; false when stopping cut it short. */
  async emitFull(): Promise<boolean> {
    while (this.full.length > 0) {
      if (!(await this.emitBatch(this.full[0]!))) return false;
      this.full.shift();
    }
    return true;
  }

  /** Emits everything split so far. */
  async emitPending(): Promise<void> {
    if (this.pending.records.length > 0 || this.pending.commits.size > 0) {
      this.full.push(this.pending);
      this.pending = new PendingBatch();
    }
    await this.emitFull();
  }

  /** A record cut at `maxLineBytes`: counted, and said why (one line per file per 10 s). */
  private truncated(f: TailedFile, keptBytes: number, cutBytes: number): void {
    this.deps.ctx.metrics.recordsDropped.inc(this.truncatedLabels);
    this.deps.problems.warn(
      `truncated:${f.origin}`,
      { path: f.path, maxLineBytes: this.deps.config.maxLineBytes, bytes: keptBytes + cutBytes, cutBytes },
      'record longer than maxLineBytes; truncated',
    );
  }

  private async emitBatch(b: PendingBatch): Promise<boolean> {
    if (b.records.length === 0) {
      this.applyCommits(b);
      return true;
    }
    const { ctx, config, signal, problems } = this.deps;
    let backoff = 250;
    for (;;) {
      if (signal.aborted) return false;
      await this.deps.saveCaughtUp();
      try {
        await this.deps.parked(ctx.emit({ table: config.table, records: b.records }, signal));
        this.applyCommits(b);
        return true;
      } catch (err) {
        if (signal.aborted) return false;
        problems.countError(err, 'emit');
        problems.warn('emit', { err, count: b.records.length }, 'batch not queued; retrying');
        if (this.deps.stopping()) return false;
        await this.deps.idle(backoff);
        if (this.deps.stopping()) return false;
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
    if (advanced) this.deps.requestSave();
  }
}
