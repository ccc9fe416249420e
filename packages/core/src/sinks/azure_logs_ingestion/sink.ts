import { randomUUID } from 'node:crypto';
import { createCredential } from '../../auth/create-credential.js';
import type { TokenCredential } from '../../auth/credential.js';
import { TransportError } from '../../errors.js';
import { resolveEgress } from '../../http/egress-config.js';
import { describeEgressError, proxyRefusalStatus } from '../../http/egress-error.js';
import type { Egress } from '../../http/egress.js';
import { userAgent } from '../../http/user-agent.js';
import type { LogRecord } from '../../model/record.js';
import type { ComponentContext, SinkDefinition } from '../../pipeline/component.js';
import { RateLimitedLog } from '../../telemetry/logger.js';
import type { Entry, Lane, OutgoingRequest } from '../shared/batcher.js';
import { LaneSink } from '../shared/lane-sink.js';
import { LaneDelivery, type DeliveryMessages, type SendOutcome } from '../shared/lane-delivery.js';
import { networkError, serviceErrors, type ServiceErrorFields } from '../shared/service-error.js';
import { azureLogsIngestionConfigSchema, MAX_REQUEST_WIRE_BYTES, type AzureLogsIngestionConfig } from './config.js';
import { buildBody, encodeRecord, shrinkRecord } from './payload.js';
import { classifyStatus, type LogsIngestionRetryCause } from './retry.js';
import { streamForTable } from './streams.js';
import { IngestionTransport } from './transport.js';

const MESSAGES: DeliveryMessages<LogsIngestionRetryCause> = {
  failures: {
    throttled: 'throttled by the Logs Ingestion API',
    transient: 'the Logs Ingestion API failed transiently',
    network: 'cannot reach the Logs Ingestion endpoint',
    auth: 'cannot get an access token from Entra ID',
    unauthorized: 'the Logs Ingestion API rejects the access token (401)',
    forbidden:
      'the identity lacks the Monitoring Metrics Publisher role on the data collection rule (403); role assignments take up to 30 minutes to apply',
    not_found: 'the data collection rule, stream or endpoint does not exist (404): check endpoint, dcrImmutableId and streams',
    unexpected: 'the Logs Ingestion endpoint answered with an unexpected status',
  },
  retrying: 'logs ingestion request failed; retrying',
  recovered: 'logs ingestion recovered',
  rejected: 'records rejected by the Logs Ingestion API; dropped to the dead-letter directory',
  stopped: 'logs ingestion sink stopped',
  handlingFailed: 'logs ingestion request handling failed',
  schedulingFailed: 'logs ingestion scheduling failed',
  taskFailed: 'logs ingestion background task failed',
};

const ERRORS = serviceErrors('Logs Ingestion API', ingestionErrorFields);

/**
 * Sends batches to the Azure Monitor Logs Ingestion API (docs/protocol-notes.md#logs-ingestion), through the shared delivery
 * engine (`LaneDelivery`: lanes per table, backpressure, retries, dead-letter directory).
 *
 * Records are gzip-compressed JSON arrays posted with a bearer token of the configured credential; a 401
 * gets one immediate retry with a fresh token, a body too large is split, and a single record too large
 * has its longest string fields truncated before it is dead-lettered.
 */
export class AzureLogsIngestionSink extends LaneSink<LogsIngestionRetryCause> {
  private transport: IngestionTransport | undefined;
  private credential: TokenCredential | undefined;
  protected override readonly delivery: LaneDelivery<LogsIngestionRetryCause>;
  private readonly rateLog: RateLimitedLog;
  private readonly userAgent: string;
  private readonly egress: Egress;

  constructor(
    private readonly config: AzureLogsIngestionConfig,
    private readonly ctx: ComponentContext,
    random: () => number = Math.random,
  ) {
    super();
    this.userAgent = userAgent(ctx.agentVersion, ctx.host);
    this.egress = resolveEgress(config);
    this.rateLog = new RateLimitedLog(10_000, () => ctx.clock.now());
    this.delivery = new LaneDelivery(
      ctx,
      { config, endpoint: config.endpoint, streamKey: 'stream', messages: MESSAGES, random },
      {
        streamFor: (table) => streamForTable(table, config.streams),
        encode: (record) => encodeRecord(record, config.maxRequestBytes),
        send: (lane, req, signal) => this.attempt(lane, req, signal),
        summarizeError: ERRORS.summarize,
        shrink: (entry) => this.shrink(entry),
        close: () => Promise.allSettled([this.transport?.close(), this.credential?.close()]),
      },
    );
  }

  protected override open(): void {
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
    this.ctx.log.info(
      { endpoint: this.config.endpoint, dcrImmutableId: this.config.dcrImmutableId, maxConcurrency: this.config.maxConcurrency },
      'logs ingestion sink started',
    );
  }

  private async attempt(lane: Lane, req: OutgoingRequest, signal: AbortSignal): Promise<SendOutcome<LogsIngestionRetryCause>> {
    const transport = this.transport!;
    const credential = this.credential!;
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
      this.delivery.countSend(lane, req);
      const requestId = randomUUID();
      const res = await transport.post({ stream: lane.stream, body: req.body, token, requestId, signal });
      if (res.kind === 'aborted') return { kind: 'aborted' };
      if (res.kind === 'error') {
        return { kind: 'retry', cause: 'network', requestId, err: networkError('the Logs Ingestion endpoint', res.error, this.egress, transport.origin) };
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
          return { kind: 'retry', cause: 'unauthorized', status, requestId, err: ERRORS.error(status, res.body) };
        case 'retry':
          return {
            kind: 'retry',
            cause: cls.cause,
            status,
            requestId,
            err: ERRORS.error(status, res.body),
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

  /** A single record the service found too large: its long string fields cut, if that changes anything. */
  private shrink(entry: Entry): { json: string; bytes: number } | undefined {
    let record: LogRecord;
    try {
      record = JSON.parse(entry.json) as LogRecord;
    } catch {
      return undefined;
    }
    const shrunk = shrinkRecord(record, entry.json, entry.bytes, this.config.maxRequestBytes);
    return shrunk.truncated ? shrunk : undefined;
  }
}

/** `code` and `message` of a Logs Ingestion error body, `{"error":{"code","message"}}`. */
function ingestionErrorFields(body: string): ServiceErrorFields {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    const code = typeof parsed.error?.code === 'string' ? parsed.error.code : undefined;
    const message = typeof parsed.error?.message === 'string' ? parsed.error.message : undefined;
    return { ...(code !== undefined ? { code } : {}), ...(message !== undefined ? { message } : {}) };
  } catch {
    return {}; // Not JSON: the text is kept.
  }
}

export const azureLogsIngestionSink: SinkDefinition<typeof azureLogsIngestionConfigSchema> = {
  kind: 'sink',
  type: 'azure_logs_ingestion',
  description: 'Azure Monitor Logs Ingestion API (data collection rules): batched, gzip-compressed, retried, dead-lettered.',
  schema: azureLogsIngestionConfigSchema,
  create: (config, ctx) => new AzureLogsIngestionSink(config, ctx),
};
