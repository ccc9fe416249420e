import { join } from 'node:path';
import { AgentError, errorType, TransportError } from '../../errors.js';
import { abortReason } from '../../http/abort.js';
import type { BackoffOptions } from '../../http/backoff.js';
import { errorCode } from '../../http/classify.js';
import { resolveEgress } from '../../http/egress-config.js';
import { describeEgressError } from '../../http/egress-error.js';
import type { Egress } from '../../http/egress.js';
import { headerValue, type HeaderBag } from '../../http/retry-after.js';
import { userAgent } from '../../http/user-agent.js';
import type { Batch, Settlement } from '../../pipeline/batch.js';
import type { ComponentContext, Sink, SinkDefinition, SinkHealth } from '../../pipeline/component.js';
import { RateLimitedLog } from '../../telemetry/logger.js';
import { splitInHalves, Lane, type BatchTracker, type Entry, type OutgoingRequest } from '../azure_logs_ingestion/batcher.js';
import { DeadLetterWriter } from '../azure_logs_ingestion/dead-letter.js';
import {
  azureDataCollectorConfigSchema,
  dataCollectorBaseUrl,
  LOG_TYPE_RE,
  logTypeForTable,
  MAX_FIELD_BYTES,
  type AzureDataCollectorConfig,
} from './config.js';
import { buildDataCollectorBody, encodeDataCollectorRecord, type ReservedRenames } from './payload.js';
import {
  classifyDataCollectorStatus,
  dataCollectorRetryDelayMs,
  isConfigurationCause,
  parseDataCollectorError,
  type DataCollectorRetryCause,
} from './status.js';
import { DataCollectorTransport } from './transport.js';

/** What one attempt at a request came to. */
type Outcome =
  | { readonly kind: 'delivered'; readonly status: number }
  /** 413: split it, or dead-letter a single record. */
  | { readonly kind: 'too_large'; readonly status: number; readonly requestId?: string }
  /** 404: split it; a single record is retried as a configuration problem. */
  | { readonly kind: 'not_found'; readonly status: number; readonly requestId?: string; readonly body: string }
  | {
      readonly kind: 'rejected';
      readonly reason: string;
      readonly status: number;
      readonly code?: string;
      readonly requestId?: string;
      readonly body: string;
    }
  | {
      readonly kind: 'retry';
      readonly cause: DataCollectorRetryCause;
      readonly err: Error;
      readonly status?: number;
      readonly code?: string;
      readonly requestId?: string;
      readonly retryAfterMs?: number;
      /** The service's `Date` header (403: tells clock skew apart from a wrong key). */
      readonly serviceDate?: string;
    }
  /** Stopping: the request was abandoned unsettled. */
  | { readonly kind: 'aborted' };

/** Entry point of a component's own timers and callbacks: must never throw. */
type Task = Promise<void>;

const FAILURE_MESSAGES: Record<DataCollectorRetryCause, string> = {
  throttled: 'throttled by the HTTP Data Collector API',
  transient: 'the HTTP Data Collector API failed transiently',
  network: 'cannot reach the HTTP Data Collector endpoint',
  forbidden:
    'the workspace id or shared key is wrong, or the clock is skewed (x-ms-date is checked against the service clock)',
  not_found: 'the workspace or endpoint does not exist (404): check workspaceId, cloud and endpoint',
  configuration: 'the HTTP Data Collector API refuses the request itself, whatever its records: check workspaceId and the endpoint',
  unexpected: 'the HTTP Data Collector endpoint answered with an unexpected status',
};

/**
 * Sends batches to the legacy Azure Monitor HTTP Data Collector API (reference §3): each table as a
 * Log-Type, stored by the service in `<Log-Type>_CL` with type-suffixed columns.
 *
 * Delivery works as in the Logs Ingestion sink (same lanes, dead-letter directory and metrics): records of
 * several batches of one table are coalesced into requests of at most `maxRequestBytes` of JSON; a batch
 * settles `delivered` once all its records were accepted, `rejected` if any was dead-lettered. Failed
 * requests are retried forever with capped backoff, each attempt signed again with a fresh `x-ms-date`;
 * a table whose oldest request waits for a retry sends nothing newer meanwhile. `write` resolves only
 * while the records held stay under about (maxConcurrency + 1) requests' worth.
 */
