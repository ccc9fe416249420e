import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createCredential } from '../../auth/create-credential.js';
import type { TokenCredential } from '../../auth/credential.js';
import { AgentError, errorType, TransportError } from '../../errors.js';
import { abortReason } from '../../http/abort.js';
import type { BackoffOptions } from '../../http/backoff.js';
import { errorCode } from '../../http/classify.js';
import { resolveEgress } from '../../http/egress-config.js';
import { describeEgressError, proxyRefusalStatus } from '../../http/egress-error.js';
import type { Egress } from '../../http/egress.js';
import { userAgent } from '../../http/user-agent.js';
import type { LogRecord } from '../../model/record.js';
import type { Batch, Settlement } from '../../pipeline/batch.js';
import type { ComponentContext, Sink, SinkDefinition, SinkHealth } from '../../pipeline/component.js';
import { RateLimitedLog } from '../../telemetry/logger.js';
import { makeRequest, splitInHalves, Lane, type BatchTracker, type Entry, type OutgoingRequest } from './batcher.js';
import { azureLogsIngestionConfigSchema, MAX_REQUEST_WIRE_BYTES, type AzureLogsIngestionConfig } from './config.js';
import { DeadLetterWriter } from './dead-letter.js';
import { buildBody, encodeRecord, shrinkRecord } from './payload.js';
import { classifyStatus, isConfigurationCause, retryDelayMs, type RetryCause } from './retry.js';
import { streamForTable } from './streams.js';
import { IngestionTransport } from './transport.js';

/** What one attempt at a request came to. */
type Outcome =
  | { readonly kind: 'delivered'; readonly status: number }
  /** Too large (413 or a compressed body over the limit): split or shrink it. */
  | { readonly kind: 'too_large'; readonly status?: number; readonly requestId?: string }
  | { readonly kind: 'rejected'; readonly reason: string; readonly status: number; readonly requestId: string; readonly body: string }
  | {
      readonly kind: 'retry';
      readonly cause: RetryCause;
      readonly err: Error;
      readonly status?: number;
      readonly requestId?: string;
      readonly retryAfterMs?: number;
    }
  /** Stopping: the request was abandoned unsettled. */
  | { readonly kind: 'aborted' };

/** Entry point of a component's own timers and callbacks: must never throw. */
type Task = Promise<void>;

const FAILURE_MESSAGES: Record<RetryCause, string> = {
  throttled: 'throttled by the Logs Ingestion API',
  transient: 'the Logs Ingestion API failed transiently',
  network: 'cannot reach the Logs Ingestion endpoint',
  auth: 'cannot get an access token from Entra ID',
  unauthorized: 'the Logs Ingestion API rejects the access token (401)',
  forbidden:
    'the identity lacks the Monitoring Metrics Publisher role on the data collection rule (403); role assignments take up to 30 minutes to apply',
  not_found: 'the data collection rule, stream or endpoint does not exist (404): check endpoint, dcrImmutableId and streams',
  unexpected: 'the Logs Ingestion endpoint answered with an unexpected status',
};

/**
 * Sends batches to the Azure Monitor Logs Ingestion API (reference §2).
 *
 * Records of several batches of one table are coalesced into requests of at most `maxRequestBytes` of
 * JSON; each batch is settled once all its records were accepted (`delivered`) or, if any was
 * rejected for good and dead-lettered, `rejected`. Failed requests are retried forever with capped
 * backoff; a table whose oldest request waits for a retry sends nothing newer meanwhile. Memory is
 * bounded: `write` resolves only while the records held stay under about (maxConcurrency + 1)
 * requests' worth.
 */
