import { join } from 'node:path';
import { AgentError, errorType } from '../../errors.js';
import { abortReason } from '../../http/abort.js';
import type { BackoffOptions } from '../../http/backoff.js';
import { errorCode } from '../../http/classify.js';
import type { Batch, Settlement } from '../../pipeline/batch.js';
import type { ComponentContext, SinkHealth } from '../../pipeline/component.js';
import { RateLimitedLog } from '../../telemetry/logger.js';
import { recordStart, recordTexts, sliceBatch, type EncodedBatch } from '../../wire/encoded-batch.js';
import { makeRequest, splitInHalves, Lane, type BatchTracker, type OutgoingRequest, type Piece, type RequestLimits } from './batcher.js';
import type { DeadLetterConfig, RetryConfig } from './config.js';
import { DeadLetterWriter } from './dead-letter.js';
import { isConfigurationCause, retryDelayMs, type RetryCause } from './retry.js';
import { parseErrorBody } from './service-error.js';

/** A failed attempt, to be repeated after a delay that depends on its cause. */
export interface RetryOutcome<C extends RetryCause> {
  readonly kind: 'retry';
  readonly cause: C;
  readonly err: Error;
  readonly status?: number;
  /** The service's error code, when its answer names one. */
  readonly code?: string;
  readonly requestId?: string;
  /** Delay the service asked for (Retry-After): the request is not sent earlier. */
  readonly retryAfterMs?: number;
  /** The service's `Date` header (a 403 of a signed request: tells clock skew apart from a wrong key). */
  readonly serviceDate?: string;
}

/** What one attempt at a request came to. */
export type SendOutcome<C extends RetryCause> =
  | { readonly kind: 'delivered'; readonly status: number }
  /** Too large for the service: split in halves; a single record is shrunk if it can be, else dead-lettered. */
  | { readonly kind: 'too_large'; readonly status?: number; readonly requestId?: string }
  /** The records will never be accepted as they are: dead-lettered. */
  | {
      readonly kind: 'rejected';
      readonly reason: string;
      readonly status: number;
      readonly code?: string;
      readonly requestId?: string;
      readonly body: string;
    }
  | RetryOutcome<C>
  /** Stopping: the request was abandoned unsettled. */
  | { readonly kind: 'aborted' };

/** What is specific to one API: how records are encoded, how a request is sent and what an answer means. */
export interface DeliveryApi<C extends RetryCause> {
  /** The stream (or Log-Type) records of `table` go to; asked once per table. */
  streamFor(table: string): string;
  /**
   * Most bytes of the JSON array of one request as the API sees it now (a sink that compresses packs
   * by its observed compression ratio); at most `config.maxRequestBytes`. Default: that.
   */
  requestBytes?(): number;
  /** Builds and posts one request and classifies the answer; turns every failure into an outcome. */
  send(lane: Lane, req: OutgoingRequest, signal: AbortSignal): Promise<SendOutcome<C>>;
  /** `code: message` of an error body, for log lines. */
  summarizeError(body: string | undefined): string | undefined;
  /** A reason to reject every record of the lane at once (a table that makes no valid destination name), if any. */
  refuse?(lane: Lane): string | undefined;
  /** A smaller encoding of a single record the service found too large (long fields cut), if there is one. */
  shrink?(record: EncodedBatch): EncodedBatch | undefined;
  /** More fields for the log line of a failed attempt. */
  retryLogFields?(outcome: RetryOutcome<C>, now: number): Record<string, unknown>;
  /** A request is done for good (delivered, or its records rejected): its body may be reused. Optional. */
  released?(req: OutgoingRequest): void;
  /** Releases connections and credentials once the sink stopped. */
  close(): Promise<unknown>;
}

/** The sink's log lines and health texts, constant strings naming its API. */
export interface DeliveryMessages<C extends RetryCause> {
  /** What each cause means: the error line of configuration problems and the health detail. */
  readonly failures: Readonly<Record<C | 'transient', string>>;
  /** Warning of a failed attempt that is retried. */
  readonly retrying: string;
  /** A table whose requests failed gets through again. */
  readonly recovered: string;
  /** Records the service refused were dead-lettered. */
  readonly rejected: string;
  readonly stopped: string;
  /** Unexpected errors of the engine itself (a bug): handling an outcome, scheduling, a background task. */
  readonly handlingFailed: string;
  readonly schedulingFailed: string;
  readonly taskFailed: string;
}