export class AzureDataCollectorSink implements Sink {
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
  /** No request of any table starts before this (429: the workspace is throttled as a whole). */
  private throttledUntil = 0;
  private state: 'created' | 'running' | 'stopping' | 'stopped' = 'created';
  private stopped: Promise<void> | undefined;
  /** Aborted when stopping runs out of time: cancels requests and timers. */
  private readonly lifetime = new AbortController();
  private wake: { at: number; ac: AbortController } | undefined;
  private readonly tasks = new Set<Task>();
  /** Tables whose last attempt failed and waits for a retry, with what went wrong. */
  private readonly failing = new Map<string, { cause: DataCollectorRetryCause; detail: string }>();
  private transport: DataCollectorTransport | undefined;
  private readonly endpoint: string;
  private readonly renames: ReservedRenames;
  private readonly deadLetter: DeadLetterWriter;
  private readonly rateLog: RateLimitedLog;
  private readonly policy: BackoffOptions;
  private readonly userAgent: string;
  private readonly egress: Egress;

  constructor(
    private readonly config: AzureDataCollectorConfig,
    private readonly ctx: ComponentContext,
    private readonly random: () => number = Math.random,
  ) {
    this.maxHeldBytes = (config.maxConcurrency + 1) * config.maxRequestBytes;
    this.policy = { initialDelayMs: config.retry.initialDelayMs, maxDelayMs: config.retry.maxDelayMs, jitter: 'equal' };
    this.userAgent = userAgent(ctx.agentVersion, ctx.host);
    this.endpoint = dataCollectorBaseUrl(config);
    this.egress = resolveEgress(config);
    this.renames = { TimeGenerated: config.timeGeneratedField, RawData: config.rawDataField, tenant: config.tenantField };
    this.rateLog = new RateLimitedLog(10_000, () => ctx.clock.now());
    this.deadLetter = new DeadLetterWriter(join(ctx.stateDir, 'dead-letter'), config.deadLetter.maxBytes, ctx.log, () =>
      ctx.clock.now(),
    );
  }

