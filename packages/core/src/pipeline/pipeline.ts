import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openDiskQueue } from '../buffer/index.js';
import type { DiskQueue, DiskQueueOptions, QueueEntry } from '../buffer/types.js';
import { FileCheckpointStore } from '../checkpoint/checkpoint-store.js';
import type { AgentConfig, DestinationConfig, SourceConfig } from '../config/agent-config.js';
import { errorType, isAgentError } from '../errors.js';
import type { LogRecord, RecordBatch } from '../model/record.js';
import { systemClock, type Clock } from '../ports/clock.js';
import type { HostDescription } from '../ports/host-info.js';
import { RateLimitedLog, type Logger } from '../telemetry/logger.js';
import type { MetricsRegistry } from '../telemetry/metrics.js';
import { agentMetrics, type AgentMetrics } from '../telemetry/names.js';
import { backoffWithJitterMs, type BackoffOptions } from '../http/backoff.js';
import type { Batch } from './batch.js';
import { isEncodedBatch, type EncodedBatch } from '../wire/encoded-batch.js';
import { BufferPool } from '../wire/buffer-pool.js';
import { decodeFrame, encodeFrame, frameBytes, isFrame } from '../wire/frame.js';
import { decodeJsonRecords, jsonFormat, type EncodeOutcome, type WireFormat } from '../wire/format.js';
import type { ComponentContext, Processor, Sink, SinkDefinition, Source, SourceDefinition } from './component.js';
import type { ComponentRegistry } from './registry.js';

export interface PipelineOptions {
  readonly config: AgentConfig;
  readonly registry: ComponentRegistry;
  readonly log: Logger;
  readonly metricsRegistry: MetricsRegistry;
  readonly host: HostDescription;
  readonly agentVersion: string;
  readonly clock?: Clock;
  /**
   * Turns a destination whose type is not a registered sink (the embedded `local_workspace`) into a sink
   * type and options. Called once per such destination at start.
   */
  readonly resolveDestination?: (d: DestinationConfig) => { type: string; options: unknown };
  /** Backoff bounds for restarting failed components. */
  readonly restartBackoff?: { initialDelayMs: number; maxDelayMs: number };
  /** Backoff bounds for retrying a failed append to one destination's queue. */
  readonly appendBackoff?: { initialDelayMs: number; maxDelayMs: number };
  /** Opens a destination's durable queue (default: `openDiskQueue`). */
  readonly openQueue?: (opts: DiskQueueOptions) => Promise<DiskQueue>;
}

const DEFAULT_RESTART_BACKOFF = { initialDelayMs: 1000, maxDelayMs: 60_000 };
const DEFAULT_APPEND_BACKOFF = { initialDelayMs: 100, maxDelayMs: 10_000 };
/** How long a source that reported a failure gets to stop before it is replaced. */
const FAILED_SOURCE_STOP_MS = 5000;

export interface TableStatus {
  readonly table: string;
  readonly in: number;
  readonly out: number;
}

export interface DestinationStatus {
  readonly id: string;
  readonly queueBytes: number;
  /** Telemetry records waiting in the queue. */
  readonly queueRecords: number;
  readonly oldestAgeSec: number;
  /** The queue's device is full or below its free-space floor. */
  readonly noSpace: boolean;
  readonly deviceFreeBytes: number | undefined;
  readonly healthy: boolean;
  readonly detail?: string;
}

export interface PipelineStatus {
  readonly tables: readonly TableStatus[];
  readonly destinations: readonly DestinationStatus[];
  readonly errors: number;
  readonly dropped: number;
}

/** What a queued batch looked like before queue entries were frames (older versions): the table and its records, as JSON. */
interface LegacyBatch {
  readonly t: string;
  readonly r: LogRecord[];
}

/** The batch in a queue entry written by an older version (JSON `{"t": table, "r": records}`). */
export function decodeLegacyBatch(payload: Buffer): LegacyBatch {
  const v = JSON.parse(payload.toString('utf8')) as unknown;
  if (typeof v !== 'object' || v === null || typeof (v as LegacyBatch).t !== 'string' || !Array.isArray((v as LegacyBatch).r)) {
    throw new Error('queued payload is not a batch');
  }
  return v as LegacyBatch;
}

/**
 * Sources -> processors -> one durable queue per destination -> sink. Built from config; components
 * never see each other, only their context.
 */
