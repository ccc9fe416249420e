import type { z } from 'zod';
import type { RecordBatch } from '../model/record.js';
import type { Clock } from '../ports/clock.js';
import type { HostDescription } from '../ports/host-info.js';
import type { Logger } from '../telemetry/logger.js';
import type { MetricsRegistry } from '../telemetry/metrics.js';
import type { AgentMetrics } from '../telemetry/names.js';
import type { CheckpointStore } from '../checkpoint/checkpoint-store.js';
import type { Batch } from './batch.js';
import type { EncodedBatch } from '../wire/encoded-batch.js';
import type { WireFormat } from '../wire/format.js';
import type { DcrSourceMapping } from '../config/dcr/source-mapping.js';
import type { ConfigIssue } from '../errors.js';

export type ComponentKind = 'source' | 'processor' | 'sink';

export interface ComponentContext {
  /** The component's id (its key in the config). */
  readonly id: string;
  readonly type: string;
  /** Child of the root logger bound to `{ component, type, kind }`. */
  readonly log: Logger;
  readonly registry: MetricsRegistry;
  readonly metrics: AgentMetrics;
  /** Labels every metric of this component carries. */
  readonly labels: { readonly component_id: string; readonly component_type: string };
  readonly clock: Clock;
  /** A directory private to this component for its state. */
  readonly stateDir: string;
  readonly host: HostDescription;
  /** OMA's version, for User-Agent and Heartbeat. */
  readonly agentVersion: string;
}

export interface SourceContext extends ComponentContext {
  /**
   * Hands a batch to the pipeline. Resolves once every destination queue holds it durably (per the
   * queue's fsync policy); only then may the source persist its read position. Waits while a queue is
   * full under the `block` policy: this is the backpressure a source feels (one destination with a full
   * queue holds the source for all of them). A failed write to one queue is retried for that queue
   * alone, so a batch never goes twice into a queue. Rejects when `signal` aborts or the pipeline
   * stops; the queues that took the batch by then keep it.
   *
   * A source may hand over records it encoded itself (an `EncodedBatch` of JSON objects, the canonical
   * wire form): they are queued as they are for the destinations that send that form, with no object
   * made per record (docs/architecture.md#encode-once).
   */
  emit(batch: RecordBatch | EncodedBatch, signal?: AbortSignal): Promise<void>;
  /**
   * Reports a failure after `start` resolved that the source cannot recover from by itself (its reader
   * loop died, an exception escaped a timer or handler). The pipeline then stops this instance, counts
   * the error (`oma_component_errors_total{stage="run"}`) and the restart, logs it, and starts a new
   * instance (from the saved positions) after a capped exponential backoff, as for a failed start.
   * Errors the source handles itself (a file to retry later) are not reported here. Calls from an
   * instance that was already replaced or stopped are ignored. Never throws.
   */
  fail(err: unknown): void;
  /** Persisted positions (file offsets, cursors, bookmarks) of this source. */
  readonly checkpoints: CheckpointStore;
}

export interface Source {
  /**
   * Starts collecting; resolves once running. A rejection is a failed start (retried with backoff);
   * failures after that go to `ctx.fail`.
   */
  start(): Promise<void>;
  /** Stops collecting; when it resolves, no further `emit` happens and positions are saved. */
  stop(signal: AbortSignal): Promise<void>;
}

export interface Processor {
  /** Returns the batch to pass on (possibly changed), or undefined to drop it all. */
  process(batch: RecordBatch): RecordBatch | undefined;
}

export interface SinkHealth {
  readonly healthy: boolean;
  readonly detail?: string;
}

export interface Sink {
  start(): Promise<void>;
  /**
   * Takes a batch for delivery. Resolves when the sink can take another (bounded in-flight work:
   * this is how backpressure reaches the queue reader). The sink settles `batch.ack` later.
   */
  write(batch: Batch, signal: AbortSignal): Promise<void>;
  /**
   * Says that the queue holds nothing more to read right now (the batch written last was the newest):
   * a sink may send what it holds without waiting to fill a request. Optional.
   */
  drained?(): void;
  /** Stops taking batches and tries to finish in-flight ones until `signal` aborts. */
  stop(signal: AbortSignal): Promise<void>;
  healthcheck(): SinkHealth;
}

/** What a component type registers: its config schema and factory. */
export interface SourceDefinition<S extends z.ZodType = z.ZodType> {
  readonly kind: 'source';
  readonly type: string;
  readonly description: string;
  readonly schema: S;
  create(config: z.output<S>, ctx: SourceContext): Source;
  /** Tables the source writes with this config, so tooling (`oma azure template`) knows which tables a config makes. */
  outputTables?(config: z.output<S>): readonly string[];
  /**
   * Problems of a valid config on this machine or worth a look (a file pattern naming a directory, a
   * counter this OS does not have), reported by `oma validate` at `base` + their path; the source still runs.
   */
  configWarnings?(config: z.output<S>, base: ReadonlyArray<PropertyKey>): readonly ConfigIssue[] | Promise<readonly ConfigIssue[]>;
  /** The data collection rule's data source kind this type reads, and how (`oma dcr`, `dcr:` in the config). */
  readonly dcr?: DcrSourceMapping;
}

export interface ProcessorDefinition<S extends z.ZodType = z.ZodType> {
  readonly kind: 'processor';
  readonly type: string;
  readonly description: string;
  readonly schema: S;
  create(config: z.output<S>, ctx: ComponentContext): Processor;
}

export interface SinkDefinition<S extends z.ZodType = z.ZodType> {
  readonly kind: 'sink';
  readonly type: string;
  readonly description: string;
  readonly schema: S;
  create(config: z.output<S>, ctx: ComponentContext): Sink;
  /** How this sink wants its records encoded in its queue (default: the canonical JSON form, `jsonFormat`). */
  format?(config: z.output<S>): WireFormat;
}

export type ComponentDefinition = SourceDefinition | ProcessorDefinition | SinkDefinition;
