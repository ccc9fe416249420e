import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { parseAgentConfig } from '../config/agent-config.js';
import type { RecordBatch } from '../model/record.js';
import { filterProcessor } from '../processors/filter/index.js';
import { silentLogger } from '../telemetry/logger.js';
import { MetricsRegistry } from '../telemetry/metrics.js';
import { TEST_HOST } from '../testing/context.js';
import type { Batch } from './batch.js';
import type { SinkDefinition, SourceContext, SourceDefinition } from './component.js';
import { Pipeline } from './pipeline.js';
import { ComponentRegistry } from './registry.js';

/** A source whose context the test drives; `failStarts` makes its first starts throw. */
function scriptedSource() {
  const contexts: SourceContext[] = [];
  const state = { failStarts: 0, starts: 0, stops: 0 };
  const def: SourceDefinition = {
    kind: 'source',
    type: 'scripted',
    description: 'test source',
    schema: z.strictObject({}),
    create: (_c, ctx) => ({
      start: () => {
        state.starts++;
        if (state.failStarts > 0) {
          state.failStarts--;
          return Promise.reject(new Error('cannot start'));
        }
        contexts.push(ctx);
        return Promise.resolve();
      },
      stop: () => {
        state.stops++;
        return Promise.resolve();
      },
    }),
  };
  return { def, contexts, state, emit: (b: RecordBatch) => contexts.at(-1)!.emit(b) };
}

/** A sink that keeps what it gets; settles at once unless `hold` is set; `throwNext` makes write throw. */
function recordingSink() {
  const state = { received: [] as Batch[], held: [] as Batch[], hold: false, throwNext: 0, instances: 0 };
  const def: SinkDefinition = {
    kind: 'sink',
    type: 'recording',
    description: 'test sink',
    schema: z.strictObject({}),
    create: () => {
      state.instances++;
      return {
        start: () => Promise.resolve(),
        write: (b) => {
          if (state.throwNext > 0) {
            state.throwNext--;
            return Promise.reject(new Error('sink broke'));
          }
          state.received.push(b);
          if (state.hold) state.held.push(b);
          else b.ack.settle('delivered');
          return Promise.resolve();
        },
        stop: () => Promise.resolve(),
        healthcheck: () => ({ healthy: true }),
      };
    },
  };
  return { def, state };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function startPipeline(doc: Record<string, unknown>, src = scriptedSource(), sink = recordingSink()) {
  const dataDir = (doc.dataDir as string | undefined) ?? mkdtempSync(join(tmpdir(), 'oma-pipe-'));
  dirs.push(dataDir);
  const registry = new ComponentRegistry([src.def, sink.def, filterProcessor]);
  const config = parseAgentConfig({ ...doc, dataDir }, registry);
  const metricsRegistry = new MetricsRegistry();
  const pipeline = await Pipeline.start({
    config,
    registry,
    log: silentLogger(),
    metricsRegistry,
    host: TEST_HOST,
    agentVersion: 'test',
    restartBackoff: { initialDelayMs: 10, maxDelayMs: 50 },
  });
  await vi.waitFor(() => expect(src.contexts.length).toBeGreaterThan(0));
  return { pipeline, src, sink, dataDir, metricsRegistry };
}

const hb = (n: number): RecordBatch => ({ table: 'Heartbeat', records: Array.from({ length: n }, (_, i) => ({ Computer: `c${i}` })) });

describe('pipeline', () => {
  it('routes by table filter, applies processors, and acknowledges settled batches', async () => {
    const src = scriptedSource();
    const sink = recordingSink();
    const { pipeline, metricsRegistry } = await startPipeline(
      {
        sources: { s: { type: 'scripted', processors: [{ type: 'filter', exclude: { Computer: '^c1$' } }] } },
        destinations: { d: { type: 'recording', tables: ['Heartbeat'] } },
      },
      src,
      sink,
    );
    await src.emit(hb(3));
    await src.emit({ table: 'Other_CL', records: [{ RawData: 'x' }] });
    await vi.waitFor(() => expect(sink.state.received).toHaveLength(1));
    expect(sink.state.received[0]!.records.map((r) => r.Computer)).toEqual(['c0', 'c2']);
    const st = pipeline.status();
    expect(st.tables).toEqual(expect.arrayContaining([expect.objectContaining({ table: 'Heartbeat', in: 2 })]));
    expect(metricsRegistry.find('oma_component_discarded_records_total')?.sum({ reason: 'no_destination' })).toBe(1);
    expect(metricsRegistry.find('oma_component_discarded_records_total')?.sum({ reason: 'filtered' })).toBe(1);
    await vi.waitFor(() => expect(pipeline.status().destinations[0]!.queueRecords).toBe(0));
    await pipeline.stop(1000);
  });

  it('replays batches the sink never settled after a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'oma-pipe-'));
    const first = await startPipeline({ dataDir, sources: { s: { type: 'scripted' } }, destinations: { d: { type: 'recording' } } });
    first.sink.state.hold = true;
    await first.src.emit(hb(1));
    await first.src.emit(hb(2));
    await vi.waitFor(() => expect(first.sink.state.received).toHaveLength(2));
    first.sink.state.held[0]!.ack.settle('delivered');
    await first.pipeline.stop(1000);

    const second = await startPipeline({ dataDir, sources: { s: { type: 'scripted' } }, destinations: { d: { type: 'recording' } } });
    await vi.waitFor(() => expect(second.sink.state.received).toHaveLength(1));
    expect(second.sink.state.received[0]!.records).toHaveLength(2);
    await second.pipeline.stop(1000);
  });

  it('restarts a failing sink and hands it the batches the old one held', async () => {
    const { pipeline, src, sink, metricsRegistry } = await startPipeline({ sources: { s: { type: 'scripted' } }, destinations: { d: { type: 'recording' } } });
    sink.state.hold = true;
    await src.emit(hb(1));
    await vi.waitFor(() => expect(sink.state.received).toHaveLength(1));
    sink.state.hold = false;
    sink.state.throwNext = 1;
    await src.emit(hb(2));
    await vi.waitFor(() => expect(sink.state.instances).toBe(2));
    // The new sink instance gets the held batch again, then the new one.
    await vi.waitFor(() => expect(sink.state.received.map((b) => b.records.length)).toEqual([1, 1, 2]));
    // A late settle from the replaced instance is ignored (no double ack).
    sink.state.held[0]!.ack.settle('delivered');
    await vi.waitFor(() => expect(pipeline.status().destinations[0]!.queueRecords).toBe(0));
    expect(metricsRegistry.find('oma_component_restarts_total')?.sum()).toBe(1);
    await pipeline.stop(1000);
  });

  it('retries a source that fails to start, with backoff', async () => {
    const src = scriptedSource();
    src.state.failStarts = 2;
    const { pipeline, metricsRegistry } = await startPipeline({ sources: { s: { type: 'scripted' } }, destinations: { d: { type: 'recording' } } }, src);
    expect(src.state.starts).toBe(3);
    expect(metricsRegistry.find('oma_component_restarts_total')?.sum({ component_id: 's' })).toBe(2);
    await pipeline.stop(1000);
    expect(src.state.stops).toBe(1);
  });

  it('refuses emits after stop', async () => {
    const { pipeline, src } = await startPipeline({ sources: { s: { type: 'scripted' } }, destinations: { d: { type: 'recording' } } });
    await pipeline.stop(1000);
    await expect(src.emit(hb(1))).rejects.toThrow(/stopping/);
  });
});