export class Pipeline {
  private readonly metrics: AgentMetrics;
  private readonly clock: Clock;
  private readonly destinations: DestinationRunner[] = [];
  private readonly sources: SourceRunner[] = [];
  private stopping = false;
  /** Aborted once sources had their time to stop: appends still retrying then give up. */
  private readonly halt = new AbortController();
  /** Buffers of queue entries being appended, reused once every queue wrote them. */
  private readonly frames = new BufferPool(6);

  private constructor(private readonly opts: PipelineOptions) {
    this.metrics = agentMetrics(opts.metricsRegistry);
    this.clock = opts.clock ?? systemClock;
  }

  static async start(opts: PipelineOptions): Promise<Pipeline> {
    const p = new Pipeline(opts);
    try {
      await p.startAll();
    } catch (err) {
      await p.stop(5000).catch(() => undefined);
      throw err;
    }
    return p;
  }

  private context(id: string, type: string, kind: 'source' | 'sink' | 'processor', stateDir: string): ComponentContext {
    return {
      id,
      type,
      log: this.opts.log.child({ component: id, type, kind }),
      registry: this.opts.metricsRegistry,
      metrics: this.metrics,
      labels: { component_id: id, component_type: type },
      clock: this.clock,
      stateDir,
      host: this.opts.host,
      agentVersion: this.opts.agentVersion,
    };
  }

  private async startAll(): Promise<void> {
    const { config } = this.opts;
    const backoff = this.opts.restartBackoff ?? DEFAULT_RESTART_BACKOFF;
    const appendBackoff = this.opts.appendBackoff ?? DEFAULT_APPEND_BACKOFF;
    const openQueue = this.opts.openQueue ?? openDiskQueue;
    for (const d of config.destinations) {
      const resolved = this.opts.registry.sink(d.type) ? { type: d.type, options: d.options } : this.opts.resolveDestination?.(d);
      const def = resolved && this.opts.registry.sink(resolved.type);
      if (!resolved || !def) throw new Error(`destination ${d.id}: no sink for type ${d.type}`);
      const stateDir = join(config.dataDir, 'state', 'destinations', d.id);
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      const ctx = this.context(d.id, resolved.type, 'sink', stateDir);
      const queue = await openQueue({
        dir: join(config.dataDir, 'queues', d.id),
        maxBytes: d.queue.maxBytes,
        segmentMaxBytes: d.queue.segmentMaxBytes,
        fsync: d.queue.fsync,
        fsyncIntervalMs: d.queue.fsyncIntervalMs,
        fullPolicy: d.queue.fullPolicy,
        maxAgeMs: d.queue.maxAgeMs,
        minFreeBytes: d.queue.minFreeBytes,
        minFreePercent: d.queue.minFreePercent,
        clock: this.clock,
        log: ctx.log.child({ stage: 'queue' }),
        onDrop: (count, reason) => this.metrics.recordsDropped.inc({ ...ctx.labels, reason: `queue_${reason}` }, count),
        recordsOfLegacyPayload: (payload) => decodeLegacyBatch(payload).r.length,
      });
      const r = queue.recovery;
      if (r.replayed > 0 || r.corrupt > 0 || r.badSegments > 0) {
        ctx.log.info(
          { count: r.replayed, corrupt: r.corrupt, corruptEntries: r.corruptEntries, corruptEstimated: r.corruptEstimated, badSegments: r.badSegments },
          'queue recovered',
        );
      }
      const format = def.format?.(resolved.options) ?? jsonFormat;
      this.destinations.push(new DestinationRunner(d, def, resolved.options, format, queue, ctx, backoff, appendBackoff));
    }
    for (const runner of this.destinations) runner.start();

    for (const s of config.sources) {
      const def = this.opts.registry.source(s.type);
      if (!def) throw new Error(`source ${s.id}: unknown type ${s.type}`);
      const stateDir = join(config.dataDir, 'state', 'sources', s.id);
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      const ctx = this.context(s.id, s.type, 'source', stateDir);
      const processors: Processor[] = s.processors.map((p, i) => {
        const pdef = this.opts.registry.processor(p.type);
        if (!pdef) throw new Error(`source ${s.id}: unknown processor ${p.type}`);
        return pdef.create(p.options, this.context(`${s.id}.${i}`, p.type, 'processor', stateDir));
      });
      this.sources.push(new SourceRunner(s, def, ctx, processors, (batch, signal) => this.route(s, ctx, batch, signal), backoff));
    }
    for (const s of this.sources) s.start();
  }

