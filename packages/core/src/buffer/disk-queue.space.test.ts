import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../telemetry/logger.js';
import type { DeviceUsage } from './device-space.js';
import { openDiskQueue } from './disk-queue.js';
import type * as FsUtil from './fs-util.js';
import type { DiskQueue, DiskQueueOptions } from './types.js';

/** ENOSPC injected into the queue's writes while `full` is set. */
const device = vi.hoisted(() => ({ full: false, failedWrites: 0 }));
vi.mock('./fs-util.js', async (importOriginal) => {
  const real = await importOriginal<typeof FsUtil>();
  return {
    ...real,
    writeFully: async (...args: Parameters<typeof real.writeFully>) => {
      if (device.full) {
        device.failedWrites++;
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return real.writeFully(...args);
    },
  };
});

let dir: string;
const opened: DiskQueue[] = [];
/** What statfs says: free and total bytes of the pretend device. */
let usage: DeviceUsage | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'oma-queue-space-'));
  device.full = false;
  device.failedWrites = 0;
  usage = { freeBytes: 10 * 1024 * 1024, totalBytes: 100 * 1024 * 1024 };
});

afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((q) => q.close()));
  await rm(dir, { recursive: true, force: true });
});

async function openQueue(over: Partial<DiskQueueOptions> = {}): Promise<DiskQueue> {
  const q = await openDiskQueue(
    {
      dir,
      maxBytes: 1024 * 1024,
      segmentMaxBytes: 4 * 1024,
      fsync: 'interval',
      fsyncIntervalMs: 1,
      fullPolicy: 'block',
      log: silentLogger(),
      ...over,
    },
    { stat: () => Promise.resolve(usage), refreshMs: 0 },
  );
  opened.push(q);
  return q;
}

const payload = (i: number): Buffer => Buffer.alloc(1000, `record-${i};`);

