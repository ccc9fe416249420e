import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { openDiskQueue } from '../buffer/index.js';
import type { DiskQueue, DiskQueueOptions } from '../buffer/types.js';
import { parseAgentConfig } from '../config/agent-config.js';
import type { LogRecord, RecordBatch } from '../model/record.js';
import { EncodedBatchBuilder, type EncodedBatch } from '../wire/encoded-batch.js';
import { encodeFrame } from '../wire/frame.js';
import { decodeJsonRecords, encodeJsonRecords, jsonFormat, type WireFormat } from '../wire/format.js';
import { filterProcessor } from '../processors/filter/index.js';
import { silentLogger } from '../telemetry/logger.js';
import { MetricsRegistry } from '../telemetry/metrics.js';
import { TEST_HOST } from '../testing/context.js';
import { FakeClock } from '../testing/fake-clock.js';
import type { Batch } from './batch.js';
import type { SinkDefinition, SourceContext, SourceDefinition } from './component.js';
import { Pipeline, type PipelineOptions } from './pipeline.js';
import { ComponentRegistry } from './registry.js';

/**
 * A source whose context the test drives; `failStarts` makes its first starts throw; `events` lists
 * the starts and stops of its instances in order.
 */
function scriptedSource() {
  const contexts: SourceContext[] = [];
  const state = { failStarts: 0, starts: 0, stops: 0, events: [] as string[] };
  const def: SourceDefinition = {
    kind: 'source',
    type: 'scripted',
    description: 'test source',
    schema: z.strictObject({}),
    create: (_c, ctx) => ({
      start: () => {
        state.starts++;
        state.events.push('start');
        if (state.failStarts > 0) {
          state.failStarts--;
          return Promise.reject(new Error('cannot start'));
        }
        contexts.push(ctx);
        return Promise.resolve();
      },
      stop: () => {
        state.stops++;
        state.events.push('stop');
        return Promise.resolve();
      },
    }),
  };
  return { def, contexts, state, emit: (b: RecordBatch | EncodedBatch) => contexts.at(-1)!.emit(b) };
}

/**
 * A sink that keeps what it gets (also by destination id in `by`); settles at once unless `hold` is set
 * or its destination is in `holdFor`; `throwNext` makes write throw.
 */
/** A batch as the recording sink got it, with its records parsed back for the checks. */
type Received = Batch & { readonly records: LogRecord[] };