export class AzureLogsIngestionSink implements Sink {
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
  /** No request of any table starts before this (429: the DCR is throttled as a whole). */
  private throttledUntil = 0;
  private state: 'created' | 'running' | 'stopping' | 'stopped' = 'created';
  private stopped: Promise<void> | undefined;
  /** Aborted when stopping runs out of time: cancels requests, token fetches and timers. */
  private readonly lifetime = new AbortController();
  private wake: { at: number; ac: AbortController } | undefined;
  private readonly tasks = new Set<Task>();
  /** Tables whose last attempt failed and waits for a retry, with what went wrong. */
  private readonly failing = new Map<string, { cause: RetryCause; detail: string }>();
  private transport: IngestionTransport | undefined;
  private credential: TokenCredential | undefined;
  private readonly deadLetter: DeadLetterWriter;
  private readonly rateLog: RateLimitedLog;
  private readonly policy: BackoffOptions;
  private readonly userAgent: string;
  private readonly egress: Egress;

  constructor(
    private readonly config: AzureLogsIngestionConfig,
    private readonly ctx: ComponentContext,
    private readonly random: () => number = Math.random,
  ) {
    this.maxHeldBytes = (config.maxConcurrency + 1) * config.maxRequestBytes;
    this.policy = { initialDelayMs: config.retry.initialDelayMs, maxDelayMs: config.retry.maxDelayMs, jitter: 'equal' };
    this.userAgent = userAgent(ctx.agentVersion, ctx.host);
    this.egress = resolveEgress(config);
    this.rateLog = new RateLimitedLog(10_000, () => ctx.clock.now());
    this.deadLetter = new DeadLetterWriter(join(ctx.stateDir, 'dead-letter'), config.deadLetter.maxBytes, ctx.log, () =>
      ctx.clock.now(),
    );
  }

  start(): Promise<void> {
    if (this.state !== 'created') return Promise.reject(new AgentError('OMA_ERR_COMPONENT', `sink is ${this.state}; it starts only once`));
    this.transport = new IngestionTransport({
      endpoint: this.config.endpoint,
      dcrImmutableId: this.config.dcrImmutableId,
      compression: this.config.compression,
      requestTimeoutMs: this.config.requestTimeoutMs,
      connections: this.config.maxConcurrency,
      userAgent: this.userAgent,
      egress: this.egress,
    });
    this.credential = createCredential(this.config.auth, {
      clock: this.ctx.clock,
      userAgent: this.userAgent,
      requestTimeoutMs: this.config.requestTimeoutMs,
      egress: this.egress,
      log: this.ctx.log,
      onRefreshError: (err) => {
        if (this.rateLog.admit('token-refresh') >= 0) {
          this.ctx.log.warn({ err }, 'access token refresh failed; using the cached token until it expires');
        }
      },
    });
    this.state = 'running';
    this.ctx.log.info(
      { endpoint: this.config.endpoint, dcrImmutableId: this.config.dcrImmutableId, maxConcurrency: this.config.maxConcurrency },
      'logs ingestion sink started',
    );
    return Promise.resolve();
  }

  async write(batch: Batch, signal: AbortSignal): Promise<void> {
    if (this.state !== 'running') throw new AgentError('OMA_ERR_COMPONENT', `sink is ${this.state}; it takes no batches`);
    signal.throwIfAborted();
    this.take(batch);
    await this.waitForCapacity(signal);
  }

