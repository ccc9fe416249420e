import type { SourceContext } from '../../pipeline/component.js';
import { emitUntilQueued } from '../../pipeline/emit-retry.js';
import { BufferPool } from '../../wire/buffer-pool.js';
import { EncodedBatchBuilder } from '../../wire/encoded-batch.js';
import { JSON_FORMAT_CODE } from '../../wire/format.js';
import { frameRoom } from '../../wire/frame.js';
import type { CustomLogConfig } from './config.js';
import type { Problems } from './problems.js';
import type { RecordEncoder, RecordFormat } from './record-format.js';
import type { RecordSink } from './record-splitter.js';
import type { TailedFile } from './tailed-file.js';

/**
 * Batches handed to the pipeline and not yet queued: reading goes on while the queue writes and syncs
 * the ones before (their positions are committed in order, each once its batch is queued).
 */
const MAX_EMITS_IN_FLIGHT = 4;

/** Records waiting to be emitted, encoded, and the positions they make safe to save. */
class PendingBatch {
  readonly builder: EncodedBatchBuilder;
  readonly commits = new Map<TailedFile, number>();

  constructor(table: string, buffer: Buffer, maxRecords: number) {
    // Laid out as a queue entry in place: the pipeline queues it without copying it.
    this.builder = new EncodedBatchBuilder(table, buffer.length, 1024, buffer, { maxRecords });
  }
}