  /**
   * Puts a source's batch (after its processors) into the queue of every destination that takes its
   * table, encoded once per distinct wire format among them. Each queue is appended to on its own, with
   * its own retries, so a failed write to one queue never makes the batch go twice into another: the
   * returned promise resolves once every target holds the batch (or dropped it as too large for it),
   * and rejects only when `signal` aborts, a queue is closed or the pipeline stops; the queues that took
   * the batch by then keep it.
   */
  private async route(source: SourceConfig, ctx: ComponentContext, batch: RecordBatch | EncodedBatch, signal?: AbortSignal): Promise<void> {
    if (this.stopping) throw new Error('pipeline is stopping');
    const count = isEncodedBatch(batch) ? batch.count : batch.records.length;
    if (count === 0) return;
    const targets = this.destinations.filter((d) => d.takes(batch.table));
    this.metrics.recordsIn.inc({ ...ctx.labels, table: batch.table }, count);
    if (targets.length === 0) {
      this.metrics.recordsDropped.inc({ ...ctx.labels, reason: 'no_destination' }, count);
      return;
    }
    const frames = new Map<string, { payload: Buffer; records: number; pooled: Buffer | undefined }>();
    for (const d of targets) {
      if (!frames.has(d.format.key)) frames.set(d.format.key, this.frame(d.format, batch, ctx));
    }
    const stores: Array<Promise<void>> = [];
    for (const d of targets) {
      const f = frames.get(d.format.key)!;
      if (f.records > 0) stores.push(d.store(f.payload, f.records, source.id, signal, this.halt.signal));
    }
    const results = await Promise.allSettled(stores);
    // Every queue wrote (or gave up) the entries: their buffers can be used again.
    for (const f of frames.values()) if (f.pooled) this.frames.give(f.pooled);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Encodes a batch for one wire format as a queue entry; records that cannot be encoded are counted and logged. */
  private frame(format: WireFormat, batch: RecordBatch | EncodedBatch, ctx: ComponentContext): { payload: Buffer; records: number; pooled: Buffer | undefined } {
    const out = isEncodedBatch(batch) ? format.fromJson(batch) : format.encodeRecords(batch.table, batch.records);
    countEncoding(ctx, batch.table, out);
    // A source that laid its batch out as an entry of this format already: queued as it is.
    if (out.batch === batch && batch.frame?.format === format.code) return { payload: batch.frame.bytes, records: batch.count, pooled: undefined };
    const pooled = this.frames.take(frameBytes(out.batch));
    return { payload: encodeFrame(format.code, out.batch, pooled), records: out.batch.count, pooled };
  }

  status(): PipelineStatus {
    const byTable = new Map<string, { in: number; out: number }>();
    for (const { labels, value } of this.metrics.recordsIn.entries()) {
      const t = labels.table ?? '?';
      const s = byTable.get(t) ?? { in: 0, out: 0 };
      s.in += value;
      byTable.set(t, s);
    }
    for (const { labels, value } of this.metrics.recordsOut.entries()) {
      const t = labels.table ?? '?';
      const s = byTable.get(t) ?? { in: 0, out: 0 };
      s.out += value;
      byTable.set(t, s);
    }
    return {
      tables: [...byTable.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([table, s]) => ({ table, ...s })),
      destinations: this.destinations.map((d) => d.status(this.clock.now())),
      errors: this.metrics.errors.sum(),
      dropped: this.metrics.recordsDropped.sum(),
    };
  }

  /** Refreshes the queue gauges (called before /metrics renders). */
  collect(): void {
    const now = this.clock.now();
    for (const d of this.destinations) {
      const st = d.queue.stats();
      this.metrics.queueBytes.set(d.ctx.labels, st.bytes);
      this.metrics.queueRecords.set(d.ctx.labels, st.records);
      this.metrics.queueNoSpace.set(d.ctx.labels, st.noSpace ? 1 : 0);
      if (st.deviceFreeBytes !== undefined) this.metrics.queueDeviceFree.set(d.ctx.labels, st.deviceFreeBytes);
      this.metrics.queueOldestAge.set(d.ctx.labels, st.oldestAppendedAt === undefined ? 0 : Math.max(0, (now - st.oldestAppendedAt) / 1000));
    }
  }

  healthy(): boolean {
    return this.destinations.every((d) => d.status(this.clock.now()).healthy);
  }

  /**
   * Stops in order: sources (positions saved), then queues are flushed, then sinks get the rest of the
   * deadline to deliver what they hold; what they do not deliver stays queued for the next start.
   */
  async stop(deadlineMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const deadline = AbortSignal.timeout(Math.max(1, deadlineMs));
    const started = this.clock.now();
    const sourcesDeadline = AbortSignal.timeout(Math.max(1, deadlineMs / 2));
    const halt = (): void => this.halt.abort(new Error('pipeline is stopping'));
    sourcesDeadline.addEventListener('abort', halt, { once: true });
    await Promise.allSettled(this.sources.map((s) => s.stop(sourcesDeadline)));
    sourcesDeadline.removeEventListener('abort', halt);
    halt();
    await Promise.allSettled(this.destinations.map((d) => d.queue.flush()));
    await Promise.allSettled(this.destinations.map((d) => d.stop(deadline)));
    await Promise.allSettled(this.destinations.map((d) => d.queue.close()));
    this.opts.log.info({ durationMs: this.clock.now() - started }, 'pipeline stopped');
  }
}

/**
 * True for an append refused because the payload can never fit the queue. (A full device is not an
 * error: the queue holds the write until there is space.)
 */
function isTooLarge(err: unknown): boolean {
  return isAgentError(err) && err.code === 'OMA_ERR_BUFFER_TOO_LARGE';
}

/** Logs of records that cannot be encoded: at most one line per component and table every 10 s. */
const invalidRecordLog = new RateLimitedLog();

/** Counts (and logs, rate-limited) what encoding left out or cut. */
function countEncoding(ctx: ComponentContext, table: string, out: EncodeOutcome): void {
  if (out.invalid > 0) {
    ctx.metrics.recordsDropped.inc({ ...ctx.labels, table, reason: 'invalid_record' }, out.invalid);
    const suppressed = invalidRecordLog.admit(`${ctx.id}:${table}`);
    if (suppressed >= 0) {
      ctx.log.error({ err: out.invalidError, table, count: out.invalid, ...(suppressed > 0 ? { suppressed } : {}) }, 'record cannot be serialized as JSON; dropped');
    }
  }
  if (out.truncated > 0) ctx.metrics.recordsDropped.inc({ ...ctx.labels, table, reason: 'field_truncated' }, out.truncated);
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * Runs one source. Restarts it with capped backoff when it fails to start, and when it reports a
 * failure after start through `ctx.fail` (the failed instance is stopped first, then replaced).
 */
class SourceRunner {
  private source: Source | undefined;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly rateLog = new RateLimitedLog();

  constructor(
    private readonly config: SourceConfig,
    private readonly def: SourceDefinition,
    private readonly ctx: ComponentContext,
    private readonly processors: readonly Processor[],
    private readonly route: (batch: RecordBatch | EncodedBatch, signal?: AbortSignal) => Promise<void>,
    private readonly backoff: { initialDelayMs: number; maxDelayMs: number },
  ) {}

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const stopped = aborted(signal);
    // Consecutive failures (to start, or at run time before the instance made progress): the backoff step.
    let failures = 0;
    while (!signal.aborted) {
      let current = true;
      let report!: (err: unknown) => void;
      const failed = new Promise<{ err: unknown }>((resolve) => (report = (err) => resolve({ err })));
      let source: Source;
      try {
        source = this.def.create(this.config.options, {
          ...this.ctx,
          checkpoints: new FileCheckpointStore(this.ctx.stateDir),
          emit: async (batch, s) => {
            await this.emit(batch, s);
            if (current) failures = 0;
          },
          fail: (err) => {
            if (current) report(err);
          },
        });
        this.source = source;
        await source.start();
      } catch (err) {
        current = false;
        this.source = undefined;
        const delay = backoffWithJitterMs(++failures, this.backoff);
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'start' });
        this.ctx.metrics.restarts.inc(this.ctx.labels);
        this.ctx.log.error({ err, attempt: failures - 1, delayMs: delay }, 'source failed to start; retrying');
        await this.ctx.clock.sleep(delay, signal).catch(() => undefined);
        continue;
      }
      this.ctx.log.info('source started');
      const outcome = await Promise.race([failed, stopped]);
      // Stopping: `stop` stops the running instance.
      if (!outcome) return;
      current = false;
      const delay = backoffWithJitterMs(++failures, this.backoff);
      this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(outcome.err), stage: 'run' });
      this.ctx.metrics.restarts.inc(this.ctx.labels);
      const suppressed = this.rateLog.admit('source-failed');
      if (suppressed >= 0) {
        this.ctx.log.error({ err: outcome.err, attempt: failures - 1, delayMs: delay, ...(suppressed > 0 ? { suppressed } : {}) }, 'source failed; restarting it');
      }
      this.source = undefined;
      try {
        await source.stop(AbortSignal.timeout(FAILED_SOURCE_STOP_MS));
      } catch (err) {
        this.ctx.log.warn({ err }, 'failed source did not stop cleanly');
      }
      await this.ctx.clock.sleep(delay, signal).catch(() => undefined);
    }
  }

  private emit(batch: RecordBatch | EncodedBatch, signal?: AbortSignal): Promise<void> {
    if (this.processors.length === 0) return this.route(batch, signal);
    // Processors work on record objects: an encoded batch is decoded for them (and encoded again after).
    let b: RecordBatch | undefined = isEncodedBatch(batch) ? { table: batch.table, records: decodeJsonRecords(batch) } : batch;
    for (const p of this.processors) {
      b = p.process(b);
      if (!b) return Promise.resolve();
    }
    return this.route(b, signal);
  }

  async stop(signal: AbortSignal): Promise<void> {
    this.abort.abort(new Error('stopping'));
    await this.loop;
    try {
      await this.source?.stop(signal);
    } catch (err) {
      this.ctx.log.error({ err }, 'source did not stop cleanly');
    }
  }
}