/** The options of a sink the engine reads (the same keys in every Azure sink's config). */
export interface DeliveryConfig {
  readonly maxConcurrency: number;
  readonly maxRequestBytes: number;
  readonly flushIntervalMs: number;
  readonly retry: RetryConfig;
  readonly deadLetter: DeadLetterConfig;
}

export interface LaneDeliveryOptions<C extends RetryCause> {
  readonly config: DeliveryConfig;
  /** Endpoint named in the log lines of failures and recoveries. */
  readonly endpoint: string;
  /** Key of a lane's stream in log lines: `stream` (a DCR stream) or `logType`. */
  readonly streamKey: 'stream' | 'logType';
  readonly messages: DeliveryMessages<C>;
  /** Jitter source, [0, 1). */
  readonly random: () => number;
}

/**
 * Smallest request sent before the flush interval when the queue is drained: what the official SDKs
 * put in one call (docs/protocol-notes.md#logs-ingestion-limits), so that no call is smaller than theirs.
 */
const EAGER_REQUEST_BYTES = 1_000_000;
/** How long the queue must stay drained before requests go out unfilled. */
const EAGER_DELAY_MS = 50;

/** Entry point of a component's own timers and callbacks: must never throw. */
type Task = Promise<void>;

type State = 'created' | 'running' | 'stopping' | 'stopped';

/**
 * The delivery engine of the Azure sinks; each sink adds only its API (`DeliveryApi`).
 *
 * Records of several batches of one table are coalesced into requests of at most `maxRequestBytes` of
 * JSON (a `Lane` per table); each batch is settled once all its records were accepted (`delivered`) or,
 * if any was rejected for good and dead-lettered, `rejected`. Failed requests are retried forever with
 * capped backoff; a table whose oldest request waits for a retry sends nothing newer meanwhile, and a 429
 * holds back every table. Memory is bounded: `write` resolves only while the records held stay under
 * about (maxConcurrency + 1) requests' worth.
 */
export class LaneDelivery<C extends RetryCause> {
  private readonly lanes = new Map<string, Lane>();
  private readonly laneList: Lane[] = [];
  private rr = 0;
  private inFlight = 0;
  /** JSON bytes of records taken and not yet resolved. */
  private heldBytes = 0;
  /** Most JSON bytes of one request: the API's current figure, lowered for good by the service's 413s. */
  private readonly limits: RequestLimits;
  /** Half of the smallest request the service refused as too large (413): no request is cut larger. */
  private serviceCap = Infinity;
  /** Records taken and not yet resolved (delivered or rejected). */
  private heldRecords = 0;
  private readonly capacityWaiters = new Set<() => void>();
  private readonly idleWaiters = new Set<() => void>();
  /** No request of any table starts before this (429: the destination is throttled as a whole). */
  private throttledUntil = 0;
  private state: State = 'created';
  private stopped: Promise<void> | undefined;
  /** Aborted when stopping runs out of time: cancels requests, token fetches and timers. */
  private readonly lifetime = new AbortController();
  private wake: { at: number; ac: AbortController } | undefined;
  /** Set while the queue is drained and EAGER_DELAY_MS has not passed yet. */
  private eagerTimer: AbortController | undefined;
  /** When the queue last let whatever was pending go out unfilled (see `drained`). */
  private lastUnfilledAt = -Infinity;
  private readonly tasks = new Set<Task>();
  /** Tables whose last attempt failed and waits for a retry, with what went wrong. */
  private readonly failing = new Map<string, { cause: C; detail: string }>();
  private readonly deadLetter: DeadLetterWriter;
  private readonly rateLog: RateLimitedLog;
  private readonly policy: BackoffOptions;
  private readonly config: DeliveryConfig;
  private readonly messages: DeliveryMessages<C>;

  constructor(
    private readonly ctx: ComponentContext,
    private readonly opts: LaneDeliveryOptions<C>,
    private readonly api: DeliveryApi<C>,
  ) {
    this.config = opts.config;
    this.messages = opts.messages;
    this.limits = { requestBytes: this.config.maxRequestBytes, eagerBytes: undefined };
    this.policy = { initialDelayMs: this.config.retry.initialDelayMs, maxDelayMs: this.config.retry.maxDelayMs, jitter: 'equal' };
    this.rateLog = new RateLimitedLog(10_000, () => ctx.clock.now());
    this.deadLetter = new DeadLetterWriter(join(ctx.stateDir, 'dead-letter'), this.config.deadLetter.maxBytes, ctx.log, () =>
      ctx.clock.now(),
    );
  }