  stop(signal: AbortSignal): Promise<void> {
    this.stopped ??= this.shutdown(signal);
    return this.stopped;
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
    await Promise.allSettled([this.transport?.close(), this.credential?.close()]);
    this.state = 'stopped';
    this.ctx.log.info({}, 'logs ingestion sink stopped');
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

  // ---- taking batches --------------------------------------------------------------------------

  private lane(table: string): Lane {
    let lane = this.lanes.get(table);
    if (!lane) {
      lane = new Lane(table, streamForTable(table, this.config.streams), {
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
    const oversize: Entry[] = [];
    let truncated = 0;
    let invalid = 0;
    for (const record of batch.records) {
      const enc = encodeRecord(record, this.config.maxRequestBytes);
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
      if (enc.tooLarge) oversize.push(entry);
      else lane.add(entry);
    }
    if (invalid > 0) this.countDrop(batch.table, 'invalid_record', invalid);
    if (truncated > 0) this.countDrop(batch.table, 'field_truncated', truncated);
    if (oversize.length > 0) this.track(this.reject(lane, oversize, { reason: 'record_too_large' }));
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
      this.ctx.log.error({ err }, 'logs ingestion scheduling failed');
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
        this.ctx.log.error({ err }, 'logs ingestion background task failed');
      })
      .finally(() => this.tasks.delete(tracked));
    this.tasks.add(tracked);
  }

  // ---- one request -----------------------------------------------------------------------------

  private async execute(lane: Lane, req: OutgoingRequest): Task {
    let outcome: Outcome;
    try {
      outcome = await this.attempt(lane, req);
    } catch (err) {
      // Not expected: attempt() turns failures into outcomes. Keep the data and retry.
      outcome = { kind: 'retry', cause: 'transient', err: err instanceof Error ? err : new Error(String(err)) };
    }
    this.inFlight--;
    try {
      this.apply(lane, req, outcome);
    } catch (err) {
      this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorType(err), stage: 'send' });
      this.ctx.log.error({ err, table: lane.table }, 'logs ingestion request handling failed');
    }
    this.pump();
  }

