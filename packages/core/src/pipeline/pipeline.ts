import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openDiskQueue } from '../buffer/index.js';
import type { DiskQueue, QueueEntry } from '../buffer/types.js';
import { FileCheckpointStore } from '../checkpoint/checkpoint-store.js';
import type { AgentConfig, DestinationConfig, SourceConfig } from '../config/agent-config.js';
import { errorType, isAgentError } from '../errors.js';
import type { LogRecord, RecordBatch } from '../model/record.js';
import { systemClock, type Clock } from '../ports/clock.js';
import type { HostDescription } from '../ports/host-info.js';
import { RateLimitedLog, type Logger } from '../telemetry/logger.js';
import type { MetricsRegistry } from '../telemetry/metrics.js';
import { agentMetrics, type AgentMetrics } from '../telemetry/names.js';
import { backoffWithJitterMs } from '../http/backoff.js';
import type { Batch } from './batch.js';
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
}

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

/** What a queued batch looks like on disk: the table and its records, as JSON. */
interface QueuedBatch {
  readonly t: string;
  readonly r: LogRecord[];
}

export function encodeBatch(batch: RecordBatch): Buffer {
  return Buffer.from(JSON.stringify({ t: batch.table, r: batch.records }), 'utf8');
}

export function decodeBatch(payload: Buffer): QueuedBatch {
  const v = JSON.parse(payload.toString('utf8')) as unknown;
  if (typeof v !== 'object' || v === null || typeof (v as QueuedBatch).t !== 'string' || !Array.isArray((v as QueuedBatch).r)) {
    throw new Error('queued payload is not a batch');
  }
  return v as QueuedBatch;
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
    const backoff = this.opts.restartBackoff ?? { initialDelayMs: 1000, maxDelayMs: 60_000 };
    for (const d of config.destinations) {
      const resolved = this.opts.registry.sink(d.type) ? { type: d.type, options: d.options } : this.opts.resolveDestination?.(d);
      const def = resolved && this.opts.registry.sink(resolved.type);
      if (!resolved || !def) throw new Error(`destination ${d.id}: no sink for type ${d.type}`);
      const stateDir = join(config.dataDir, 'state', 'destinations', d.id);
      await mkdir(stateDir, { recursive: true });
      const ctx = this.context(d.id, resolved.type, 'sink', stateDir);
      const queue = await openDiskQueue({
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
        recordsOfLegacyPayload: (payload) => decodeBatch(payload).r.length,
      });
      const r = queue.recovery;
      if (r.replayed > 0 || r.corrupt > 0 || r.badSegments > 0) {
        ctx.log.info(
          { count: r.replayed, corrupt: r.corrupt, corruptEntries: r.corruptEntries, corruptEstimated: r.corruptEstimated, badSegments: r.badSegments },
          'queue recovered',
        );
      }
      this.destinations.push(new DestinationRunner(d, def, resolved.options, queue, ctx, backoff));
    }
    for (const runner of this.destinations) runner.start();

    for (const s of config.sources) {
      const def = this.opts.registry.source(s.type);
      if (!def) throw new Error(`source ${s.id}: unknown type ${s.type}`);
      const stateDir = join(config.dataDir, 'state', 'sources', s.id);
      await mkdir(stateDir, { recursive: true });
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

  /** Puts a source's batch (after its processors) into the queue of every destination that takes its table. */
  private async route(source: SourceConfig, ctx: ComponentContext, batch: RecordBatch, signal?: AbortSignal): Promise<void> {
    if (this.stopping) throw new Error('pipeline is stopping');
    if (batch.records.length === 0) return;
    const targets = this.destinations.filter((d) => d.takes(batch.table));
    this.metrics.recordsIn.inc({ ...ctx.labels, table: batch.table }, batch.records.length);
    if (targets.length === 0) {
      this.metrics.recordsDropped.inc({ ...ctx.labels, reason: 'no_destination' }, batch.records.length);
      return;
    }
    const payload = encodeBatch(batch);
    await Promise.all(
      targets.map(async (d) => {
        try {
          await d.queue.append(payload, batch.records.length, signal);
        } catch (err) {
          if (isAgentError(err) && err.code === 'OMA_ERR_BUFFER_TOO_LARGE') {
            // A batch that can never fit: counted and logged, not retried forever.
            this.metrics.recordsDropped.inc({ ...d.ctx.labels, reason: 'too_large' }, batch.records.length);
            d.ctx.log.error({ err, count: batch.records.length, bytes: payload.length, source: source.id }, 'batch dropped: larger than the queue accepts');
            return;
          }
          throw err;
        }
      }),
    );
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
    await Promise.allSettled(this.sources.map((s) => s.stop(AbortSignal.timeout(Math.max(1, deadlineMs / 2)))));
    await Promise.allSettled(this.destinations.map((d) => d.queue.flush()));
    await Promise.allSettled(this.destinations.map((d) => d.stop(deadline)));
    await Promise.allSettled(this.destinations.map((d) => d.queue.close()));
    this.opts.log.info({ durationMs: this.clock.now() - started }, 'pipeline stopped');
  }
}

/** Runs one source; restarts it with backoff when it fails to start. */
class SourceRunner {
  private source: Source | undefined;
  private readonly abort = new AbortController();
  private starting: Promise<void> | undefined;

  constructor(
    private readonly config: SourceConfig,
    private readonly def: SourceDefinition,
    private readonly ctx: ComponentContext,
    private readonly processors: readonly Processor[],
    private readonly route: (batch: RecordBatch, signal?: AbortSignal) => Promise<void>,
    private readonly backoff: { initialDelayMs: number; maxDelayMs: number },
  ) {}

  start(): void {
    this.starting = this.run();
  }

  private async run(): Promise<void> {
    for (let attempt = 0; !this.abort.signal.aborted; attempt++) {
      try {
        const source = this.def.create(this.config.options, {
          ...this.ctx,
          checkpoints: new FileCheckpointStore(this.ctx.stateDir),
          emit: (batch, signal) => this.emit(batch, signal),
        });
        this.source = source;
        await source.start();
        this.ctx.log.info('source started');
        return;
      } catch (err) {
        this.source = undefined;
        const delay = backoffWithJitterMs(attempt + 1, this.backoff);
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'start' });
        this.ctx.metrics.restarts.inc(this.ctx.labels);
        this.ctx.log.error({ err, attempt, delayMs: delay }, 'source failed to start; retrying');
        await this.ctx.clock.sleep(delay, this.abort.signal).catch(() => undefined);
      }
    }
  }

  private emit(batch: RecordBatch, signal?: AbortSignal): Promise<void> {
    let b: RecordBatch | undefined = batch;
    for (const p of this.processors) {
      b = p.process(b);
      if (!b) return Promise.resolve();
    }
    return this.route(b, signal);
  }

  async stop(signal: AbortSignal): Promise<void> {
    this.abort.abort(new Error('stopping'));
    await this.starting;
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
  private readonly rateLog = new RateLimitedLog();

  constructor(
    readonly config: DestinationConfig,
    private readonly def: SinkDefinition,
    private readonly options: unknown,
    readonly queue: DiskQueue,
    readonly ctx: ComponentContext,
    private readonly backoff: { initialDelayMs: number; maxDelayMs: number },
  ) {}

  takes(table: string): boolean {
    return this.config.tables === undefined || this.config.tables.includes(table);
  }

  start(): void {
    this.loop = this.run();
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

  private toBatch(entry: QueueEntry, generation: number): Batch | undefined {
    let decoded: QueuedBatch;
    try {
      decoded = decodeBatch(entry.payload);
    } catch (err) {
      this.ctx.metrics.recordsDropped.inc({ ...this.ctx.labels, reason: 'undecodable' }, entry.records);
      this.ctx.log.error({ err, seq: entry.seq, count: entry.records }, 'queued batch cannot be decoded; dropped');
      this.queue.ack(entry.seq);
      return undefined;
    }
    let settled = false;
    return {
      table: decoded.t,
      records: decoded.r,
      bytes: entry.payload.length,
      ack: {
        settle: () => {
          // A settle from a sink instance that was replaced is stale: the entry was handed to the new one.
          if (settled || generation !== this.generation) return;
          settled = true;
          this.unsettled.delete(entry.seq);
          this.queue.ack(entry.seq);
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
          const b = this.toBatch(entry, generation);
          if (b) await this.sink.write(b, signal);
        }
        for (;;) {
          const entry = await this.queue.read(signal);
          if (!entry) return; // queue closed
          this.unsettled.set(entry.seq, entry);
          const b = this.toBatch(entry, generation);
          if (b) await this.sink.write(b, signal);
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
