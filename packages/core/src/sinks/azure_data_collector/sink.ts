import { resolveEgress } from '../../http/egress-config.js';
import type { Egress } from '../../http/egress.js';
import { headerValue, type HeaderBag } from '../../http/retry-after.js';
import { userAgent } from '../../http/user-agent.js';
import type { ComponentContext, SinkDefinition } from '../../pipeline/component.js';
import type { Lane, OutgoingRequest } from '../shared/batcher.js';
import { LaneSink } from '../shared/lane-sink.js';
import { LaneDelivery, type DeliveryMessages, type RetryOutcome, type SendOutcome } from '../shared/lane-delivery.js';
import { networkError, serviceErrors } from '../shared/service-error.js';
import {
  azureDataCollectorConfigSchema,
  dataCollectorBaseUrl,
  LOG_TYPE_RE,
  logTypeForTable,
  MAX_FIELD_BYTES,
  type AzureDataCollectorConfig,
} from './config.js';
import { buildDataCollectorBody, dataCollectorFormat, type ReservedRenames } from './payload.js';
import { classifyDataCollectorStatus, parseDataCollectorError, type DataCollectorRetryCause } from './status.js';
import { DataCollectorTransport } from './transport.js';

const MESSAGES: DeliveryMessages<DataCollectorRetryCause> = {
  failures: {
    throttled: 'throttled by the HTTP Data Collector API',
    transient: 'the HTTP Data Collector API failed transiently',
    network: 'cannot reach the HTTP Data Collector endpoint',
    forbidden:
      'the workspace id or shared key is wrong, or the clock is skewed (x-ms-date is checked against the service clock)',
    not_found: 'the workspace or endpoint does not exist (404): check workspaceId, cloud and endpoint',
    configuration: 'the HTTP Data Collector API refuses the request itself, whatever its records: check workspaceId and the endpoint',
    unexpected: 'the HTTP Data Collector endpoint answered with an unexpected status',
  },
  retrying: 'data collector request failed; retrying',
  recovered: 'data collector recovered',
  rejected: 'records rejected by the HTTP Data Collector API; dropped to the dead-letter directory',
  stopped: 'data collector sink stopped',
  handlingFailed: 'data collector request handling failed',
  schedulingFailed: 'data collector scheduling failed',
  taskFailed: 'data collector background task failed',
};

const ERRORS = serviceErrors('HTTP Data Collector API', parseDataCollectorError);

/**
 * Sends batches to the legacy Azure Monitor HTTP Data Collector API (docs/protocol-notes.md#data-collector): each table as a
 * Log-Type, stored by the service in `<Log-Type>_CL` with type-suffixed columns.
 *
 * Delivery works as in the Logs Ingestion sink, through the same engine (`LaneDelivery`: lanes, dead-letter
 * directory, metrics, backpressure): records of several batches of one table are coalesced into requests
 * of at most `maxRequestBytes` of JSON; a batch settles `delivered` once all its records were accepted,
 * `rejected` if any was dead-lettered. Failed requests are retried forever with capped backoff, each
 * attempt signed again with a fresh `x-ms-date`; a table whose oldest request waits for a retry sends
 * nothing newer meanwhile.
 */
export class AzureDataCollectorSink extends LaneSink<DataCollectorRetryCause> {
  private transport: DataCollectorTransport | undefined;
  protected override readonly delivery: LaneDelivery<DataCollectorRetryCause>;
  private readonly endpoint: string;
  private readonly userAgent: string;
  private readonly egress: Egress;

  constructor(
    private readonly config: AzureDataCollectorConfig,
    private readonly ctx: ComponentContext,
    random: () => number = Math.random,
  ) {
    super();
    this.userAgent = userAgent(ctx.agentVersion, ctx.host);
    this.endpoint = dataCollectorBaseUrl(config);
    this.egress = resolveEgress(config);
    this.delivery = new LaneDelivery(
      ctx,
      { config, endpoint: this.endpoint, streamKey: 'logType', messages: MESSAGES, random },
      {
        // The lane's `stream` is the Log-Type: it names the destination in logs and dead-letter files.
        streamFor: (table) => logTypeForTable(table, config.logTypes),
        // Only a table name that makes no valid Log-Type gets here (configured Log-Types are validated).
        refuse: (lane) => (LOG_TYPE_RE.test(lane.stream) ? undefined : 'invalid_log_type'),
        send: (lane, req, signal) => this.attempt(lane, req, signal),
        summarizeError: ERRORS.summarize,
        retryLogFields: clockFields,
        close: () => Promise.allSettled([this.transport?.close()]),
      },
    );
  }

