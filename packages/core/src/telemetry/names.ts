import type { Counter, Gauge, MetricsRegistry } from './metrics.js';

/** The agent's own metric families; one place so that every component counts the same way. */
export interface AgentMetrics {
  /** Records a source emitted into the pipeline, per table. */
  readonly recordsIn: Counter;
  /** Records a sink delivered, per table and destination. */
  readonly recordsOut: Counter;
  /** Records dropped, per component and reason. */
  readonly recordsDropped: Counter;
  /** Component errors, per `error_type` and `stage`. */
  readonly errors: Counter;
  /** Sink retries (a batch sent again). */
  readonly retries: Counter;
  /** HTTP responses by status code. */
  readonly httpResponses: Counter;
  /** Bytes in each destination's durable queue. */
  readonly queueBytes: Gauge;
  /** Telemetry records in the unacknowledged entries of each destination's durable queue. */
  readonly queueRecords: Gauge;
  /** 1 while a destination's queue device is full or below its free-space floor. */
  readonly queueNoSpace: Gauge;
  /** Free bytes on a destination's queue device at the last check. */
  readonly queueDeviceFree: Gauge;
  /** Age of the oldest unacknowledged record, seconds. */
  readonly queueOldestAge: Gauge;
  /** Component restarts after a failure. */
  readonly restarts: Counter;
  /** Requests split in halves before or after sending, by `reason` (`wire_size`, `service_413`). */
  readonly requestsSplit: Counter;
  /** Bytes of delivered requests, by `encoding`: `json` (before compression) and `wire` (as sent). */
  readonly sentBytes: Counter;
}

export function agentMetrics(reg: MetricsRegistry): AgentMetrics {
  return {
    recordsIn: reg.counter('oma_component_received_records_total', 'Records a source emitted into the pipeline.'),
    recordsOut: reg.counter('oma_component_sent_records_total', 'Records a sink delivered.'),
    recordsDropped: reg.counter('oma_component_discarded_records_total', 'Records dropped, by reason.'),
    errors: reg.counter('oma_component_errors_total', 'Errors, by error_type and stage.'),
    retries: reg.counter('oma_sink_retries_total', 'Requests sent again after a retryable failure.'),
    httpResponses: reg.counter('oma_sink_http_responses_total', 'HTTP responses received, by status.'),
    queueBytes: reg.gauge('oma_buffer_byte_size', 'Bytes held in the durable queue.'),
    queueRecords: reg.gauge('oma_buffer_records', 'Telemetry records waiting in the durable queue (not yet acknowledged by the destination).'),
    queueNoSpace: reg.gauge('oma_buffer_no_space', '1 while the durable queue device is full or below the free-space floor (the full policy applies).'),
    queueDeviceFree: reg.gauge('oma_buffer_device_free_bytes', 'Free bytes on the durable queue device at the last check.'),
    queueOldestAge: reg.gauge('oma_buffer_oldest_age_seconds', 'Age of the oldest unacknowledged record in the durable queue.'),
    restarts: reg.counter('oma_component_restarts_total', 'Component restarts after a failure.'),
    requestsSplit: reg.counter('oma_sink_requests_split_total', 'Requests split in halves: wire_size (the compressed body came out over the limit) or service_413.'),
    sentBytes: reg.counter('oma_sink_sent_bytes_total', 'Bytes of delivered requests: json (before compression) and wire (as sent).'),
  };
}
