import { afterEach, describe, expect, it, vi } from 'vitest';
import { validateRecord } from '../../model/validate.js';
import { HEARTBEAT } from '../../model/tables.js';
import { testSourceContext } from '../../testing/index.js';
import { heartbeatConfigSchema } from './config.js';
import { HeartbeatSource } from './heartbeat.js';

describe('heartbeat source', () => {
  afterEach(() => vi.useRealTimers());

  it('emits a valid Heartbeat record at start and then every interval', async () => {
    vi.useFakeTimers();
    const ctx = testSourceContext();
    const src = new HeartbeatSource(heartbeatConfigSchema.parse({ intervalMs: '60s' }), ctx);
    await src.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(ctx.emitted).toHaveLength(1);
    const rec = ctx.emitted[0]!.records[0]!;
    expect(ctx.emitted[0]!.table).toBe('Heartbeat');
    expect(validateRecord(HEARTBEAT, rec)).toEqual([]);
    expect(rec).toMatchObject({
      Computer: 'test-host',
      Category: 'Direct Agent',
      SCAgentChannel: 'Direct',
      OSType: 'Linux',
      OSName: 'Test Linux',
      OSMajorVersion: '1',
      OSMinorVersion: '2',
      Version: '0.0.0-test',
      ComputerPrivateIPs: ['10.0.0.5'],
    });
    await vi.advanceTimersByTimeAsync(59_999);
    expect(ctx.emitted).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(ctx.emitted).toHaveLength(2);
    await src.stop(AbortSignal.timeout(1000));
    await vi.advanceTimersByTimeAsync(120_000);
    expect(ctx.emitted).toHaveLength(2);
  });

  it('does not pile up heartbeats while the queue blocks, and stops while blocked', async () => {
    vi.useFakeTimers();
    const ctx = testSourceContext();
    ctx.hold();
    const src = new HeartbeatSource(heartbeatConfigSchema.parse({ intervalMs: 1000 }), ctx);
    await src.start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ctx.emitted).toHaveLength(0);
    ctx.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(ctx.emitted).toHaveLength(1);
    ctx.hold();
    await vi.advanceTimersByTimeAsync(1000);
    await src.stop(AbortSignal.timeout(1000));
    expect(ctx.emitted).toHaveLength(1);
  });

  it('reports a heartbeat it cannot build to the pipeline instead of throwing in its timer', async () => {
    vi.useFakeTimers();
    let broken = false;
    const clock = {
      now: () => (broken ? Number.NaN : Date.now()),
      sleep: () => Promise.resolve(),
    };
    const ctx = testSourceContext({ clock });
    const src = new HeartbeatSource(heartbeatConfigSchema.parse({ intervalMs: 1000 }), ctx);
    await src.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(ctx.emitted).toHaveLength(1);
    broken = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(ctx.emitted).toHaveLength(1);
    expect(ctx.failures).toHaveLength(1);
    expect(ctx.failures[0]).toBeInstanceOf(RangeError);
    await src.stop(AbortSignal.timeout(1000));
  });

  it('rejects an interval under one second', () => {
    expect(heartbeatConfigSchema.safeParse({ intervalMs: 10 }).success).toBe(false);
  });
});