  start(): Promise<void> {
    if (this.state !== 'created') return Promise.reject(new AgentError('OMA_ERR_COMPONENT', `sink is ${this.state}; it starts only once`));
    const key = Buffer.from(this.config.sharedKey.reveal(), 'base64');
    if (key.length !== 64) {
      this.ctx.log.warn(
        { bytes: key.length },
        'the shared key is not 64 bytes long as workspace keys are (88 base64 characters); check that the whole key was copied',
      );
    }
    this.transport = new DataCollectorTransport({
      baseUrl: this.endpoint,
      workspaceId: this.config.workspaceId,
      key,
      requestTimeoutMs: this.config.requestTimeoutMs,
      connections: this.config.maxConcurrency,
      userAgent: this.userAgent,
      now: () => this.ctx.clock.now(),
      egress: this.egress,
      ...(this.config.azureResourceId !== undefined ? { azureResourceId: this.config.azureResourceId } : {}),
    });
    this.state = 'running';
    this.ctx.log.info(
      { endpoint: this.endpoint, workspaceId: this.config.workspaceId, maxConcurrency: this.config.maxConcurrency },
      'data collector sink started',
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
    await Promise.allSettled([this.transport?.close()]);
    this.state = 'stopped';
    this.ctx.log.info({}, 'data collector sink stopped');
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

  private lane(table: string, logType: string): Lane {
    let lane = this.lanes.get(table);
    if (!lane) {
      // The lane's `stream` is the Log-Type: it names the destination in logs and dead-letter files.
      lane = new Lane(table, logType, {
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
    const logType = logTypeForTable(batch.table, this.config.logTypes);
    const lane = this.lane(batch.table, logType);
    const now = this.ctx.clock.now();
    const entries: Entry[] = [];
    const oversize: Entry[] = [];
    let truncated = 0;
    let invalid = 0;
    for (const record of batch.records) {
      const enc = encodeDataCollectorRecord(record, this.renames, MAX_FIELD_BYTES);
      if (enc.kind === 'invalid') {
        invalid++;
        if (this.rateLog.admit(`invalid:${batch.table}`) >= 0) {
          this.ctx.log.error({ err: enc.error, table: batch.table }, 'record cannot be serialized as JSON; dropped');
        }
        this.resolveRecord(tracker, false);
        continue;
      }
      const entry: Entry = { json: enc.json, bytes: enc.bytes, at: now, truncated: enc.truncatedFields > 0, tracker };
      this.heldBytes += entry.bytes;
      this.heldEntries++;
      if (enc.truncatedFields > 0) truncated++;
      if (enc.bytes + 2 > this.config.maxRequestBytes) oversize.push(entry);
      else entries.push(entry);
    }
    if (invalid > 0) this.countDrop(batch.table, 'invalid_record', invalid);
    if (truncated > 0) this.countDrop(batch.table, 'field_truncated', truncated);
    if (!LOG_TYPE_RE.test(logType)) {
      // Only a table name that makes no valid Log-Type gets here (configured Log-Types are validated).
      this.track(this.reject(lane, [...entries, ...oversize], { reason: 'invalid_log_type' }));
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
      this.ctx.log.error({ err }, 'data collector scheduling failed');
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
        this.ctx.log.error({ err }, 'data collector background task failed');
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
      this.ctx.log.error({ err, table: lane.table }, 'data collector request handling failed');
    }
    this.pump();
  }

  private async attempt(lane: Lane, req: OutgoingRequest): Promise<Outcome> {
    const signal = this.lifetime.signal;
    const transport = this.transport!;
    if (signal.aborted) return { kind: 'aborted' };
    req.body ??= buildDataCollectorBody(req.entries.map((e) => e.json));
    if (req.sends > 0) this.ctx.metrics.retries.inc({ ...this.ctx.labels, table: lane.table });
    req.sends++;
    const res = await transport.post({ logType: lane.stream, body: req.body, timeGeneratedField: this.config.timeGeneratedField, signal });
    if (res.kind === 'aborted') return { kind: 'aborted' };
    if (res.kind === 'error') {
      return {
        kind: 'retry',
        cause: 'network',
        // A proxy or TLS problem gets a sentence saying what to fix (never the proxy password).
        err: new TransportError(
          describeEgressError(res.error, this.egress, transport.origin) ??
            `request to the HTTP Data Collector endpoint failed (${errorCode(res.error) ?? res.error.name})`,
          undefined,
          { cause: res.error },
        ),
      };
    }
    const { status } = res;
    this.ctx.metrics.httpResponses.inc({ ...this.ctx.labels, status: String(status) });
    const requestId = serviceRequestId(res.headers);
    const ids = requestId !== undefined ? { requestId } : {};
    const cls = classifyDataCollectorStatus(status, res.headers, res.body, this.ctx.clock.now());
    switch (cls.kind) {
      case 'delivered':
        return { kind: 'delivered', status };
      case 'too_large':
        return { kind: 'too_large', status, ...ids };
      case 'not_found':
        return { kind: 'not_found', status, body: res.body, ...ids };
      case 'rejected':
        return { kind: 'rejected', reason: cls.reason, status, body: res.body, ...ids, ...(cls.code !== undefined ? { code: cls.code } : {}) };
      case 'retry': {
        const serviceDate = headerValue(res.headers, 'date');
        return {
          kind: 'retry',
          cause: cls.cause,
          status,
          err: serviceError(status, res.body),
          ...ids,
          ...(cls.code !== undefined ? { code: cls.code } : {}),
          ...(cls.retryAfterMs !== undefined ? { retryAfterMs: cls.retryAfterMs } : {}),
          ...(serviceDate !== undefined ? { serviceDate } : {}),
        };
      }
    }
  }

  private apply(lane: Lane, req: OutgoingRequest, outcome: Outcome): void {
    switch (outcome.kind) {
      case 'delivered': {
        lane.done(req);
        this.ctx.metrics.recordsOut.inc({ ...this.ctx.labels, table: lane.table }, req.entries.length);
        this.ctx.log.debug({ table: lane.table, logType: lane.stream, count: req.entries.length, bytes: req.jsonBytes }, 'records delivered');
        this.recovered(lane);
        this.resolveEntries(req.entries, true);
        return;
      }
      case 'too_large':
      case 'not_found':
        if (req.entries.length > 1) {
          // 404 may mean "request too large" (reference §3.6): halves settle which it is.
          this.ctx.log.debug({ table: lane.table, count: req.entries.length, status: outcome.status }, 'request too large; split in halves');
          lane.replace(req, splitInHalves(req));
          return;
        }
        if (outcome.kind === 'not_found') {
          this.retryLater(lane, req, {
            kind: 'retry',
            cause: 'not_found',
            status: outcome.status,
            err: serviceError(outcome.status, outcome.body),
            ...(outcome.requestId !== undefined ? { requestId: outcome.requestId } : {}),
          });
          return;
        }
        lane.done(req);
        this.track(
          this.reject(lane, req.entries, {
            reason: 'record_too_large',
            status: outcome.status,
            ...(outcome.requestId !== undefined ? { requestId: outcome.requestId } : {}),
          }),
        );
        return;
      case 'rejected':
        lane.done(req);
        this.recovered(lane);
        this.track(
          this.reject(lane, req.entries, {
            reason: outcome.reason,
            status: outcome.status,
            body: outcome.body,
            ...(outcome.code !== undefined ? { code: outcome.code } : {}),
            ...(outcome.requestId !== undefined ? { requestId: outcome.requestId } : {}),
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

  private retryLater(lane: Lane, req: OutgoingRequest, outcome: Outcome & { kind: 'retry' }): void {
    const now = this.ctx.clock.now();
    const attempt = lane.failures + 1;
    const delayMs = dataCollectorRetryDelayMs(outcome.cause, attempt, this.policy, outcome.retryAfterMs, this.random);
    lane.retryLater(req, now, delayMs);
    if (outcome.status === 429) this.throttledUntil = Math.max(this.throttledUntil, now + delayMs);
    this.failing.set(lane.table, { cause: outcome.cause, detail: failureDetail(outcome) });
    this.ctx.metrics.errors.inc({ ...this.ctx.labels, error_type: errorLabel(outcome), stage: 'send' });
    const suppressed = this.rateLog.admit(`retry:${lane.table}:${outcome.cause}`);
    if (suppressed < 0) return;
    const fields: Record<string, unknown> = {
      err: outcome.err,
      table: lane.table,
      logType: lane.stream,
      endpoint: this.endpoint,
      cause: outcome.cause,
      status: outcome.status,
      code: outcome.code,
      requestId: outcome.requestId,
      attempt,
      delayMs,
      count: req.entries.length,
      ...(suppressed > 0 ? { suppressed } : {}),
    };
    if (outcome.cause === 'forbidden') {
      // Clock skew and a wrong key look the same (403): give both clocks so that a person can tell.
      fields.localTime = new Date(now).toISOString();
      const service = outcome.serviceDate === undefined ? NaN : Date.parse(outcome.serviceDate);
      if (Number.isFinite(service)) {
        fields.serviceTime = new Date(service).toISOString();
        fields.clockSkewMs = now - service;
      }
    }
    if (isConfigurationCause(outcome.cause)) {
      this.ctx.log.error(fields, FAILURE_MESSAGES[outcome.cause]);
      return;
    }
    this.ctx.log.warn(fields, 'data collector request failed; retrying');
  }

  /** The service answered a request of the table: it is no longer failing. */
  private recovered(lane: Lane): void {
    const f = this.failing.get(lane.table);
    if (!f) return;
    this.failing.delete(lane.table);
    this.ctx.log.info({ endpoint: this.endpoint, table: lane.table, cause: f.cause }, 'data collector recovered');
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
          logType: lane.stream,
          reason: info.reason,
          status: info.status,
          code: info.code,
          requestId: info.requestId,
          count: entries.length,
          file,
          error: summarizeErrorBody(info.body),
          ...(suppressed > 0 ? { suppressed } : {}),
        },
        'records rejected by the HTTP Data Collector API; dropped to the dead-letter directory',
      );
    }
    this.resolveEntries(entries, false);
  }
}

/** One line for `healthcheck()`: the status or error and what it means. */
function failureDetail(outcome: Outcome & { kind: 'retry' }): string {
  const meaning = FAILURE_MESSAGES[outcome.cause];
  if (outcome.status !== undefined) return `HTTP ${outcome.status}${outcome.code !== undefined ? ` ${outcome.code}` : ''}: ${meaning}`;
  const why = outcome.err.message.length > 300 ? `${outcome.err.message.slice(0, 300)}…` : outcome.err.message;
  return `${meaning}: ${why}`;
}

function errorLabel(outcome: Outcome & { kind: 'retry' }): string {
  if (outcome.status !== undefined) return `http_${outcome.status}`;
  return errorCode(outcome.err.cause ?? outcome.err) ?? errorType(outcome.err);
}

/** The service's request id header, if it sent one. */
function serviceRequestId(headers: HeaderBag): string | undefined {
  const v = headerValue(headers, 'x-ms-request-id');
  return v === undefined ? undefined : v.slice(0, 200);
}

/** The service's error body parsed when it is JSON, else the text. */
function parseErrorBody(body: string | undefined): unknown {
  if (body === undefined || body === '') return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

/** `code: message` of an error body, short enough for a log line. */
function summarizeErrorBody(body: string | undefined): string | undefined {
  if (body === undefined || body === '') return undefined;
  const { code, message } = parseDataCollectorError(body);
  let text = code !== undefined || message !== undefined ? [code, message].filter((s) => s !== undefined).join(': ') : body;
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 512 ? `${text.slice(0, 512)}…` : text;
}

function serviceError(status: number, body: string): TransportError {
  const summary = summarizeErrorBody(body);
  return new TransportError(`HTTP Data Collector API returned HTTP ${status}${summary ? `: ${summary}` : ''}`, status);
}

export const azureDataCollectorSink: SinkDefinition<typeof azureDataCollectorConfigSchema> = {
  kind: 'sink',
  type: 'azure_data_collector',
  description: 'Legacy Azure Monitor HTTP Data Collector API (workspace id + shared key, <Log-Type>_CL tables): batched, signed, retried, dead-lettered.',
  schema: azureDataCollectorConfigSchema,
  create: (config, ctx) => new AzureDataCollectorSink(config, ctx),
};