  /** Starts once: `open` sets up the sink's connections (and may throw), then batches are taken. */
  start(open: () => void): Promise<void> {
    if (this.state !== 'created') return Promise.reject(new AgentError('OMA_ERR_COMPONENT', `sink is ${this.state}; it starts only once`));
    open();
    this.state = 'running';
    return Promise.resolve();
  }

  /** Takes a batch; resolves once the records held leave room for more (backpressure). */
  async write(batch: Batch, signal: AbortSignal): Promise<void> {
    if (this.state !== 'running') throw new AgentError('OMA_ERR_COMPONENT', `sink is ${this.state}; it takes no batches`);
    signal.throwIfAborted();
    this.cancelEager();
    this.take(batch);
    await this.waitForCapacity(signal);
  }

  /**
   * The queue has nothing more to read right now. If nothing new comes within EAGER_DELAY_MS, what is
   * pending goes out without waiting for the flush interval: all of it the first time in a flush
   * interval (the end of a burst goes out at once), and after that only tables whose pending records make
   * a request of at least EAGER_REQUEST_BYTES of JSON. A steady stream still fills its requests, and a
   * trickle of records makes at most about one request per flush interval, as it would without this.
   */
  drained(): void {
    if (this.state !== 'running' || this.eagerTimer) return;
    // Only once nothing new came for a moment: while records stream in, requests are filled.
    const ac = new AbortController();
    this.eagerTimer = ac;
    this.ctx.clock.sleep(EAGER_DELAY_MS, ac.signal).then(
      () => {
        if (this.eagerTimer !== ac) return;
        this.eagerTimer = undefined;
        const now = this.ctx.clock.now();
        if (now - this.lastUnfilledAt >= this.config.flushIntervalMs) {
          // The first unfilled send of a flush interval takes whatever is pending (the end of a burst).
          this.lastUnfilledAt = now;
          this.limits.eagerBytes = 0;
        } else {
          this.limits.eagerBytes = Math.min(EAGER_REQUEST_BYTES, this.limits.requestBytes);
        }
        this.pump();
      },
      () => undefined, // a batch came: cancelled
    );
  }

  private cancelEager(): void {
    this.eagerTimer?.abort();
    this.eagerTimer = undefined;
    this.limits.eagerBytes = undefined;
  }

  /** Sends what is held until `signal` aborts, then abandons the rest (it stays queued) and closes. */
  stop(signal: AbortSignal): Promise<void> {
    this.stopped ??= this.shutdown(signal);
    return this.stopped;
  }

  healthcheck(): SinkHealth {
    if (this.state === 'stopped') return { healthy: false, detail: 'stopped' };
    const first = this.failing.entries().next();
    if (!first.done) {
      const [table, f] = first.value;
      const others = this.failing.size - 1;
      return { healthy: false, detail: `${table}: ${f.detail}${others > 0 ? ` (and ${others} more tables)` : ''}` };
    }
    return { healthy: true };
  }

  /** Counts one send of `req` (every send after the first is a retry); call right before posting it. */
  countSend(lane: Lane, req: OutgoingRequest): void {
    if (req.sends > 0) this.ctx.metrics.retries.inc({ ...this.ctx.labels, table: lane.table });
    req.sends++;
  }

  private async shutdown(signal: AbortSignal): Promise<void> {
    if (this.state === 'created') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    this.releaseCapacityWaiters();
    this.pump();
    const finished = await this.untilIdle(signal);
    if (!finished) {
      this.ctx.log.warn(
        { count: this.heldRecords, bytes: this.heldBytes },
        'stop deadline reached; undelivered records stay queued for the next start',
      );
    }
    this.lifetime.abort(new AgentError('OMA_ERR_ABORTED', 'sink stopped'));
    this.cancelWake();
    this.cancelEager();
    await Promise.allSettled([...this.tasks]);
    await Promise.allSettled([this.api.close()]);
    this.state = 'stopped';
    this.ctx.log.info({}, this.messages.stopped);
  }