/** What the emitter needs from the source. */
export interface EmitterDeps {
  readonly ctx: SourceContext;
  readonly config: CustomLogConfig;
  /** How records become rows. */
  readonly format: RecordFormat;
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
 * Encodes what the files' splitters cut into rows with each file's `RecordEncoder` (written straight
 * into the batch from the bytes read), gathers them into batches of at most `maxBatchRecords` records
 * and `maxBatchBytes` bytes of JSON, and emits the batches in order with a few in flight at once (the
 * queue's group commit covers several while reading goes on). A file's position advances to what an
 * emitted batch made safe only after that batch and every batch before it were queued; then the
 * positions are saved.
 */
export class Emitter {
  private pending: PendingBatch;
  private readonly full: PendingBatch[] = [];
  private readonly inFlight: Array<{ readonly b: PendingBatch; readonly queued: Promise<boolean> }> = [];
  /** The time of records split now that carry no timestamp of their own. */
  private nowMs: number;
  private readonly encoders = new WeakMap<TailedFile, RecordEncoder>();
  /** Files whose reading began (their encoder's `resume` ran when it was due). */
  private readonly begun = new WeakSet<TailedFile>();
  private readonly truncatedLabels: Readonly<Record<string, string>>;
  /** The batches' buffers, reused once a batch is queued. */
  private readonly buffers = new BufferPool(MAX_EMITS_IN_FLIGHT + 2);
  private readonly batchCapacity: number;

  constructor(private readonly deps: EmitterDeps) {
    // Room for a full batch, the record that does not fit it any more and the head of its queue entry.
    this.batchCapacity = Math.min(deps.config.maxBatchBytes + 64 * 1024, 8 * 1024 * 1024) + frameRoom(deps.config.table, deps.config.maxBatchRecords);
    this.truncatedLabels = { ...deps.ctx.labels, reason: 'line_truncated' };
    this.pending = this.newBatch();
    this.nowMs = deps.ctx.clock.now();
  }

  private newBatch(): PendingBatch {
    return new PendingBatch(this.deps.config.table, this.buffers.take(this.batchCapacity), this.deps.config.maxBatchRecords);
  }

  /** The sink a file's splitter hands its records to. */
  sinkFor(f: TailedFile): RecordSink {
    const { config, format } = this.deps;
    const enc = format.encoderFor(f);
    this.encoders.set(f, enc);
    const maxRecords = config.maxBatchRecords;
    const maxBytes = config.maxBatchBytes;
    return (src, start, timeMs, bytes, end, cutBytes) => {
      if (cutBytes > 0) this.truncated(f, bytes, cutBytes);
      let b = this.pending;
      let more = true;
      const size = enc.maxBytes(bytes) + 1;
      if (b.builder.count > 0 && b.builder.bytes + size > maxBytes) {
        this.full.push(b);
        b = this.pending = this.newBatch();
        more = false;
      }
      const w = b.builder;
      w.beginRecord();
      w.reserve(size);
      const pos = enc.encode(src, start, bytes, timeMs ?? this.nowMs, cutBytes, w.buf, w.pos);
      if (pos < 0) {
        w.abandonRecord();
      } else {
        w.pos = pos;
        w.endRecord();
      }
      b.commits.set(f, end);
      if (w.count >= maxRecords) {
        this.full.push(b);
        this.pending = this.newBatch();
        return false;
      }
      return more;
    };
  }

  /** Sets the TimeGenerated of records without a timestamp of their own to now. */
  private stamp(): void {
    this.nowMs = this.deps.ctx.clock.now();
  }

  /**
   * Splits `slab[0, n)` (read at the file's position) into records, emitting full batches, and moves
   * the file's read position past what was split.
   */
  async consume(f: TailedFile, slab: Buffer, n: number): Promise<void> {
    const base = f.readOffset;
    if (!this.begun.has(f)) {
      this.begun.add(f);
      if (base > 0) await this.encoders.get(f)?.resume?.(f.fh, base);
    }
    this.stamp();
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
    this.stamp();
    f.splitter.flush(f.sink);
    this.pending.commits.set(f, f.splitter.safeOffset);
  }

  /** True when full batches wait to be emitted. */
  get hasFull(): boolean {
    return this.full.length > 0;
  }

  /**
   * Emits the full batches in order, waiting only while MAX_EMITS_IN_FLIGHT are under way; false when
   * stopping cut it short.
   */
  async emitFull(): Promise<boolean> {
    while (this.full.length > 0) {
      const b = this.full.shift()!;
      if (b.builder.count === 0 && this.inFlight.length === 0) {
        this.applyCommits(b);
        continue;
      }
      this.inFlight.push({ b, queued: b.builder.count === 0 ? Promise.resolve(true) : this.emitBatch(b) });
      while (this.inFlight.length >= MAX_EMITS_IN_FLIGHT) {
        if (!(await this.settleOldest())) return false;
      }
    }
    return true;
  }

  /** Emits everything split so far and waits until all of it is queued. */
  async emitPending(): Promise<void> {
    if (this.pending.builder.count > 0 || this.pending.commits.size > 0) {
      this.full.push(this.pending);
      this.pending = this.newBatch();
    }
    if (!(await this.emitFull())) return;
    while (this.inFlight.length > 0) {
      if (!(await this.settleOldest())) return;
    }
  }

  /** Waits for the oldest emit under way and commits its positions; false when it was given up (stopping). */
  private async settleOldest(): Promise<boolean> {
    const first = this.inFlight[0]!;
    const ok = await this.deps.parked(first.queued);
    if (!ok) {
      // Stopping: later batches may be queued too, but their positions stay where they were (at least once).
      this.inFlight.length = 0;
      return false;
    }
    this.inFlight.shift();
    this.applyCommits(first.b);
    // Queued: the pipeline no longer refers to the batch's bytes.
    this.buffers.give(first.b.builder.buf);
    return true;
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

  /** Hands a batch to the pipeline, retrying with backoff until it is queued; false when stopping gave it up. */
  private emitBatch(b: PendingBatch): Promise<boolean> {
    const { ctx, signal, problems } = this.deps;
    return emitUntilQueued(b.builder.finishFrame(JSON_FORMAT_CODE), {
      ctx,
      signal,
      stopping: () => this.deps.stopping(),
      sleep: (ms) => this.deps.idle(ms),
      beforeAttempt: () => this.deps.saveCaughtUp(),
      failed: (err, batch) => {
        problems.countError(err, 'emit');
        problems.warn('emit', { err, count: batch.count }, 'batch not queued; retrying');
      },
    });
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