  private async attempt(lane: Lane, req: OutgoingRequest): Promise<Outcome> {
    const signal = this.lifetime.signal;
    const transport = this.transport!;
    const credential = this.credential!;
    if (signal.aborted) return { kind: 'aborted' };
    req.body ??= await buildBody(
      req.entries.map((e) => e.json),
      this.config.compression,
    );
    if (req.body.length > MAX_REQUEST_WIRE_BYTES) {
      req.body = undefined;
      return { kind: 'too_large' };
    }
    for (;;) {
      let token: string;
      try {
        token = (await credential.getToken(signal)).token;
      } catch (err) {
        if (signal.aborted) return { kind: 'aborted' };
        const retryAfterMs = (err as { retryAfterMs?: unknown }).retryAfterMs;
        return {
          kind: 'retry',
          cause: 'auth',
          err: this.authFailure(err),
          ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}),
        };
      }
      if (req.sends > 0) this.ctx.metrics.retries.inc({ ...this.ctx.labels, table: lane.table });
      req.sends++;
      const requestId = randomUUID();
      const res = await transport.post({ stream: lane.stream, body: req.body, token, requestId, signal });
      if (res.kind === 'aborted') return { kind: 'aborted' };
      if (res.kind === 'error') {
        // A proxy or TLS problem gets a sentence saying what to fix (never the proxy password).
        const egressProblem = describeEgressError(res.error, this.egress, transport.origin);
        return {
          kind: 'retry',
          cause: 'network',
          requestId,
          err: new TransportError(
            egressProblem ?? `request to the Logs Ingestion endpoint failed (${errorCode(res.error) ?? res.error.name})`,
            undefined,
            { cause: res.error },
          ),
        };
      }
      const { status } = res;
      this.ctx.metrics.httpResponses.inc({ ...this.ctx.labels, status: String(status) });
      const cls = classifyStatus(status, res.headers, this.ctx.clock.now());
      if (cls.kind !== 'unauthorized') req.authRetried = false;
      switch (cls.kind) {
        case 'delivered':
          return { kind: 'delivered', status };
        case 'too_large':
          return { kind: 'too_large', status, requestId };
        case 'rejected':
          return { kind: 'rejected', reason: cls.reason, status, requestId, body: res.body };
        case 'unauthorized':
          credential.invalidate();
          if (!req.authRetried) {
            // The token may have been revoked or expired early: one immediate retry with a fresh one.
            req.authRetried = true;
            continue;
          }
          return { kind: 'retry', cause: 'unauthorized', status, requestId, err: serviceError(status, res.body) };
        case 'retry':
          return {
            kind: 'retry',
            cause: cls.cause,
            status,
            requestId,
            err: serviceError(status, res.body),
            ...(cls.retryAfterMs !== undefined ? { retryAfterMs: cls.retryAfterMs } : {}),
          };
      }
    }
  }

  /**
   * The error of a failed token request. A proxy that refused the tunnel to the token endpoint (407,
   * 403, …) is named as the cause; other failures are the credential's own error.
   */
  private authFailure(err: unknown): Error {
    const e = err instanceof Error ? err : new Error(String(err));
    if (proxyRefusalStatus(e) === undefined) return e;
    const message = describeEgressError(e, this.egress);
    return message === undefined || e.message.includes(message) ? e : new TransportError(message, undefined, { cause: e });
  }

  private apply(lane: Lane, req: OutgoingRequest, outcome: Outcome): void {
    switch (outcome.kind) {
      case 'delivered': {
        lane.done(req);
        this.ctx.metrics.recordsOut.inc({ ...this.ctx.labels, table: lane.table }, req.entries.length);
        this.ctx.log.debug({ table: lane.table, count: req.entries.length, bytes: req.jsonBytes }, 'records delivered');
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
        this.track(
          this.reject(lane, req.entries, {
            reason: outcome.reason,
            status: outcome.status,
            requestId: outcome.requestId,
            body: outcome.body,
          }),
        );
        return;
      case 'retry':
        this.retryLater(lane, req, outcome);
        return;
      case 'aborted':
        lane.abandon(req);
        return;
    }
  }

  private tooLarge(lane: Lane, req: OutgoingRequest, outcome: Outcome & { kind: 'too_large' }): void {
    if (req.entries.length > 1) {
      const parts = splitInHalves(req);
      this.ctx.log.debug({ table: lane.table, count: req.entries.length, status: outcome.status }, 'request too large; split in halves');
      lane.replace(req, parts);
      return;
    }
    const entry = req.entries[0]!;
    if (!entry.truncated) {
      let record: LogRecord | undefined;
      try {
        record = JSON.parse(entry.json) as LogRecord;
      } catch {
        record = undefined;
      }
      const shrunk = record ? shrinkRecord(record, entry.json, entry.bytes, this.config.maxRequestBytes) : undefined;
      if (shrunk?.truncated) {
        this.heldBytes += shrunk.bytes - entry.bytes;
        entry.json = shrunk.json;
        entry.bytes = shrunk.bytes;
        entry.truncated = true;
        this.countDrop(lane.table, 'field_truncated', 1);
        lane.replace(req, [makeRequest(req.order, [entry])]);
        return;
      }
    }
    lane.done(req);
    this.track(
      this.reject(lane, [entry], {
        reason: 'record_too_large',
        ...(outcome.status !== undefined ? { status: outcome.status } : {}),
        ...(outcome.requestId !== undefined ? { requestId: outcome.requestId } : {}),
      }),
    );
  }

  private retryLater(lane: Lane, req: OutgoingRequest, outcome: Outcome & { kind: 'retry' }): void {
    const now = this.ctx.clock.now();
    const attempt = lane.failures + 1;
    const delayMs = retryDelayMs(outcome.cause, attempt, this.policy, outcome.retryAfterMs, this.random);
    lane.retryLater(req, now, delayMs);
    if (outcome.status === 429) this.throttledUntil = Math.max(this.throttledUntil, now + delayMs);
    this.failing.set(lane.table, { cause: outcome.cause, detail: failureDetail(outcome) });
    this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorLabel(outcome), stage: outcome.cause === 'auth' ? 'auth' : 'send' });
    const suppressed = this.rateLog.admit(`retry:${lane.table}:${outcome.cause}`);
    if (suppressed < 0) return;
    const fields = {
      err: outcome.err,
      table: lane.table,
      stream: lane.stream,
      endpoint: this.config.endpoint,
      cause: outcome.cause,
      status: outcome.status,
      requestId: outcome.requestId,
      attempt,
      delayMs,
      count: req.entries.length,
      ...(suppressed > 0 ? { suppressed } : {}),
    };
    const authStatus = (outcome.err as Error & { status?: unknown }).status;
    const authConfigProblem = outcome.cause === 'auth' && typeof authStatus === 'number' && isConfigStatus(authStatus);
    if (isConfigurationCause(outcome.cause) || authConfigProblem) {
      switch (outcome.cause) {
        case 'forbidden':
          this.ctx.log.error(fields, FAILURE_MESSAGES.forbidden);
          return;
        case 'not_found':
          this.ctx.log.error(fields, FAILURE_MESSAGES.not_found);
          return;
        case 'auth':
          this.ctx.log.error(fields, FAILURE_MESSAGES.auth);
          return;
        default:
          this.ctx.log.error(fields, FAILURE_MESSAGES.unexpected);
          return;
      }
    }
    this.ctx.log.warn(fields, 'logs ingestion request failed; retrying');
  }

  /** The service answered a request of the table: it is no longer failing. */
  private recovered(lane: Lane): void {
    const f = this.failing.get(lane.table);
    if (!f) return;
    this.failing.delete(lane.table);
    this.ctx.log.info({ endpoint: this.config.endpoint, table: lane.table, cause: f.cause }, 'logs ingestion recovered');
  }

  /** Dead-letters records that can never be delivered, counts them and settles their batches. */
  private async reject(
    lane: Lane,
    entries: readonly Entry[],
    info: { reason: string; status?: number; requestId?: string; body?: string },
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
          stream: lane.stream,
          reason: info.reason,
          status: info.status,
          requestId: info.requestId,
          count: entries.length,
          file,
          error: summarizeErrorBody(info.body),
          ...(suppressed > 0 ? { suppressed } : {}),
        },
        'records rejected by the Logs Ingestion API; dropped to the dead-letter directory',
      );
    }
    this.resolveEntries(entries, false);
  }
}

