import { isEncodedBatch, type EncodedBatch } from '../wire/encoded-batch.js';
import { decodeJsonRecords } from '../wire/format.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordBatch } from '../model/record.js';
import type { ComponentContext, SourceContext } from '../pipeline/component.js';
import { MemoryCheckpointStore, type CheckpointStore } from '../checkpoint/checkpoint-store.js';
import { systemClock, type Clock } from '../ports/clock.js';
import type { HostDescription } from '../ports/host-info.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { MetricsRegistry } from '../telemetry/metrics.js';
import { agentMetrics } from '../telemetry/names.js';

export const TEST_HOST: HostDescription = {
  computer: 'test-host',
  osType: 'Linux',
  osName: 'Test Linux',
  osMajorVersion: '1',
  osMinorVersion: '2',
  privateIPs: ['10.0.0.5'],
};

export interface TestContextOptions {
  id?: string;
  type?: string;
  clock?: Clock;
  log?: Logger;
  stateDir?: string;
  host?: HostDescription;
}

export function testComponentContext(opts: TestContextOptions = {}): ComponentContext {
  const registry = new MetricsRegistry();
  const id = opts.id ?? 'test';
  const type = opts.type ?? 'test';
  return {
    id,
    type,
    log: opts.log ?? silentLogger(),
    registry,
    metrics: agentMetrics(registry),
    labels: { component_id: id, component_type: type },
    clock: opts.clock ?? systemClock,
    stateDir: opts.stateDir ?? mkdtempSync(join(tmpdir(), 'oma-test-')),
    host: opts.host ?? TEST_HOST,
    agentVersion: '0.0.0-test',
  };
}

export interface TestSourceContext extends SourceContext {
  /** Every batch emitted so far (an encoded batch as its records, parsed back). */
  readonly emitted: RecordBatch[];
  /** Makes `emit` wait until `release()` is called (simulates a full queue). */
  hold(): void;
  release(): void;
  /** Makes the next `emit` calls reject with this error until cleared. */
  failWith(err: Error | undefined): void;
  /** Every failure the source reported through `fail`. */
  readonly failures: unknown[];
}

export function testSourceContext(
  opts: TestContextOptions & { checkpoints?: CheckpointStore } = {},
): TestSourceContext {
  const base = testComponentContext(opts);
  const emitted: RecordBatch[] = [];
  const failures: unknown[] = [];
  let gate: { promise: Promise<void>; open: () => void } | undefined;
  let failure: Error | undefined;
  return {
    ...base,
    checkpoints: opts.checkpoints ?? new MemoryCheckpointStore(),
    emitted,
    failures,
    fail(err: unknown): void {
      failures.push(err);
    },
    async emit(batch: RecordBatch | EncodedBatch, signal?: AbortSignal): Promise<void> {
      if (failure) throw failure;
      while (gate) {
        await Promise.race([
          gate.promise,
          new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true })),
        ]);
      }
      signal?.throwIfAborted();
      // Encoded batches (sources that encode their own records) are parsed back for the checks.
      emitted.push({ table: batch.table, records: isEncodedBatch(batch) ? decodeJsonRecords(batch) : [...batch.records] });
    },
    hold() {
      if (gate) return;
      let open!: () => void;
      const promise = new Promise<void>((r) => (open = r));
      gate = { promise, open };
    },
    release() {
      const g = gate;
      gate = undefined;
      g?.open();
    },
    failWith(err) {
      failure = err;
    },
  };
}
