import { join } from 'node:path';
import { AgentError, errorType } from '../../errors.js';
import { abortReason } from '../../http/abort.js';
import type { BackoffOptions } from '../../http/backoff.js';
import { errorCode } from '../../http/classify.js';
import type { LogRecord } from '../../model/record.js';
import type { Batch, Settlement } from '../../pipeline/batch.js';
import type { ComponentContext, SinkHealth } from '../../pipeline/component.js';
import { RateLimitedLog } from '../../telemetry/logger.js';
import { makeRequest, splitInHalves, Lane, type BatchTracker, type Entry, type OutgoingRequest } from './batcher.js';
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

/** A record serialized for one API, or why it cannot be. */
export type EncodedEntry =
  | {
      readonly kind: 'ok';
      readonly json: string;
      readonly bytes: number;
      /** Some fields were cut to a length the service keeps. */
      readonly truncated: boolean;
    }
  | { readonly kind: 'invalid'; readonly error: Error };

/** What is specific to one API: how records are encoded, how a request is sent and what an answer means. */
export interface DeliveryApi<C extends RetryCause> {
  /** The stream (or Log-Type) records of `table` go to; asked once per table. */
  streamFor(table: string): string;
  encode(record: LogRecord): EncodedEntry;
  /** Builds and posts one request and classifies the answer; turns every failure into an outcome. */
  send(lane: Lane, req: OutgoingRequest, signal: AbortSignal): Promise<SendOutcome<C>>;
  /** `code: message` of an error body, for log lines. */
  summarizeError(body: string | undefined): string | undefined;
  /** A reason to reject every record of the lane at once (a table that makes no valid destination name), if any. */
  refuse?(lane: Lane): string | undefined;
  /** A smaller encoding of a single record the service found too large (long fields cut), if there is one. */
  shrink?(entry: Entry): { readonly json: string; readonly bytes: number } | undefined;
  /** More fields for the log line of a failed attempt. */
  retryLogFields?(outcome: RetryOutcome<C>, now: number): Record<string, unknown>;
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
  /** Records taken and not yet resolved (delivered, rejected or invalid). */
  private heldEntries = 0;
  private readonly maxHeldBytes: number;
  private readonly capacityWaiters = new Set<() => void>();
  private readonly idleWaiters = new Set<() => void>();
  /** No request of any table starts before this (429: the destination is throttled as a whole). */
  private throttledUntil = 0;
  private state: State = 'created';
  private stopped: Promise<void> | undefined;
  /** Aborted when stopping runs out of time: cancels requests, token fetches and timers. */
  private readonly lifetime = new AbortController();
  private wake: { at: number; ac: AbortController } | undefined;
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
    this.maxHeldBytes = (this.config.maxConcurrency + 1) * this.config.maxRequestBytes;
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
    this.take(batch);
    await this.waitForCapacity(signal);
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
        { count: this.heldEntries, bytes: this.heldBytes },
        'stop deadline reached; undelivered records stay queued for the next start',
      );
    }
    this.lifetime.abort(new AgentError('OMA_ERR_ABORTED', 'sink stopped'));
    this.cancelWake();
    await Promise.allSettled([...this.tasks]);
    await Promise.allSettled([this.api.close()]);
    this.state = 'stopped';
    this.ctx.log.info({}, this.messages.stopped);
  }

  // ---- taking batches --------------------------------------------------------------------------

  private lane(table: string): Lane {
    let lane = this.lanes.get(table);
    if (!lane) {
      lane = new Lane(table, this.api.streamFor(table), {
        maxRequestBytes: this.config.maxRequestBytes,
        flushIntervalMs: this.config.flushIntervalMs,
      });
      this.lanes.set(table, lane);
      this.laneList.push(lane);
    }
    return lane;
  }

  private take(batch: Batch): void {
    const tracker: BatchTracker = { ack: batch.ack, table: batch.table, remaining: batch.records.length, failed: false };
    if (tracker.remaining === 0) {
      this.settle(tracker, 'delivered');
      return;
    }
    const lane = this.lane(batch.table);
    const now = this.ctx.clock.now();
    const entries: Entry[] = [];
    const oversize: Entry[] = [];
    let truncated = 0;
    let invalid = 0;
    for (const record of batch.records) {
      const enc = this.api.encode(record);
      if (enc.kind === 'invalid') {
        invalid++;
        if (this.rateLog.admit(`invalid:${batch.table}`) >= 0) {
          this.ctx.log.error({ err: enc.error, table: batch.table }, 'record cannot be serialized as JSON; dropped');
        }
        this.resolveRecord(tracker, false);
        continue;
      }
      const entry: Entry = { json: enc.json, bytes: enc.bytes, at: now, truncated: enc.truncated, tracker };
      this.heldBytes += entry.bytes;
      this.heldEntries++;
      if (enc.truncated) truncated++;
      // `[record]` must fit in one request.
      if (enc.bytes + 2 > this.config.maxRequestBytes) oversize.push(entry);
      else entries.push(entry);
    }
    if (invalid > 0) this.countDrop(batch.table, 'invalid_record', invalid);
    if (truncated > 0) this.countDrop(batch.table, 'field_truncated', truncated);
    const refusal = this.api.refuse?.(lane);
    if (refusal !== undefined) {
      this.track(this.reject(lane, [...entries, ...oversize], { reason: refusal }));
    } else {
      for (const e of entries) lane.add(e);
      if (oversize.length > 0) this.track(this.reject(lane, oversize, { reason: 'record_too_large' }));
    }
    this.pump();
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
    if (this.heldEntries === 0) return Promise.resolve(true);
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

  private resolveEntries(entries: readonly Entry[], delivered: boolean): void {
    for (const e of entries) {
      this.heldBytes -= e.bytes;
      this.heldEntries--;
      this.resolveRecord(e.tracker, delivered);
    }
    if (this.heldBytes < this.maxHeldBytes) this.releaseCapacityWaiters();
    if (this.heldEntries === 0 && this.idleWaiters.size > 0) {
      const waiters = [...this.idleWaiters];
      this.idleWaiters.clear();
      for (const w of waiters) w();
    }
  }

  private resolveRecord(tracker: BatchTracker, delivered: boolean): void {
    if (!delivered) tracker.failed = true;
    tracker.remaining--;
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
        this.ctx.metrics.recordsOut.inc({ ...this.ctx.labels, table: lane.table }, req.entries.length);
        this.ctx.log.debug(
          { table: lane.table, [this.opts.streamKey]: lane.stream, count: req.entries.length, bytes: req.jsonBytes },
          'records delivered',
        );
        this.recovered(lane);
        this.resolveEntries(req.entries, true);
        return;
      }
      case 'too_large':
        this.tooLarge(lane, req, outcome);
        return;
      case 'rejected':
        lane.done(req);
        this.recovered(lane);
        this.track(this.reject(lane, req.entries, outcome));
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
    if (req.entries.length > 1) {
      this.ctx.log.debug({ table: lane.table, count: req.entries.length, status: outcome.status }, 'request too large; split in halves');
      lane.replace(req, splitInHalves(req));
      return;
    }
    const entry = req.entries[0]!;
    const shrunk = entry.truncated ? undefined : this.api.shrink?.(entry);
    if (shrunk) {
      this.heldBytes += shrunk.bytes - entry.bytes;
      entry.json = shrunk.json;
      entry.bytes = shrunk.bytes;
      entry.truncated = true;
      this.countDrop(lane.table, 'field_truncated', 1);
      lane.replace(req, [makeRequest(req.order, [entry])]);
      return;
    }
    lane.done(req);
    this.track(this.reject(lane, [entry], { reason: 'record_too_large', status: outcome.status, requestId: outcome.requestId }));
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
      count: req.entries.length,
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
    entries: readonly Entry[],
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
        records: entries.map((e) => e.json),
      });
    } catch (err) {
      this.ctx.log.error({ err, table: lane.table }, 'cannot write dead-letter file');
    }
    this.countDrop(lane.table, info.reason, entries.length);
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
          count: entries.length,
          file,
          error: this.api.summarizeError(info.body),
          ...(suppressed > 0 ? { suppressed } : {}),
        },
        this.messages.rejected,
      );
    }
    this.resolveEntries(entries, false);
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
