import { BufferPool, EncodedBatchBuilder, JSON_FORMAT_CODE, emitUntilQueued, errorType, frameRoom, type SourceContext } from '@oma/core';
import type { SyslogConfig } from './config.js';
import { SyslogEncoder, makePeer, type Peer } from './encode.js';
import { facilityMask, levelMask } from './names.js';
import type { ParsedSyslog } from './parse.js';
import { SyslogMetrics } from './metrics.js';

const TABLE = 'Syslog';
/** A peer with empty names, for sizing the batches' buffers (they grow when a record needs more). */
const NO_PEER: Peer = makePeer('', '');
const FORMAT_INDEX = [0, SyslogMetrics.format('rfc3164'), SyslogMetrics.format('rfc5424'), SyslogMetrics.format('unparsed')];

/**
 * Parses frames, encodes the records it keeps into batches and hands the batches to the pipeline: a
 * batch goes when it holds `maxBatchRecords` records or `maxBatchBytes` bytes, or `lingerMs` after its
 * first record. At most `maxEmitsInFlight` emits are under way; full batches beyond that wait, and while
 * one waits `onPause(true)` asks the transports to stop reading (TCP senders then block).
 */
export class SyslogBatcher {
  private builder: EncodedBatchBuilder;
  private readonly waiting: EncodedBatchBuilder[] = [];
  private inFlight = 0;
  private paused = false;
  private linger: NodeJS.Timeout | undefined;
  private readonly encoder: SyslogEncoder;
  private readonly facilities: number;
  private readonly levels: number;
  private readonly buffers: BufferPool;
  private readonly capacity: number;
  private idleWaiters: Array<() => void> = [];
  private stopping = false;

  constructor(
    private readonly config: SyslogConfig,
    private readonly ctx: SourceContext,
    private readonly metrics: SyslogMetrics,
    private readonly signal: AbortSignal,
    private readonly onPause: (paused: boolean) => void,
  ) {
    this.encoder = new SyslogEncoder(ctx.host.computer);
    this.facilities = facilityMask(config.facilities);
    this.levels = levelMask(config.levels);
    this.buffers = new BufferPool(config.maxEmitsInFlight + config.maxQueuedBatches + 2);
    // Room for a full batch, the record that does not fit it any more and the head of its queue entry.
    this.capacity = config.maxBatchBytes + this.encoder.maxRecordBytes(config.maxMessageBytes, NO_PEER) + frameRoom(TABLE, config.maxBatchRecords);
    this.builder = this.newBuilder();
  }

  private newBuilder(): EncodedBatchBuilder {
    return new EncodedBatchBuilder(TABLE, this.capacity, 256, this.buffers.take(this.capacity), { maxRecords: this.config.maxBatchRecords });
  }

  /** Full batches waiting for an emit slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Takes a frame parsed already (`r`, `m`: what `parseSyslog` returned for it at `now`): counts its
   * format, applies this source's facility and level filter, and encodes it into the current batch.
   * A shared listener parses each frame once and hands it to every source listening there.
   */
  addParsed(src: Buffer, start: number, end: number, m: ParsedSyslog, r: number, now: number, peer: Peer): void {
    this.metrics.parsed(FORMAT_INDEX[r]!);
    if ((this.facilities & (1 << (m.pri >> 3))) === 0 || (this.levels & (1 << (m.pri & 7))) === 0) {
      this.metrics.filtered();
      return;
    }
    const b = this.builder;
    if (b.count > 0 && b.bytes + this.encoder.maxRecordBytes(end - start, peer) > this.config.maxBatchBytes) this.seal();
    this.encoder.write(this.builder, src, m, now, peer, end - start);
    if (this.builder.count >= this.config.maxBatchRecords || this.builder.bytes >= this.config.maxBatchBytes) {
      this.seal();
    } else if (this.linger === undefined) {
      this.linger = setTimeout(() => {
        this.linger = undefined;
        this.seal();
      }, this.config.lingerMs);
      this.linger.unref();
    }
  }

  /** Closes the batch being filled and sends it when a slot is free. */
  seal(): void {
    if (this.linger !== undefined) {
      clearTimeout(this.linger);
      this.linger = undefined;
    }
    if (this.builder.count === 0) return;
    this.waiting.push(this.builder);
    this.builder = this.newBuilder();
    this.dispatch();
  }

  private dispatch(): void {
    while (this.inFlight < this.config.maxEmitsInFlight && this.waiting.length > 0) {
      const b = this.waiting.shift()!;
      this.inFlight++;
      void this.emit(b).finally(() => {
        this.inFlight--;
        this.buffers.give(b.buf);
        this.dispatch();
        this.settled();
      });
    }
    this.updatePause();
  }

  private updatePause(): void {
    const pause = this.waiting.length > 0;
    if (pause !== this.paused) {
      this.paused = pause;
      this.onPause(pause);
    }
  }

  private settled(): void {
    if (this.inFlight > 0 || this.waiting.length > 0) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Hands a batch to the pipeline, retrying with backoff until it is queued or the source stops. */
  private async emit(b: EncodedBatchBuilder): Promise<void> {
    const batch = b.finishFrame(JSON_FORMAT_CODE);
    const queued = await emitUntilQueued(batch, {
      ctx: this.ctx,
      signal: this.signal,
      stopping: () => this.stopping,
      sleep: (ms) => new Promise<void>((r) => setTimeout(r, ms).unref()),
      failed: (err) => {
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'emit' });
        this.ctx.log.warn({ err, count: batch.count }, 'batch not queued; retrying');
      },
    });
    if (!queued) this.lost(batch.count);
  }

  private lost(count: number): void {
    this.ctx.log.error({ count }, 'syslog records not queued before the source stopped');
  }

  /** Sends what is batched and resolves once every batch was handed over (or the source gave up). */
  async drain(): Promise<void> {
    this.stopping = true;
    this.seal();
    if (this.inFlight === 0 && this.waiting.length === 0) return;
    await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  close(): void {
    if (this.linger !== undefined) clearTimeout(this.linger);
    this.linger = undefined;
  }
}