/** One line for `healthcheck()`: the status or error and what it means. */
function failureDetail(outcome: Outcome & { kind: 'retry' }): string {
  const meaning = FAILURE_MESSAGES[outcome.cause];
  if (outcome.status !== undefined) return `HTTP ${outcome.status}: ${meaning}`;
  const why = outcome.err.message.length > 300 ? `${outcome.err.message.slice(0, 300)}…` : outcome.err.message;
  return `${meaning}: ${why}`;
}

function isConfigStatus(status: number): boolean {
  return status >= 400 && status <= 499 && status !== 408 && status !== 429;
}

function errorLabel(outcome: Outcome & { kind: 'retry' }): string {
  if (outcome.status !== undefined) return `http_${outcome.status}`;
  return errorCode(outcome.err.cause ?? outcome.err) ?? errorType(outcome.err);
}

/** The service's error body: `{"error":{"code","message"}}` parsed, else the text. */
function parseErrorBody(body: string | undefined): unknown {
  if (body === undefined || body === '') return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

/** `code: message` of a Logs Ingestion error body, short enough for a log line. */
function summarizeErrorBody(body: string | undefined): string | undefined {
  if (body === undefined || body === '') return undefined;
  let text = body;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    const code = typeof parsed.error?.code === 'string' ? parsed.error.code : undefined;
    const message = typeof parsed.error?.message === 'string' ? parsed.error.message : undefined;
    if (code !== undefined || message !== undefined) text = [code, message].filter((s) => s !== undefined).join(': ');
  } catch {
    // Not JSON: keep the text.
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 512 ? `${text.slice(0, 512)}…` : text;
}

function serviceError(status: number, body: string): TransportError {
  const summary = summarizeErrorBody(body);
  return new TransportError(`Logs Ingestion API returned HTTP ${status}${summary ? `: ${summary}` : ''}`, status);
}

export const azureLogsIngestionSink: SinkDefinition<typeof azureLogsIngestionConfigSchema> = {
  kind: 'sink',
  type: 'azure_logs_ingestion',
  description: 'Azure Monitor Logs Ingestion API (data collection rules): batched, gzip-compressed, retried, dead-lettered.',
  schema: azureLogsIngestionConfigSchema,
  create: (config, ctx) => new AzureLogsIngestionSink(config, ctx),
};