function recordingSink() {
  const state = {
    received: [] as Received[],
    by: {} as Record<string, Received[]>,
    held: [] as Received[],
    hold: false,
    holdFor: new Set<string>(),
    throwNext: 0,
    instances: 0,
  };
  const def: SinkDefinition = {
    kind: 'sink',
    type: 'recording',
    description: 'test sink',
    schema: z.strictObject({}),
    create: (_c, ctx) => {
      state.instances++;
      return {
        start: () => Promise.resolve(),
        write: (batch) => {
          if (state.throwNext > 0) {
            state.throwNext--;
            return Promise.reject(new Error('sink broke'));
          }
          const b: Received = { ...batch, records: decodeJsonRecords(batch) };
          state.received.push(b);
          (state.by[ctx.id] ??= []).push(b);
          if (state.hold || state.holdFor.has(ctx.id)) state.held.push(b);
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

async function startPipeline(
  doc: Record<string, unknown>,
  src = scriptedSource(),
  sink = recordingSink(),
  extra: Pick<PipelineOptions, 'openQueue' | 'appendBackoff' | 'clock'> & { defs?: SinkDefinition[] } = {},
) {
  const dataDir = (doc.dataDir as string | undefined) ?? mkdtempSync(join(tmpdir(), 'oma-pipe-'));
  dirs.push(dataDir);
  const registry = new ComponentRegistry([src.def, sink.def, filterProcessor, ...(extra.defs ?? [])]);
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
    ...(extra.openQueue ? { openQueue: extra.openQueue } : {}),
    ...(extra.appendBackoff ? { appendBackoff: extra.appendBackoff } : {}),
    ...(extra.clock ? { clock: extra.clock } : {}),
  });
  await vi.waitFor(() => expect(src.contexts.length).toBeGreaterThan(0));
  return { pipeline, src, sink, dataDir, metricsRegistry };
}

/**
 * Opens real disk queues, wrapped so that a test can make appends fail: `failAppends[id] = n` makes the
 * next n appends to destination `id`'s queue fail with EIO. `appends[id]` counts the appends stored.
 */
function faultyQueues() {
  const failAppends: Record<string, number> = {};
  const appends: Record<string, number> = {};
  const openQueue = async (opts: DiskQueueOptions): Promise<DiskQueue> => {
    const q = await openDiskQueue(opts);
    const id = basename(opts.dir);
    return {
      get recovery() {
        return q.recovery;
      },
      append: async (payload, records, signal) => {
        if ((failAppends[id] ?? 0) > 0) {
          failAppends[id]!--;
          throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
        }
        const seq = await q.append(payload, records, signal);
        appends[id] = (appends[id] ?? 0) + 1;
        return seq;
      },
      read: (signal) => q.read(signal),
      ack: (seq) => q.ack(seq),
      recycle: (payload) => q.recycle(payload),
      stats: () => q.stats(),
      flush: () => q.flush(),
      close: () => q.close(),
    };
  };
  return { failAppends, appends, openQueue };
}

/** Emits like a source does: a batch whose emit rejects is emitted again. Returns the emits it took. */
async function emitUntilStored(src: ReturnType<typeof scriptedSource>, batch: RecordBatch): Promise<number> {
  for (let emits = 1; ; emits++) {
    try {
      await src.emit(batch);
      return emits;
    } catch (err) {
      if (emits >= 20) throw err;
    }
  }
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

  it('retries a failed append for that queue alone: each destination holds the batch exactly once', async () => {
    const queues = faultyQueues();
    const { pipeline, src, sink, metricsRegistry } = await startPipeline(
      { sources: { s: { type: 'scripted' } }, destinations: { a: { type: 'recording' }, b: { type: 'recording' } } },
      scriptedSource(),
      recordingSink(),
      { openQueue: queues.openQueue, appendBackoff: { initialDelayMs: 1, maxDelayMs: 5 } },
    );
    queues.failAppends.a = 3;
    const emits = await emitUntilStored(src, hb(2));
    expect(queues.appends, 'no queue got the batch twice').toEqual({ a: 1, b: 1 });
    expect(emits).toBe(1);
    await vi.waitFor(() => expect(sink.state.by.a).toHaveLength(1));
    expect(sink.state.by.b).toHaveLength(1);
    expect(metricsRegistry.find('oma_component_errors_total')?.sum({ component_id: 'a', stage: 'append', error_type: 'EIO' })).toBe(3);
    expect(metricsRegistry.find('oma_component_errors_total')?.sum({ component_id: 'b' })).toBe(0);
    await pipeline.stop(1000);
  });

  it('an emit aborted while one queue keeps failing rejects, and the queues that took the batch keep it', async () => {
    const queues = faultyQueues();
    const { pipeline, src, sink, metricsRegistry } = await startPipeline(
      { sources: { s: { type: 'scripted' } }, destinations: { a: { type: 'recording' }, b: { type: 'recording' } } },
      scriptedSource(),
      recordingSink(),
      { openQueue: queues.openQueue, appendBackoff: { initialDelayMs: 1, maxDelayMs: 5 } },
    );
    queues.failAppends.a = Number.POSITIVE_INFINITY;
    const ac = new AbortController();
    const emitted = src.contexts[0]!.emit(hb(1), ac.signal);
    const errors = () => metricsRegistry.find('oma_component_errors_total')?.sum({ component_id: 'a', stage: 'append' }) ?? 0;
    await vi.waitFor(() => expect(errors()).toBeGreaterThanOrEqual(2));
    ac.abort(new Error('source stopping'));
    await expect(emitted).rejects.toThrow('source stopping');
    const tries = errors();
    expect(queues.appends).toEqual({ b: 1 });
    await vi.waitFor(() => expect(sink.state.by.b).toHaveLength(1));
    // Once aborted, the append is not tried again.
    queues.failAppends.a = 0;
    await src.emit(hb(3));
    expect(errors()).toBe(tries);
    expect(queues.appends).toEqual({ a: 1, b: 2 });
    await pipeline.stop(1000);
  });

  it('a destination whose queue is full under drop_oldest does not hold the source or the others', async () => {
    const { pipeline, src, sink, metricsRegistry } = await startPipeline({
      sources: { s: { type: 'scripted' } },
      destinations: {
        a: { type: 'recording', queue: { maxBytes: 8192, segmentMaxBytes: 4096, fullPolicy: 'drop_oldest' } },
        b: { type: 'recording' },
      },
    });
    sink.state.holdFor.add('a'); // a never delivers: its queue fills up
    const batches = 60;
    for (let i = 0; i < batches; i++) await src.emit(hb(10));
    await vi.waitFor(() => expect(sink.state.by.b).toHaveLength(batches));
    const dropped = metricsRegistry.find('oma_component_discarded_records_total')?.sum({ component_id: 'a', reason: 'queue_full' }) ?? 0;
    expect(dropped).toBeGreaterThan(0);
    expect(pipeline.status().destinations.find((d) => d.id === 'a')!.queueBytes).toBeLessThanOrEqual(8192);
    await pipeline.stop(1000);
  });

  it('a destination whose queue is full under block holds the source (for every destination) until it has room', async () => {
    const { pipeline, src, sink } = await startPipeline({
      sources: { s: { type: 'scripted' } },
      destinations: { a: { type: 'recording', queue: { maxBytes: 8192, segmentMaxBytes: 4096 } }, b: { type: 'recording' } },
    });
    sink.state.holdFor.add('a');
    // Each batch takes about 3 KiB: a's queue holds two of them.
    const big = (i: number): RecordBatch => ({ table: 'Heartbeat', records: [{ Computer: `${i}`.padEnd(3000, 'x') }] });
    await src.emit(big(0));
    await src.emit(big(1));
    let settled = false;
    const third = src.emit(big(2)).finally(() => (settled = true));
    await vi.waitFor(() => expect(sink.state.by.b).toHaveLength(3));
    // b has the batch, but the source waits for a (whose sink settles nothing, so a's queue cannot free space).
    expect(settled).toBe(false);
    expect(sink.state.by.a).toHaveLength(2);
    sink.state.holdFor.delete('a');
    for (const b of sink.state.held.splice(0)) b.ack.settle('delivered');
    await third;
    await vi.waitFor(() => expect(sink.state.by.a).toHaveLength(3));
    expect(sink.state.by.b!.map((b) => b.records[0]!.Computer)).toEqual([0, 1, 2].map((i) => big(i).records[0]!.Computer));
    await pipeline.stop(1000);
  });

  it('drops a batch too large for one queue for that destination only, counted', async () => {
    const { pipeline, src, sink, metricsRegistry } = await startPipeline({
      sources: { s: { type: 'scripted' } },
      destinations: { a: { type: 'recording', queue: { maxBytes: 8192, segmentMaxBytes: 4096 } }, b: { type: 'recording' } },
    });
    await src.emit({ table: 'Heartbeat', records: [{ Computer: 'x'.repeat(5000) }, { Computer: 'y' }] });
    await src.emit(hb(1));
    await vi.waitFor(() => expect(sink.state.by.b).toHaveLength(2));
    await vi.waitFor(() => expect(sink.state.by.a).toHaveLength(1));
    expect(sink.state.by.a![0]!.records).toHaveLength(1);
    expect(metricsRegistry.find('oma_component_discarded_records_total')?.sum({ component_id: 'a', reason: 'too_large' })).toBe(2);
    expect(metricsRegistry.find('oma_component_discarded_records_total')?.sum({ component_id: 'b' })).toBe(0);
    await pipeline.stop(1000);
  });

  it('restarts a source that reports a failure after start, with backoff, and counts it', async () => {
    const clock = new FakeClock();
    const src = scriptedSource();
    const { pipeline, sink, metricsRegistry } = await startPipeline(
      { sources: { s: { type: 'scripted' } }, destinations: { d: { type: 'recording' } } },
      src,
      recordingSink(),
      { clock },
    );
    const restarts = () => metricsRegistry.find('oma_component_restarts_total')?.sum({ component_id: 's' });
    const runErrors = () => metricsRegistry.find('oma_component_errors_total')?.sum({ component_id: 's', stage: 'run' });
    const first = src.contexts[0]!;
    first.fail(new Error('reader died'));
    // The failed instance is stopped, then a new one starts after the backoff (10 ms, jitter down to 5).
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1));
    expect(src.state.events).toEqual(['start', 'stop']);
    expect(runErrors()).toBe(1);
    expect(restarts()).toBe(1);
    await clock.advance(4);
    expect(src.contexts).toHaveLength(1);
    await clock.advance(6);
    await vi.waitFor(() => expect(src.contexts).toHaveLength(2));

    // A report from the replaced instance changes nothing.
    first.fail(new Error('late'));
    // A second failure before any progress waits longer (20 ms, jitter down to 10).
    src.contexts[1]!.fail(new Error('reader died again'));
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1));
    await clock.advance(9);
    expect(src.contexts).toHaveLength(2);
    await clock.advance(11);
    await vi.waitFor(() => expect(src.contexts).toHaveLength(3));
    expect(restarts()).toBe(2);
    expect(runErrors()).toBe(2);

    // Progress (a stored batch) resets the backoff.
    await src.emit(hb(1));
    await vi.waitFor(() => expect(sink.state.received).toHaveLength(1));
    src.contexts[2]!.fail(new Error('once more'));
    await vi.waitFor(() => expect(clock.pendingSleeps).toBe(1));
    await clock.advance(10);
    await vi.waitFor(() => expect(src.contexts).toHaveLength(4));
    expect(src.state.events).toEqual(['start', 'stop', 'start', 'stop', 'start', 'stop', 'start']);
    await pipeline.stop(1000);
    expect(src.state.stops).toBe(4);
    expect(restarts()).toBe(3);
  });

  it('refuses emits after stop', async () => {
    const { pipeline, src } = await startPipeline({ sources: { s: { type: 'scripted' } }, destinations: { d: { type: 'recording' } } });
    await pipeline.stop(1000);
    await expect(src.emit(hb(1))).rejects.toThrow(/stopping/);
  });

  describe('encode once', () => {
    /** A wire format that counts its calls: the canonical one, or one that marks each record. */
    function countingFormat(key: string, code: number, mark?: string) {
      const calls = { records: 0, json: 0 };
      const withMark = (records: readonly LogRecord[]): LogRecord[] => (mark ? records.map((r) => ({ ...r, Format: mark })) : [...records]);
      const format: WireFormat = {
        key,
        code,
        encodeRecords: (table, records) => {
          calls.records++;
          return encodeJsonRecords(table, withMark(records));
        },
        fromJson: (batch) => {
          calls.json++;
          return mark ? encodeJsonRecords(batch.table, withMark(decodeJsonRecords(batch))) : jsonFormat.fromJson(batch);
        },
      };
      return { format, calls };
    }

    it('encodes a batch once per wire format and queues a source-encoded batch as it is', async () => {
      const json = countingFormat('json', 1);
      const other = countingFormat('other', 9, 'other');
      const sink = recordingSink();
      sink.def = { ...sink.def, format: () => json.format };
      const otherSink = recordingSink();
      otherSink.def = { ...otherSink.def, type: 'other', format: () => other.format };
      const { pipeline, src } = await startPipeline(
        { sources: { s: { type: 'scripted' } }, destinations: { a: { type: 'recording' }, b: { type: 'recording' }, c: { type: 'other' } } },
        undefined,
        sink,
        { defs: [otherSink.def] },
      );
      await src.emit(hb(2));
      await vi.waitFor(() => expect(sink.state.received).toHaveLength(2));
      await vi.waitFor(() => expect(otherSink.state.received).toHaveLength(1));
      expect(json.calls).toEqual({ records: 1, json: 0 });
      expect(other.calls).toEqual({ records: 1, json: 0 });
      const [a, b] = [sink.state.by.a![0]!, sink.state.by.b![0]!];
      expect(a.data.equals(b.data)).toBe(true);
      expect(a.records).toEqual(hb(2).records);
      expect(otherSink.state.received[0]!.records).toEqual(hb(2).records.map((r) => ({ ...r, Format: 'other' })));

      const builder = new EncodedBatchBuilder('Heartbeat', 1024, 4, undefined, { maxRecords: 4 });
      builder.beginRecord();
      builder.text(JSON.stringify({ Computer: 'pre', Seq: 1 }));
      builder.endRecord();
      const encoded = builder.finishFrame(1); // laid out as a queue entry in place: appended as it is
      await src.emit(encoded);
      await vi.waitFor(() => expect(sink.state.received).toHaveLength(4));
      await vi.waitFor(() => expect(otherSink.state.received).toHaveLength(2));
      expect(sink.state.by.a![1]!.data.equals(encoded.data)).toBe(true);
      expect(json.calls).toEqual({ records: 1, json: 1 });
      expect(otherSink.state.received[1]!.records).toEqual([{ Computer: 'pre', Seq: 1, Format: 'other' }]);
      await pipeline.stop(1000);
    });

    it('re-encodes queue entries of an older version and of another wire format when they are read', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'oma-pipe-'));
      const q = await openDiskQueue({
        dir: join(dataDir, 'queues', 'd'),
        maxBytes: 1 << 20,
        segmentMaxBytes: 1 << 16,
        fsync: 'never',
        fsyncIntervalMs: 5,
        fullPolicy: 'block',
        log: silentLogger(),
      });
      await q.append(Buffer.from(JSON.stringify({ t: 'Heartbeat', r: [{ Computer: 'old' }] })), 1);
      await q.append(encodeFrame(9, encodeJsonRecords('Heartbeat', [{ Computer: 'other' }]).batch), 1);
      await q.append(Buffer.from([0, 1, 1, 0, 9]), 1); // a damaged frame
      await q.close();
      const { pipeline, sink, metricsRegistry } = await startPipeline({ dataDir, sources: { s: { type: 'scripted' } }, destinations: { d: { type: 'recording' } } });
      await vi.waitFor(() => expect(sink.state.received).toHaveLength(2));
      expect(sink.state.received.map((b) => b.records)).toEqual([[{ Computer: 'old' }], [{ Computer: 'other' }]]);
      await vi.waitFor(() => expect(metricsRegistry.find('oma_component_discarded_records_total')?.sum({ reason: 'undecodable' })).toBe(1));
      await vi.waitFor(() => expect(pipeline.status().destinations[0]!.queueRecords).toBe(0));
      await pipeline.stop(1000);
    });

    it('decodes an encoded batch for the source\'s processors', async () => {
      const { pipeline, src, sink } = await startPipeline({
        sources: { s: { type: 'scripted', processors: [{ type: 'filter', exclude: { Computer: '^drop$' } }] } },
        destinations: { d: { type: 'recording' } },
      });
      await src.emit(encodeJsonRecords('Heartbeat', [{ Computer: 'keep' }, { Computer: 'drop' }]).batch);
      await vi.waitFor(() => expect(sink.state.received).toHaveLength(1));
      expect(sink.state.received[0]!.records).toEqual([{ Computer: 'keep' }]);
      await pipeline.stop(1000);
    });
  });
});