  protected override open(): void {
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
    this.ctx.log.info(
      { endpoint: this.endpoint, workspaceId: this.config.workspaceId, maxConcurrency: this.config.maxConcurrency },
      'data collector sink started',
    );
  }

  private async attempt(lane: Lane, req: OutgoingRequest, signal: AbortSignal): Promise<SendOutcome<DataCollectorRetryCause>> {
    const transport = this.transport!;
    req.body ??= buildDataCollectorBody(req.pieces.map((p) => p.batch));
    this.delivery.countSend(lane, req);
    const res = await transport.post({ logType: lane.stream, body: req.body, timeGeneratedField: this.config.timeGeneratedField, signal });
    if (res.kind === 'aborted') return { kind: 'aborted' };
    if (res.kind === 'error') {
      return { kind: 'retry', cause: 'network', err: networkError('the HTTP Data Collector endpoint', res.error, this.egress, transport.origin) };
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
        // 404 may mean "request too large" (docs/protocol-notes.md#data-collector-responses): halves settle which it is. A single record
        // still refused points at the workspace or endpoint.
        if (req.records > 1) return { kind: 'too_large', status, ...ids };
        return { kind: 'retry', cause: 'not_found', status, err: ERRORS.error(status, res.body), ...ids };
      case 'rejected':
        return { kind: 'rejected', reason: cls.reason, status, body: res.body, ...ids, ...(cls.code !== undefined ? { code: cls.code } : {}) };
      case 'retry': {
        const serviceDate = headerValue(res.headers, 'date');
        return {
          kind: 'retry',
          cause: cls.cause,
          status,
          err: ERRORS.error(status, res.body),
          ...ids,
          ...(cls.code !== undefined ? { code: cls.code } : {}),
          ...(cls.retryAfterMs !== undefined ? { retryAfterMs: cls.retryAfterMs } : {}),
          ...(serviceDate !== undefined ? { serviceDate } : {}),
        };
      }
    }
  }
}

/** Clock skew and a wrong key look the same (403): both clocks go into the log line so that a person can tell. */
function clockFields(outcome: RetryOutcome<DataCollectorRetryCause>, now: number): Record<string, unknown> {
  if (outcome.cause !== 'forbidden') return {};
  const fields: Record<string, unknown> = { localTime: new Date(now).toISOString() };
  const service = outcome.serviceDate === undefined ? NaN : Date.parse(outcome.serviceDate);
  if (Number.isFinite(service)) {
    fields.serviceTime = new Date(service).toISOString();
    fields.clockSkewMs = now - service;
  }
  return fields;
}

/** The service's request id header, if it sent one. */
function serviceRequestId(headers: HeaderBag): string | undefined {
  const v = headerValue(headers, 'x-ms-request-id');
  return v === undefined ? undefined : v.slice(0, 200);
}

/** Where the reserved properties go, per the config. */
function reservedRenames(config: AzureDataCollectorConfig): ReservedRenames {
  return { TimeGenerated: config.timeGeneratedField, RawData: config.rawDataField, tenant: config.tenantField };
}

export const azureDataCollectorSink: SinkDefinition<typeof azureDataCollectorConfigSchema> = {
  kind: 'sink',
  type: 'azure_data_collector',
  description: 'Legacy Azure Monitor HTTP Data Collector API (workspace id + shared key, <Log-Type>_CL tables): batched, signed, retried, dead-lettered.',
  schema: azureDataCollectorConfigSchema,
  create: (config, ctx) => new AzureDataCollectorSink(config, ctx),
  format: (config) => dataCollectorFormat(reservedRenames(config), MAX_FIELD_BYTES),
};