describe('a full device is backpressure, never a loss', () => {
  it('block: a write failing with ENOSPC is held, appends wait, and all resume when space returns', async () => {
    const drops: Array<[number, string]> = [];
    const q = await openQueue({ onDrop: (n, r) => drops.push([n, r]) });
    expect(await q.append(payload(0), 10)).toBe(1);
    device.full = true;
    let settled = 0;
    const pending = [1, 2, 3].map((i) => q.append(payload(i), 10).then((s) => (settled++, s)));
    // Held and retried (about once a second), never dropped, never failed.
    await vi.waitFor(() => expect(device.failedWrites).toBeGreaterThanOrEqual(2), { timeout: 5000 });
    expect(settled).toBe(0);
    expect(q.stats().noSpace).toBe(true);
    device.full = false;
    expect(await Promise.all(pending)).toEqual([2, 3, 4]);
    expect(q.stats()).toMatchObject({ noSpace: false, records: 40 });
    expect(drops).toEqual([]);
    const seqs = [];
    for (let i = 0; i < 4; i++) seqs.push((await q.read())!.payload.toString().slice(0, 9));
    expect(seqs).toEqual(['record-0;', 'record-1;', 'record-2;', 'record-3;']);
  });

  it('block: the free-space floor holds writes before the device is full, and an ack that frees space resumes them', async () => {
    const q = await openQueue({ minFreeBytes: 64 * 1024, minFreePercent: 5 });
    for (let i = 0; i < 8; i++) await q.append(payload(i), 1);
    usage = { freeBytes: 64 * 1024 + 500, totalBytes: 100 * 1024 * 1024 };
    let done = false;
    const p = q.append(payload(9), 1).then(() => (done = true));
    await vi.waitFor(() => expect(q.stats().noSpace).toBe(true), { timeout: 5000 });
    expect(done).toBe(false);
    expect(q.stats().deviceFreeBytes).toBe(64 * 1024 + 500);
    // The reader acknowledges a whole segment; deleting it frees space (as statfs now says).
    for (let i = 0; i < 4; i++) q.ack((await q.read())!.seq);
    usage = { freeBytes: 10 * 1024 * 1024, totalBytes: 100 * 1024 * 1024 };
    await vi.waitFor(() => expect(done).toBe(true), { timeout: 5000 });
    await p;
    expect(q.stats().noSpace).toBe(false);
  });

  it('the floor is the smaller of minFreeBytes and minFreePercent of the device', async () => {
    usage = { freeBytes: 3 * 1024 * 1024, totalBytes: 64 * 1024 * 1024 };
    // 5% of 64 MiB is 3.2 MiB, less than 1 GiB: 3 MiB free is below it.
    const q = await openQueue({ minFreeBytes: 1024 * 1024 * 1024, minFreePercent: 5 });
    let done = false;
    q.append(payload(0), 1).then(
      () => (done = true),
      () => undefined, // failed by close: never stored
    );
    await vi.waitFor(() => expect(q.stats().noSpace).toBe(true), { timeout: 5000 });
    expect(done).toBe(false);
    const q2dir = mkdtempSync(join(tmpdir(), 'oma-queue-space-'));
    try {
      const q2 = await openQueue({ dir: q2dir, minFreeBytes: 1024 * 1024, minFreePercent: 5 });
      expect(await q2.append(payload(0), 1)).toBe(1);
      expect(q2.stats().noSpace).toBe(false);
      await q2.close();
    } finally {
      await rm(q2dir, { recursive: true, force: true });
    }
  });

  it('drop_oldest: the oldest segment goes to make room, counted as no_space in records', async () => {
    const drops: Array<[number, string]> = [];
    const q = await openQueue({ fullPolicy: 'drop_oldest', minFreeBytes: 64 * 1024, minFreePercent: 5, onDrop: (n, r) => drops.push([n, r]) });
    for (let i = 0; i < 8; i++) await q.append(payload(i), 7);
    usage = { freeBytes: 64 * 1024 + 500, totalBytes: 100 * 1024 * 1024 };
    const seq = q.append(payload(8), 7);
    await vi.waitFor(() => expect(drops.length).toBeGreaterThan(0), { timeout: 5000 });
    // The deleted segment gave its space back.
    usage = { freeBytes: 10 * 1024 * 1024, totalBytes: 100 * 1024 * 1024 };
    expect(await seq).toBeGreaterThan(8);
    expect(drops[0]).toEqual([21, 'no_space']); // the oldest segment: three entries of 7 records
  });

  it('drop_newest: new data is dropped while the device is below the floor, counted as no_space', async () => {
    const drops: Array<[number, string]> = [];
    const q = await openQueue({ fullPolicy: 'drop_newest', minFreeBytes: 64 * 1024, minFreePercent: 5, onDrop: (n, r) => drops.push([n, r]) });
    await q.append(payload(0), 3);
    usage = { freeBytes: 1000, totalBytes: 100 * 1024 * 1024 };
    await q.append(payload(1), 5);
    await vi.waitFor(() => expect(drops).toEqual([[5, 'no_space']]), { timeout: 5000 });
    expect(q.stats().records).toBe(3);
  });

  it('an append aborted while its write is held for space is withdrawn: no hang, no loss reported, later writes go on', async () => {
    const drops: Array<[number, string]> = [];
    const q = await openQueue({ onDrop: (n, r) => drops.push([n, r]) });
    device.full = true;
    const ctrl = new AbortController();
    const p = q.append(payload(0), 5, ctrl.signal);
    await vi.waitFor(() => expect(q.stats().noSpace).toBe(true));
    ctrl.abort(new Error('source stopping'));
    await expect(p).rejects.toThrow('source stopping');
    device.full = false;
    expect(await q.append(payload(1), 3)).toBe(2);
    expect((await q.read())!.records).toBe(3);
    await q.close();
    const again = await openQueue({ onDrop: (n, r) => drops.push([n, r]) });
    expect(again.recovery).toMatchObject({ replayed: 3, corrupt: 0, badSegments: 0 });
    expect(drops).toEqual([]);
  });

  it('an append withdrawn while the writer waits for the device\'s free space leaves the batch it writes whole (no record overwritten)', async () => {
    let release: (() => void) | undefined;
    let hold = false;
    const q = await openDiskQueue(
      { dir, maxBytes: 1024 * 1024, segmentMaxBytes: 64 * 1024, fsync: 'interval', fsyncIntervalMs: 1, fullPolicy: 'block', log: silentLogger() },
      {
        stat: () => (hold ? new Promise<DeviceUsage | undefined>((r) => (release = () => r(usage))) : Promise.resolve(usage)),
        refreshMs: 0,
      },
    );
    opened.push(q);
    hold = true;
    const ctrl = new AbortController();
    const a = q.append(Buffer.alloc(100, 'a'), 1, ctrl.signal);
    const b = q.append(Buffer.alloc(200, 'b'), 1);
    // The writer picked A and B and now waits for statfs; A is withdrawn and a bigger C queued meanwhile.
    await vi.waitFor(() => expect(release).toBeDefined());
    ctrl.abort(new Error('source stopping'));
    await expect(a).rejects.toThrow('source stopping');
    const c = q.append(Buffer.alloc(3000, 'c'), 1);
    hold = false;
    release!();
    await Promise.all([b, c]);
    await q.append(Buffer.alloc(500, 'd'), 1);
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = (await q.read())!;
      got.push(`${r.payload.length}${String.fromCharCode(r.payload[0]!)}`);
    }
    expect(got).toEqual(['200b', '3000c', '500d']);
    expect(q.stats().records).toBe(3);
    await q.close();
    const again = await openQueue();
    expect(again.recovery).toMatchObject({ corrupt: 0, badSegments: 0 });
  });

  it('closing while writes are held fails them (never stored, so no position moves) instead of hanging', async () => {
    const q = await openQueue();
    device.full = true;
    const p = q.append(payload(0), 1);
    await vi.waitFor(() => expect(q.stats().noSpace).toBe(true));
    const closed = q.close().catch(() => undefined);
    await expect(p).rejects.toMatchObject({ code: 'OMA_ERR_BUFFER_NO_SPACE' });
    await closed;
  });
});