  // ---- taking batches --------------------------------------------------------------------------

  private lane(table: string): Lane {
    let lane = this.lanes.get(table);
    if (!lane) {
      lane = new Lane(table, this.api.streamFor(table), { limits: this.limits, flushIntervalMs: this.config.flushIntervalMs });
      this.lanes.set(table, lane);
      this.laneList.push(lane);
    }
    return lane;
  }

  /**
   * Bytes held (taken and not yet resolved) above which `write` waits: room for the requests in flight
   * and one more being filled, at the current request size.
   */
  private get maxHeldBytes(): number {
    return (this.config.maxConcurrency + 1) * this.refreshLimits();
  }

  /** The current most JSON bytes of a request. */
  private refreshLimits(): number {
    const api = this.api.requestBytes?.() ?? this.config.maxRequestBytes;
    this.limits.requestBytes = Math.max(1024, Math.min(api, this.config.maxRequestBytes, this.serviceCap));
    return this.limits.requestBytes;
  }

  private take(batch: Batch): void {
    const tracker: BatchTracker = { ack: batch.ack, table: batch.table, remaining: batch.count, failed: false };
    if (tracker.remaining === 0) {
      this.settle(tracker, 'delivered');
      return;
    }
    const lane = this.lane(batch.table);
    const now = this.ctx.clock.now();
    const encoded: EncodedBatch = { table: batch.table, count: batch.count, data: batch.data, ends: batch.ends };
    this.heldBytes += encoded.data.length;
    this.heldRecords += encoded.count;
    const { fit, oversize } = this.separateOversize(encoded);
    const pieces: Piece[] = fit.map((b) => ({ batch: b, at: now, truncated: false, tracker }));
    const big: Piece[] = oversize.map((b) => ({ batch: b, at: now, truncated: false, tracker }));
    const refusal = this.api.refuse?.(lane);
    if (refusal !== undefined) {
      this.track(this.reject(lane, [...pieces, ...big], { reason: refusal }));
    } else {
      for (const p of pieces) lane.add(p);
      if (big.length > 0) this.track(this.reject(lane, big, { reason: 'record_too_large' }));
    }
    this.pump();
  }

  /**
   * Runs of records that fit in a request (`[record]` at most maxRequestBytes), and the records that
   * never can, each on its own. One pass over the record offsets; no copy.
   */
  private separateOversize(batch: EncodedBatch): { fit: EncodedBatch[]; oversize: EncodedBatch[] } {
    const max = this.config.maxRequestBytes - 2;
    if (batch.data.length <= max) return { fit: [batch], oversize: [] };
    const fit: EncodedBatch[] = [];
    const oversize: EncodedBatch[] = [];
    let runStart = 0;
    for (let i = 0; i < batch.count; i++) {
      if (batch.ends[i]! - recordStart(batch.ends, i) <= max) continue;
      if (i > runStart) fit.push(sliceBatch(batch, runStart, i));
      oversize.push(sliceBatch(batch, i, i + 1));
      runStart = i + 1;
    }
    if (runStart < batch.count) fit.push(sliceBatch(batch, runStart, batch.count));
    return { fit, oversize };
  }

