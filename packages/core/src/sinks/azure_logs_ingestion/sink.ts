import { randomUUID } from 'node:crypto';
import { createCredential } from '../../auth/create-credential.js';
import type { TokenCredential } from '../../auth/credential.js';
import { TransportError } from '../../errors.js';
import { resolveEgress } from '../../http/egress-config.js';
import { describeEgressError, proxyRefusalStatus } from '../../http/egress-error.js';
import type { Egress } from '../../http/egress.js';
import { userAgent } from '../../http/user-agent.js';
import type { ComponentContext, SinkDefinition } from '../../pipeline/component.js';
import { RateLimitedLog } from '../../telemetry/logger.js';
import type { Lane, OutgoingRequest } from '../shared/batcher.js';
import { BufferPool } from '../../wire/buffer-pool.js';
import { jsonFormat } from '../../wire/format.js';
import { LaneSink } from '../shared/lane-sink.js';
import { LaneDelivery, type DeliveryMessages, type SendOutcome } from '../shared/lane-delivery.js';
import { networkError, serviceErrors, type ServiceErrorFields } from '../shared/service-error.js';
import { azureLogsIngestionConfigSchema, MAX_REQUEST_WIRE_BYTES, type AzureLogsIngestionConfig } from './config.js';
import { buildBody, shrinkRecord } from './payload.js';
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

/** Compressed size requests are packed to: under the service's 1 MiB, with room for an estimate that is a little short. */
const WIRE_TARGET_BYTES = Math.floor(MAX_REQUEST_WIRE_BYTES * 0.92);
/** Compression ratio assumed before the first request: logs compress at least 4:1 as a rule. */
const INITIAL_RATIO = 0.25;

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
  /**
   * Compressed bytes per JSON byte, as the last requests came out (starts at a conservative guess):
   * requests are packed so that their compressed body nears WIRE_TARGET_BYTES.
   */
  private ratio = INITIAL_RATIO;
  /** Memory of compressed bodies, reused once their request is done. */
  private readonly bodies = new BufferPool(4, 2 * MAX_REQUEST_WIRE_BYTES);

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
        requestBytes: () => this.requestBytes(),
        released: (req) => {
          if (req.body) this.bodies.give(req.body);
        },
        send: (lane, req, signal) => this.attempt(lane, req, signal),
        summarizeError: ERRORS.summarize,
        shrink: shrinkRecord,
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
    if (!req.body) {
      req.body = await buildBody(
        req.pieces.map((p) => p.batch),
        this.config.compression,
        this.config.compressionLevel,
        this.bodies,
      );
      this.learnRatio(req.body.length, req.jsonBytes);
    }
    if (req.body.length > MAX_REQUEST_WIRE_BYTES) {
      // Packed by an estimate that proved short: split here, before the service sees it.
      this.ctx.metrics.requestsSplit.inc({ ...this.ctx.labels, reason: 'wire_size' });
      this.bodies.give(req.body);
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

  /** Most JSON bytes of a request now: what compresses to about WIRE_TARGET_BYTES at the observed ratio. */
  private requestBytes(): number {
    if (this.config.compression === 'none') return Math.min(this.config.maxRequestBytes, MAX_REQUEST_WIRE_BYTES);
    return Math.min(this.config.maxRequestBytes, Math.floor(WIRE_TARGET_BYTES / this.ratio));
  }

  /**
   * Follows the compression ratio: a worse ratio is taken at once (the next requests stay under the wire
   * limit), a better one halfway (one unusually compressible request does not make the next too large).
   */
  private learnRatio(wireBytes: number, jsonBytes: number): void {
    if (jsonBytes < 64 * 1024) return; // too small to say anything about the data
    const observed = wireBytes / jsonBytes;
    this.ratio = observed >= this.ratio ? observed : (this.ratio + observed) / 2;
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
  format: () => jsonFormat,
  description: 'Azure Monitor Logs Ingestion API (data collection rules): batched, gzip-compressed, retried, dead-lettered.',
  schema: azureLogsIngestionConfigSchema,
  create: (config, ctx) => new AzureLogsIngestionSink(config, ctx),
};