/** Reads a destination's queue into its sink; acknowledges what the sink settles; restarts a failing sink. */
class DestinationRunner {
  private sink: Sink | undefined;
  private generation = 0;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  /** Entries handed to the sink and not yet settled, by sequence number, in queue order. */
  private readonly unsettled = new Map<number, QueueEntry>();
  /** Entries handed to more than one sink instance: their memory is never recycled. */
  private readonly shared = new Set<number>();
  private readonly rateLog = new RateLimitedLog();

  constructor(
    readonly config: DestinationConfig,
    private readonly def: SinkDefinition,
    private readonly options: unknown,
    readonly format: WireFormat,
    readonly queue: DiskQueue,
    readonly ctx: ComponentContext,
    private readonly backoff: { initialDelayMs: number; maxDelayMs: number },
    private readonly appendBackoff: BackoffOptions,
  ) {}

  takes(table: string): boolean {
    return this.config.tables === undefined || this.config.tables.includes(table);
  }

  start(): void {
    this.loop = this.run();
  }

  /**
   * Appends a batch of `records` records to this destination's queue. A failed write (an I/O error) is
   * retried for this queue alone, with capped backoff and jitter, until it succeeds, `signal` aborts or
   * `halt` does (the pipeline is stopping): a batch is appended once, never again into a queue that holds
   * it. A batch larger than the queue can ever hold is dropped for this destination only (counted,
   * logged). Rejects on abort and when the queue is closed.
   */
  async store(payload: Buffer, records: number, source: string, signal: AbortSignal | undefined, halt: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.queue.append(payload, records, signal);
        return;
      } catch (err) {
        if (isTooLarge(err)) {
          // A batch that can never fit: counted and logged, not retried forever.
          this.ctx.metrics.recordsDropped.inc({ ...this.ctx.labels, reason: 'too_large' }, records);
          this.ctx.log.error({ err, count: records, bytes: payload.length, source }, 'batch dropped: larger than the queue accepts');
          return;
        }
        if (signal?.aborted || halt.aborted || (isAgentError(err) && err.code === 'OMA_ERR_BUFFER_CLOSED')) throw err;
        const delayMs = backoffWithJitterMs(attempt, this.appendBackoff);
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'append' });
        const suppressed = this.rateLog.admit('append-failed');
        if (suppressed >= 0) {
          this.ctx.log.warn({ err, attempt, delayMs, count: records, source, ...(suppressed > 0 ? { suppressed } : {}) }, 'queue append failed; retrying');
        }
        await this.ctx.clock.sleep(delayMs, signal ? AbortSignal.any([signal, halt]) : halt);
      }
    }
  }

  status(now: number): DestinationStatus {
    const st = this.queue.stats();
    const h = this.sink?.healthcheck() ?? { healthy: false, detail: 'sink not running' };
    return {
      id: this.config.id,
      queueBytes: st.bytes,
      queueRecords: st.records,
      oldestAgeSec: st.oldestAppendedAt === undefined ? 0 : Math.max(0, Math.round((now - st.oldestAppendedAt) / 1000)),
      noSpace: st.noSpace,
      deviceFreeBytes: st.deviceFreeBytes,
      healthy: h.healthy,
      ...(h.detail ? { detail: h.detail } : {}),
    };
  }

  /**
   * The batch of a queue entry in this destination's wire format: a frame of that format as it is; a
   * frame of another format (the destination's type changed between runs) or an entry of an older
   * version is re-encoded. An entry that cannot be decoded is counted, logged and acknowledged.
   */
  private decode(entry: QueueEntry): EncodedBatch | undefined {
    try {
      if (isFrame(entry.payload)) {
        const frame = decodeFrame(entry.payload);
        if (frame.format === this.format.code) return frame.batch;
        const out = this.format.encodeRecords(frame.batch.table, decodeJsonRecords(frame.batch));
        countEncoding(this.ctx, frame.batch.table, out);
        return out.batch;
      }
      const legacy = decodeLegacyBatch(entry.payload);
      const out = this.format.encodeRecords(legacy.t, legacy.r);
      countEncoding(this.ctx, legacy.t, out);
      return out.batch;
    } catch (err) {
      this.ctx.metrics.recordsDropped.inc({ ...this.ctx.labels, reason: 'undecodable' }, entry.records);
      this.ctx.log.error({ err, seq: entry.seq, count: entry.records }, 'queued batch cannot be decoded; dropped');
      this.queue.ack(entry.seq);
      return undefined;
    }
  }

  private toBatch(entry: QueueEntry, generation: number): Batch | undefined {
    const decoded = this.decode(entry);
    if (!decoded) return undefined;
    let settled = false;
    return {
      table: decoded.table,
      count: decoded.count,
      data: decoded.data,
      ends: decoded.ends,
      ack: {
        settle: () => {
          // A settle from a sink instance that was replaced is stale: the entry was handed to the new one.
          if (settled || generation !== this.generation) return;
          settled = true;
          this.unsettled.delete(entry.seq);
          this.queue.ack(entry.seq);
          // The sink is done with the bytes; an entry a replaced sink instance also held may still be read by it.
          if (!this.shared.delete(entry.seq)) this.queue.recycle(entry.payload);
        },
      },
    };
  }

  private async startSink(): Promise<Sink> {
    for (let attempt = 0; ; attempt++) {
      this.abort.signal.throwIfAborted();
      try {
        const sink = this.def.create(this.options, this.ctx);
        await sink.start();
        return sink;
      } catch (err) {
        const delay = backoffWithJitterMs(attempt + 1, this.backoff);
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'start' });
        this.ctx.log.error({ err, attempt, delayMs: delay }, 'sink failed to start; retrying');
        await this.ctx.clock.sleep(delay, this.abort.signal);
      }
    }
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    for (let failures = 0; !signal.aborted; ) {
      try {
        this.generation++;
        const generation = this.generation;
        this.sink = await this.startSink();
        // Entries the previous sink instance held but never settled go to the new one first, in order.
        for (const entry of [...this.unsettled.values()]) {
          this.shared.add(entry.seq);
          const b = this.toBatch(entry, generation);
          if (b) await this.sink.write(b, signal);
        }
        for (;;) {
          const entry = await this.queue.read(signal);
          if (!entry) return; // queue closed
          this.unsettled.set(entry.seq, entry);
          const b = this.toBatch(entry, generation);
          if (b) await this.sink.write(b, signal);
          // Nothing newer written yet: the sink need not wait to fill its requests.
          if (this.queue.stats().nextSeq === entry.seq + 1) this.sink.drained?.();
          failures = 0;
        }
      } catch (err) {
        if (signal.aborted) return;
        const delay = backoffWithJitterMs(++failures, this.backoff);
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'write' });
        this.ctx.metrics.restarts.inc(this.ctx.labels);
        if (this.rateLog.admit('sink-failed') >= 0) this.ctx.log.error({ err, delayMs: delay }, 'sink failed; restarting it');
        const old = this.sink;
        this.sink = undefined;
        await old?.stop(AbortSignal.timeout(1000)).catch(() => undefined);
        await this.ctx.clock.sleep(delay, signal).catch(() => undefined);
      }
    }
  }

  async stop(deadline: AbortSignal): Promise<void> {
    // Stop reading first; the sink then gets until the deadline to deliver what it holds.
    this.abort.abort(new Error('stopping'));
    await this.loop?.catch(() => undefined);
    try {
      await this.sink?.stop(deadline);
    } catch (err) {
      this.ctx.log.warn({ err }, 'sink did not stop cleanly');
    }
  }
}