  private async waitForCapacity(signal: AbortSignal): Promise<void> {
    while (this.heldBytes >= this.maxHeldBytes && this.state === 'running') {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          this.capacityWaiters.delete(waiter);
          reject(abortReason(signal));
        };
        const waiter = (): void => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        if (signal.aborted) {
          reject(abortReason(signal));
          return;
        }
        signal.addEventListener('abort', onAbort, { once: true });
        this.capacityWaiters.add(waiter);
        // A waiting writer sends partial requests at once rather than after the flush interval.
        this.pump();
      });
    }
  }

  private releaseCapacityWaiters(): void {
    const waiters = [...this.capacityWaiters];
    this.capacityWaiters.clear();
    for (const w of waiters) w();
  }

  private untilIdle(signal: AbortSignal): Promise<boolean> {
    if (this.heldRecords === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const onAbort = (): void => {
        this.idleWaiters.delete(done);
        resolve(false);
      };
      const done = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      };
      if (signal.aborted) {
        resolve(false);
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.idleWaiters.add(done);
    });
  }

  // ---- resolving records and settling batches ---------------------------------------------------

  private resolvePieces(pieces: readonly Piece[], delivered: boolean): void {
    for (const p of pieces) {
      this.heldBytes -= p.batch.data.length;
      this.heldRecords -= p.batch.count;
      this.resolveRecords(p.tracker, p.batch.count, delivered);
    }
    if (this.heldBytes < this.maxHeldBytes) this.releaseCapacityWaiters();
    if (this.heldRecords === 0 && this.idleWaiters.size > 0) {
      const waiters = [...this.idleWaiters];
      this.idleWaiters.clear();
      for (const w of waiters) w();
    }
  }

  private resolveRecords(tracker: BatchTracker, n: number, delivered: boolean): void {
    if (!delivered) tracker.failed = true;
    tracker.remaining -= n;
    if (tracker.remaining === 0) this.settle(tracker, tracker.failed ? 'rejected' : 'delivered');
  }

  private settle(tracker: BatchTracker, outcome: Settlement): void {
    try {
      tracker.ack.settle(outcome);
    } catch (err) {
      this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'settle' });
      this.ctx.log.error({ err, table: tracker.table, outcome }, 'settling a batch failed');
    }
  }

  private countDrop(table: string, reason: string, n: number): void {
    this.ctx.metrics.recordsDropped.inc({ ...this.ctx.labels, table, reason }, n);
  }

  // ---- scheduling ------------------------------------------------------------------------------

  /** Starts every request that may start now and arms the timer for the next one. Never throws. */
  private pump(): void {
    if (this.state === 'created' || this.state === 'stopped' || this.lifetime.signal.aborted) return;
    try {
      const now = this.ctx.clock.now();
      this.refreshLimits();
      const force = this.state === 'stopping' || this.capacityWaiters.size > 0;
      if (now >= this.throttledUntil) {
        while (this.inFlight < this.config.maxConcurrency) {
          const next = this.nextRequest(now, force);
          if (!next) break;
          this.inFlight++;
          this.track(this.execute(next.lane, next.req));
        }
      }
      this.armWake(now, force);
    } catch (err) {
      this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'schedule' });
      this.ctx.log.error({ err }, this.messages.schedulingFailed);
    }
  }

  private nextRequest(now: number, force: boolean): { lane: Lane; req: OutgoingRequest } | undefined {
    const n = this.laneList.length;
    for (let i = 0; i < n; i++) {
      const lane = this.laneList[(this.rr + i) % n]!;
      const req = lane.next(now, force);
      if (req) {
        this.rr = (this.rr + i + 1) % n;
        return { lane, req };
      }
    }
    return undefined;
  }

  private armWake(now: number, force: boolean): void {
    let at = Infinity;
    if (now < this.throttledUntil) {
      at = this.throttledUntil;
    } else if (this.inFlight < this.config.maxConcurrency) {
      for (const lane of this.laneList) {
        const due = lane.nextDueAt(now, force);
        if (due !== undefined && due > now && due < at) at = due;
      }
    }
    if (at === Infinity) {
      this.cancelWake();
      return;
    }
    if (this.wake && this.wake.at <= at) return;
    this.cancelWake();
    const ac = new AbortController();
    const wake = { at, ac };
    this.wake = wake;
    this.ctx.clock.sleep(at - now, ac.signal).then(
      () => {
        if (this.wake === wake) this.wake = undefined;
        this.pump();
      },
      () => undefined, // cancelled
    );
  }

  private cancelWake(): void {
    this.wake?.ac.abort();
    this.wake = undefined;
  }

  /** Keeps a background task so that `stop` can wait for it. */
  private track(task: Task): void {
    const tracked: Task = task
      .catch((err: unknown) => {
        this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'send' });
        this.ctx.log.error({ err }, this.messages.taskFailed);
      })
      .finally(() => this.tasks.delete(tracked));
    this.tasks.add(tracked);
  }

  // ---- one request -----------------------------------------------------------------------------

  private async execute(lane: Lane, req: OutgoingRequest): Task {
    if (req.records > 1 && req.jsonBytes > this.serviceCap) {
      // Formed before the service refused a request this large: split before sending it.
      this.inFlight--;
      lane.replace(req, splitInHalves(req));
      this.pump();
      return;
    }
    let outcome: SendOutcome<C>;
    try {
      outcome = this.lifetime.signal.aborted ? { kind: 'aborted' } : await this.api.send(lane, req, this.lifetime.signal);
    } catch (err) {
      // Not expected: send() turns failures into outcomes. Keep the data and retry.
      // Every API has the `transient` cause (DeliveryMessages.failures requires its text).
      outcome = { kind: 'retry', cause: 'transient' as C, err: err instanceof Error ? err : new Error(String(err)) };
    }
    this.inFlight--;
    try {
      this.apply(lane, req, outcome);
    } catch (err) {
      this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'send' });
      this.ctx.log.error({ err, table: lane.table }, this.messages.handlingFailed);
    }
    this.pump();
  }

  private apply(lane: Lane, req: OutgoingRequest, outcome: SendOutcome<C>): void {
    switch (outcome.kind) {
      case 'delivered': {
        lane.done(req);
        this.ctx.metrics.recordsOut.inc({ ...this.ctx.labels, table: lane.table }, req.records);
        this.ctx.metrics.sentBytes.inc({ ...this.ctx.labels, encoding: 'json' }, req.jsonBytes);
        if (req.body) this.ctx.metrics.sentBytes.inc({ ...this.ctx.labels, encoding: 'wire' }, req.body.length);
        this.api.released?.(req);
        req.body = undefined;
        this.ctx.log.debug(
          { table: lane.table, [this.opts.streamKey]: lane.stream, count: req.records, bytes: req.jsonBytes },
          'records delivered',
        );
        this.recovered(lane);
        this.resolvePieces(req.pieces, true);
        return;
      }
      case 'too_large':
        this.tooLarge(lane, req, outcome);
        return;
      case 'rejected':
        lane.done(req);
        this.api.released?.(req);
        req.body = undefined;
        this.recovered(lane);
        this.track(this.reject(lane, req.pieces, outcome));
        return;
      case 'retry':
        this.retryLater(lane, req, outcome);
        return;
      case 'aborted':
        lane.abandon(req);
        return;
    }
  }

  private tooLarge(lane: Lane, req: OutgoingRequest, outcome: SendOutcome<C> & { kind: 'too_large' }): void {
    if (outcome.status !== undefined && req.records > 1) {
      this.ctx.metrics.requestsSplit.inc({ ...this.ctx.labels, reason: 'service_413' });
      this.lowerCap(lane, req, outcome.status);
    }
    if (req.records > 1) {
      this.ctx.log.debug({ table: lane.table, count: req.records, status: outcome.status }, 'request too large; split in halves');
      lane.replace(req, splitInHalves(req));
      return;
    }
    const piece = req.pieces[0]!;
    const shrunk = piece.truncated ? undefined : this.api.shrink?.(piece.batch);
    if (shrunk) {
      this.heldBytes += shrunk.data.length - piece.batch.data.length;
      piece.batch = shrunk;
      piece.truncated = true;
      this.countDrop(lane.table, 'field_truncated', 1);
      lane.replace(req, [makeRequest(req.order, [piece])]);
      return;
    }
    lane.done(req);
    this.track(this.reject(lane, [piece], { reason: 'record_too_large', status: outcome.status, requestId: outcome.requestId }));
  }

  /**
   * The service refused a request as too large: no request of this destination is cut larger than half
   * of it from now on (a service stricter than expected costs throughput, never data). Logged the first
   * time, and at debug level after.
   */
  private lowerCap(lane: Lane, req: OutgoingRequest, status: number): void {
    const cap = Math.max(1024, Math.floor(req.jsonBytes / 2));
    if (cap >= this.serviceCap) return;
    const first = this.serviceCap === Infinity;
    this.serviceCap = cap;
    this.refreshLimits();
    const fields = { table: lane.table, status, bytes: req.jsonBytes, wireBytes: req.body?.length, maxRequestBytes: this.limits.requestBytes };
    if (first) this.ctx.log.warn(fields, 'the service refused a request as too large; requests to this destination are made smaller from now on');
    else this.ctx.log.debug(fields, 'request size cap lowered again');
  }

  private retryLater(lane: Lane, req: OutgoingRequest, outcome: RetryOutcome<C>): void {
    const now = this.ctx.clock.now();
    const attempt = lane.failures + 1;
    const delayMs = retryDelayMs(outcome.cause, attempt, this.policy, outcome.retryAfterMs, this.opts.random);
    lane.retryLater(req, now, delayMs);
    if (outcome.status === 429) this.throttledUntil = Math.max(this.throttledUntil, now + delayMs);
    this.failing.set(lane.table, { cause: outcome.cause, detail: this.failureDetail(outcome) });
    this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorLabel(outcome), stage: outcome.cause === 'auth' ? 'auth' : 'send' });
    const suppressed = this.rateLog.admit(`retry:${lane.table}:${outcome.cause}`);
    if (suppressed < 0) return;
    const fields = {
      err: outcome.err,
      table: lane.table,
      [this.opts.streamKey]: lane.stream,
      endpoint: this.opts.endpoint,
      cause: outcome.cause,
      status: outcome.status,
      code: outcome.code,
      requestId: outcome.requestId,
      attempt,
      delayMs,
      count: req.records,
      ...(suppressed > 0 ? { suppressed } : {}),
      ...this.api.retryLogFields?.(outcome, now),
    };
    if (isConfigurationCause(outcome.cause) || isAuthConfigurationProblem(outcome)) {
      this.ctx.log.error(fields, this.messages.failures[outcome.cause]);
      return;
    }
    this.ctx.log.warn(fields, this.messages.retrying);
  }

  /** One line for `healthcheck()`: the status (and error code) or error, and what it means. */
  private failureDetail(outcome: RetryOutcome<C>): string {
    const meaning = this.messages.failures[outcome.cause];
    if (outcome.status !== undefined) return `HTTP ${outcome.status}${outcome.code !== undefined ? ` ${outcome.code}` : ''}: ${meaning}`;
    const why = outcome.err.message.length > 300 ? `${outcome.err.message.slice(0, 300)}…` : outcome.err.message;
    return `${meaning}: ${why}`;
  }

  /** The service answered a request of the table: it is no longer failing. */
  private recovered(lane: Lane): void {
    const f = this.failing.get(lane.table);
    if (!f) return;
    this.failing.delete(lane.table);
    this.ctx.log.info({ endpoint: this.opts.endpoint, table: lane.table, cause: f.cause }, this.messages.recovered);
  }

  /** Dead-letters records that can never be delivered, counts them and settles their batches. */
  private async reject(
    lane: Lane,
    pieces: readonly Piece[],
    info: { reason: string; status?: number; code?: string; requestId?: string; body?: string },
  ): Task {
    let file: string | undefined;
    try {
      file = await this.deadLetter.write({
        table: lane.table,
        stream: lane.stream,
        reason: info.reason,
        ...(info.status !== undefined ? { status: info.status } : {}),
        ...(info.requestId !== undefined ? { requestId: info.requestId } : {}),
        error: parseErrorBody(info.body),
        records: pieces.flatMap((p) => recordTexts(p.batch)),
      });
    } catch (err) {
      this.ctx.log.error({ err, table: lane.table }, 'cannot write dead-letter file');
    }
    let count = 0;
    for (const p of pieces) count += p.batch.count;
    this.countDrop(lane.table, info.reason, count);
    const suppressed = this.rateLog.admit(`rejected:${lane.table}:${info.reason}`);
    if (suppressed >= 0) {
      this.ctx.log.error(
        {
          table: lane.table,
          [this.opts.streamKey]: lane.stream,
          reason: info.reason,
          status: info.status,
          code: info.code,
          requestId: info.requestId,
          count,
          file,
          error: this.api.summarizeError(info.body),
          ...(suppressed > 0 ? { suppressed } : {}),
        },
        this.messages.rejected,
      );
    }
    this.resolvePieces(pieces, false);
  }
}

/** A token request refused for a reason a person must fix (a 4xx other than 408 and 429). */
function isAuthConfigurationProblem(outcome: RetryOutcome<RetryCause>): boolean {
  if (outcome.cause !== 'auth') return false;
  const status = (outcome.err as Error & { status?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status <= 499 && status !== 408 && status !== 429;
}

/** The `error_type` label of a failed attempt: its HTTP status, else its error code. */
function errorLabel(outcome: RetryOutcome<RetryCause>): string {
  if (outcome.status !== undefined) return `http_${outcome.status}`;
  return errorCode(outcome.err.cause ?? outcome.err) ?? errorType(outcome.err);
}
