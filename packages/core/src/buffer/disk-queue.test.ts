import { mkdtempSync } from 'node:fs';
import { open, readdir, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../telemetry/logger.js';
import { FakeClock } from '../testing/fake-clock.js';
import { crc32c } from './crc32c.js';
import { openDiskQueue } from './disk-queue.js';
import { RECORD_HEADER_BYTES, segmentFileName } from './record-format.js';
import type { DiskQueue, DiskQueueOptions, FsyncPolicy, QueueEntry } from './types.js';

let dir: string;
const opened: DiskQueue[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'oma-queue-'));
});

afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((q) => q.close()));
  await rm(dir, { recursive: true, force: true });
});

async function openQueue(over: Partial<DiskQueueOptions> = {}): Promise<DiskQueue> {
  const q = await openDiskQueue({
    dir,
    maxBytes: 1024 * 1024,
    segmentMaxBytes: 64 * 1024,
    fsync: 'interval',
    fsyncIntervalMs: 5,
    fullPolicy: 'block',
    log: silentLogger(),
    ...over,
  });
  opened.push(q);
  return q;
}

async function reopen(q: DiskQueue, over: Partial<DiskQueueOptions> = {}): Promise<DiskQueue> {
  await q.close();
  return openQueue(over);
}

const payload = (i: number, size = 100): Buffer => Buffer.alloc(size, `record-${i};`);

async function segmentFiles(): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
}

/** Reads `n` records (each must arrive promptly). */
async function readN(q: DiskQueue, n: number): Promise<QueueEntry[]> {
  const out: QueueEntry[] = [];
  for (let i = 0; i < n; i++) {
    const e = await q.read(AbortSignal.timeout(10_000));
    if (!e) throw new Error('queue closed while reading');
    out.push(e);
  }
  return out;
}

/** Settles after pending I/O callbacks have run a few times (to observe that something stays pending). */
async function settleIo(q: DiskQueue): Promise<void> {
  await q.flush();
  await new Promise((r) => setImmediate(r));
}

describe('DiskQueue basics', () => {
  it.each<FsyncPolicy>(['always', 'interval', 'never'])('appends, reads and acks in order (fsync %s)', async (fsync) => {
    const q = await openQueue({ fsync });
    const seqs = await Promise.all([0, 1, 2, 3, 4].map((i) => q.append(payload(i), 1)));
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(q.stats()).toMatchObject({ records: 5, nextSeq: 6, ackedThrough: 0 });
    expect(q.stats().bytes).toBe(5 * (RECORD_HEADER_BYTES + 100));

    const got = await readN(q, 5);
    expect(got.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    got.forEach((e, i) => expect(e.payload.equals(payload(i))).toBe(true));
    for (const e of got) q.ack(e.seq);
    expect(q.stats()).toMatchObject({ records: 0, ackedThrough: 5, oldestAppendedAt: undefined });
  });

  it('keeps the append time and reports the oldest unacknowledged one', async () => {
    const before = Date.now();
    const q = await openQueue();
    await q.append(payload(1), 1);
    await q.append(payload(2), 1);
    const [a, b] = await readN(q, 2);
    expect(a!.appendedAt).toBeGreaterThanOrEqual(before);
    expect(a!.appendedAt).toBeLessThanOrEqual(Date.now());
    expect(q.stats().oldestAppendedAt).toBe(a!.appendedAt);
    q.ack(a!.seq);
    expect(q.stats().oldestAppendedAt).toBe(b!.appendedAt);
  });

  it('makes a waiting read resolve when a record is appended', async () => {
    const q = await openQueue();
    const pending = q.read();
    let done = false;
    void pending.then(() => (done = true));
    await settleIo(q);
    expect(done).toBe(false);
    await q.append(payload(7), 1);
    const e = await pending;
    expect(e?.seq).toBe(1);
    expect(e?.payload.equals(payload(7))).toBe(true);
  });

  it('serves concurrent reads one record each, in order', async () => {
    const q = await openQueue();
    const reads = [q.read(), q.read(), q.read()];
    await Promise.all([q.append(payload(0), 1), q.append(payload(1), 1), q.append(payload(2), 1)]);
    const got = await Promise.all(reads);
    expect(got.map((e) => e?.seq)).toEqual([1, 2, 3]);
  });

  it('rejects an aborted read with the reason and keeps the record for the next read', async () => {
    const q = await openQueue();
    const ctrl = new AbortController();
    const r = q.read(ctrl.signal);
    const reason = new Error('stop');
    ctrl.abort(reason);
    await expect(r).rejects.toBe(reason);
    await expect(q.read(AbortSignal.abort(reason))).rejects.toBe(reason);
    await q.append(payload(1), 1);
    expect((await q.read())?.seq).toBe(1);
  });

  it('tracks out-of-order acks and ignores unknown, repeated and unread ones', async () => {
    const q = await openQueue();
    for (let i = 0; i < 5; i++) await q.append(payload(i), 1);
    await readN(q, 4);
    q.ack(3);
    q.ack(2);
    expect(q.stats()).toMatchObject({ ackedThrough: 0, records: 3 });
    q.ack(5); // not handed out yet
    q.ack(99);
    q.ack(0);
    q.ack(-1);
    q.ack(2.5);
    q.ack(3);
    expect(q.stats()).toMatchObject({ ackedThrough: 0, records: 3 });
    q.ack(1);
    expect(q.stats()).toMatchObject({ ackedThrough: 3, records: 2 });
    q.ack(1);
    q.ack(4);
    expect(q.stats()).toMatchObject({ ackedThrough: 4, records: 1 });
    expect((await q.read())?.seq).toBe(5);
    q.ack(5);
    expect(q.stats()).toMatchObject({ ackedThrough: 5, records: 0 });
  });

  it('rejects a payload that can never fit', async () => {
    const q = await openQueue({ maxBytes: 4096, segmentMaxBytes: 2048 });
    await expect(q.append(Buffer.alloc(2048), 1)).rejects.toMatchObject({ code: 'OMA_ERR_BUFFER_TOO_LARGE' });
    await expect(q.append(Buffer.alloc(2048 - RECORD_HEADER_BYTES + 1), 1)).rejects.toMatchObject({
      code: 'OMA_ERR_BUFFER_TOO_LARGE',
    });
    expect(await q.append(Buffer.alloc(2048 - RECORD_HEADER_BYTES), 1)).toBe(1);
    const q2 = await reopen(q, { maxBytes: 1000, segmentMaxBytes: 1 << 20 });
    await expect(q2.append(Buffer.alloc(1000), 1)).rejects.toThrow(/can never fit/);
  });

  it('rejects invalid options with every issue', async () => {
    await expect(
      openDiskQueue({
        dir,
        maxBytes: 0,
        segmentMaxBytes: -1,
        fsync: 'sometimes' as FsyncPolicy,
        fsyncIntervalMs: Number.NaN,
        fullPolicy: 'block',
        log: silentLogger(),
      }),
    ).rejects.toMatchObject({ code: 'OMA_ERR_CONFIG_INVALID', issues: expect.arrayContaining([expect.objectContaining({ path: 'maxBytes' })]) as unknown });
  });

  it('rolls segments and deletes one only when every record in it is acknowledged', async () => {
    const rec = RECORD_HEADER_BYTES + 100;
    const q = await openQueue({ segmentMaxBytes: 3 * rec });
    for (let i = 0; i < 8; i++) await q.append(payload(i), 1);
    expect(await segmentFiles()).toEqual([segmentFileName(1), segmentFileName(4), segmentFileName(7)]);
    const got = await readN(q, 8);
    q.ack(1);
    q.ack(3);
    q.ack(4);
    q.ack(5);
    q.ack(6);
    await q.flush();
    expect(await segmentFiles()).toEqual([segmentFileName(1), segmentFileName(4), segmentFileName(7)]);
    q.ack(2);
    await q.flush();
    expect(await segmentFiles()).toEqual([segmentFileName(7)]);
    expect(q.stats().bytes).toBe(2 * rec);
    // The active segment stays while it is written to, even when fully acknowledged.
    for (const e of got.slice(6)) q.ack(e.seq);
    await q.flush();
    expect(await segmentFiles()).toEqual([segmentFileName(7)]);
    expect(q.stats()).toMatchObject({ records: 0, ackedThrough: 8 });
  });

  it('replays exactly the unacknowledged records after a restart, and continues the seqs', async () => {
    let q = await openQueue({ segmentMaxBytes: 3 * (RECORD_HEADER_BYTES + 100) });
    for (let i = 0; i < 7; i++) await q.append(payload(i), 1);
    await readN(q, 7);
    for (const s of [1, 2, 4, 6, 7]) q.ack(s);
    expect(q.stats().ackedThrough).toBe(2);
    q = await reopen(q);
    expect(q.recovery).toMatchObject({ replayed: 5, corrupt: 0, badSegments: 0 });
    expect(q.stats()).toMatchObject({ records: 5, ackedThrough: 2, nextSeq: 8 });
    const again = await readN(q, 5);
    // Acks above the contiguous mark were in memory only: those records come again (at-least-once).
    expect(again.map((e) => e.seq)).toEqual([3, 4, 5, 6, 7]);
    again.forEach((e) => expect(e.payload.equals(payload(e.seq - 1))).toBe(true));
    expect(await q.append(payload(8), 1)).toBe(8);
    for (const e of again) q.ack(e.seq);
    q = await reopen(q);
    expect(q.recovery.replayed).toBe(1);
    const [last] = await readN(q, 1);
    expect(last).toMatchObject({ seq: 8 });
    q.ack(8);
    q = await reopen(q);
    expect(q.recovery).toMatchObject({ replayed: 0, corrupt: 0, badSegments: 0 });
    expect(q.stats()).toMatchObject({ records: 0, bytes: 0, nextSeq: 9, ackedThrough: 8 });
    expect(await q.append(payload(9), 1)).toBe(9);
  });

  it('does not reuse seqs after everything was acknowledged and deleted', async () => {
    let q = await openQueue({ segmentMaxBytes: 2 * (RECORD_HEADER_BYTES + 100) });
    for (let i = 0; i < 5; i++) await q.append(payload(i), 1);
    for (const e of await readN(q, 5)) q.ack(e.seq);
    q = await reopen(q);
    await q.flush();
    expect(await segmentFiles()).toEqual([]);
    q = await reopen(q);
    expect(await q.append(payload(6), 1)).toBe(6);
  });
});

describe('DiskQueue full policies', () => {
  const rec = RECORD_HEADER_BYTES + 100;

  it('block: append waits for space and is released by acks', async () => {
    const q = await openQueue({ maxBytes: 3 * rec, segmentMaxBytes: 2 * rec });
    for (let i = 0; i < 3; i++) await q.append(payload(i), 1);
    let seq4: number | undefined;
    const blocked = q.append(payload(3), 1).then((s) => (seq4 = s));
    await settleIo(q);
    expect(seq4).toBeUndefined();
    const [a, b] = await readN(q, 2);
    q.ack(b!.seq);
    await settleIo(q);
    expect(seq4).toBeUndefined(); // seq 1 still holds the first segment
    q.ack(a!.seq);
    await blocked;
    expect(seq4).toBe(4);
    expect(q.stats().bytes).toBeLessThanOrEqual(3 * rec);
  });

  it('block: rolls a fully acknowledged active segment to make room', async () => {
    const q = await openQueue({ maxBytes: 2 * rec, segmentMaxBytes: 4 * rec });
    await q.append(payload(0), 1);
    await q.append(payload(1), 1);
    const blocked = q.append(payload(2), 1);
    for (const e of await readN(q, 2)) q.ack(e.seq);
    expect(await blocked).toBe(3);
    expect(await segmentFiles()).toEqual([segmentFileName(3)]);
  });

  it('block: an abort rejects the waiting append, later appends still work', async () => {
    const q = await openQueue({ maxBytes: 2 * rec, segmentMaxBytes: 2 * rec });
    await q.append(payload(0), 1);
    await q.append(payload(1), 1);
    const ctrl = new AbortController();
    const blocked = q.append(payload(2), 1, ctrl.signal);
    const second = q.append(payload(3), 1);
    const reason = new Error('shutting down');
    ctrl.abort(reason);
    await expect(blocked).rejects.toBe(reason);
    for (const e of await readN(q, 2)) q.ack(e.seq);
    expect(await second).toBe(3);
    const [e] = await readN(q, 1);
    expect(e!.payload.equals(payload(3))).toBe(true);
  });

  it('drop_oldest: deletes the oldest segments, counts and skips the lost records', async () => {
    const drops: Array<[number, string]> = [];
    const q = await openQueue({
      maxBytes: 6 * rec,
      segmentMaxBytes: 2 * rec,
      fullPolicy: 'drop_oldest',
      onDrop: (n, reason) => drops.push([n, reason]),
    });
    const [first] = await Promise.all([q.append(payload(0), 1), q.append(payload(1), 1)]);
    expect(first).toBe(1);
    const [e1] = await readN(q, 1); // seq 1 handed out, never acked
    for (let i = 2; i < 10; i++) await q.append(payload(i), 1);
    expect(q.stats().bytes).toBeLessThanOrEqual(6 * rec);
    const dropped = drops.reduce((s, [n]) => s + n, 0);
    expect(drops.every(([, r]) => r === 'full')).toBe(true);
    expect(dropped).toBe(4);
    q.ack(e1!.seq); // dropped: a no-op
    const rest = await readN(q, 10 - dropped); // seq 1 (handed out, unacked) was dropped too
    expect(rest.map((e) => e.seq)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(q.stats()).toMatchObject({ records: 6 });
    expect(await segmentFiles()).toEqual([segmentFileName(5), segmentFileName(7), segmentFileName(9)]);
  });

  it('drop_oldest: drops the active segment when it is the only one', async () => {
    const drops: number[] = [];
    const q = await openQueue({
      maxBytes: 2 * rec,
      segmentMaxBytes: 4 * rec,
      fullPolicy: 'drop_oldest',
      onDrop: (n) => drops.push(n),
    });
    await q.append(payload(0), 1);
    await q.append(payload(1), 1);
    expect(await q.append(payload(2), 1)).toBe(3);
    expect(drops).toEqual([2]);
    const [e] = await readN(q, 1);
    expect(e).toMatchObject({ seq: 3 });
    expect(e!.payload.equals(payload(2))).toBe(true);
  });
});

describe('DiskQueue close', () => {
  it('releases a waiting read and a blocked append, and refuses work afterwards', async () => {
    const rec = RECORD_HEADER_BYTES + 100;
    const q = await openQueue({ maxBytes: rec, segmentMaxBytes: rec });
    const r = q.read();
    await q.append(payload(0), 1);
    expect((await r)?.seq).toBe(1);
    const waiting = q.read();
    const blocked = expect(q.append(payload(1), 1)).rejects.toMatchObject({ code: 'OMA_ERR_BUFFER_CLOSED' });
    await q.close();
    expect(await waiting).toBeUndefined();
    await blocked;
    await expect(q.append(payload(2), 1)).rejects.toMatchObject({ code: 'OMA_ERR_BUFFER_CLOSED' });
    expect(await q.read()).toBeUndefined();
    q.ack(1);
    await q.flush();
    await q.close();
  });

  it('writes queued appends before closing', async () => {
    let q = await openQueue({ fsyncIntervalMs: 60_000 });
    // The group fsync would wait a minute: close must write and sync them itself.
    const pending = [0, 1, 2, 3].map((i) => q.append(payload(i), 1));
    await q.close();
    expect(await Promise.all(pending)).toEqual([1, 2, 3, 4]);
    q = await openQueue();
    expect(q.recovery.replayed).toBe(4);
  });
});

describe('DiskQueue recovery', () => {
  const rec = RECORD_HEADER_BYTES + 100;

  async function fill(n: number, over: Partial<DiskQueueOptions> = {}): Promise<DiskQueue> {
    const q = await openQueue(over);
    for (let i = 0; i < n; i++) await q.append(payload(i), 1);
    await q.close();
    return q;
  }

  it('truncating the last segment mid-record loses only the cut records and heals', async () => {
    const drops: Array<[number, string]> = [];
    await fill(10, { segmentMaxBytes: 4 * rec });
    const files = await segmentFiles();
    expect(files).toEqual([segmentFileName(1), segmentFileName(5), segmentFileName(9)]);
    await truncate(join(dir, segmentFileName(9)), rec + 30); // seq 10 torn
    let q = await openQueue({ segmentMaxBytes: 4 * rec, onDrop: (n, r) => drops.push([n, r]) });
    expect(q.recovery).toMatchObject({ replayed: 9, corrupt: 1, badSegments: 1 });
    expect(drops).toEqual([[1, 'corrupt']]);
    expect((await stat(join(dir, segmentFileName(9)))).size).toBe(rec);
    const got = await readN(q, 9);
    expect(got.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await q.append(payload(11), 1)).toBe(11);
    expect((await q.read())?.seq).toBe(11);
    q = await reopen(q, { segmentMaxBytes: 4 * rec });
    expect(q.recovery).toMatchObject({ replayed: 10, corrupt: 0, badSegments: 0 });
    const again = await readN(q, 10);
    expect(again.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 11]);
    expect(again[9]!.payload.equals(payload(11))).toBe(true);
  });

  it('counts every record cut from the tail, even at a record boundary', async () => {
    await fill(6, { segmentMaxBytes: 100 * rec });
    await truncate(join(dir, segmentFileName(1)), 2 * rec);
    const q = await openQueue();
    expect(q.recovery).toMatchObject({ replayed: 2, corrupt: 4, badSegments: 0 });
  });

  it('detects a flipped byte inside a segment, loses only that record', async () => {
    await fill(6, { segmentMaxBytes: 100 * rec });
    const fh = await open(join(dir, segmentFileName(1)), 'r+');
    const at = 2 * rec + RECORD_HEADER_BYTES + 50; // inside the payload of seq 3
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0x40;
    await fh.write(b, 0, 1, at);
    await fh.close();
    const drops: number[] = [];
    let q = await openQueue({ onDrop: (n) => drops.push(n) });
    expect(q.recovery).toMatchObject({ replayed: 5, corrupt: 1, badSegments: 1 });
    expect(drops).toEqual([1]);
    const got = await readN(q, 5);
    expect(got.map((e) => e.seq)).toEqual([1, 2, 4, 5, 6]);
    got.forEach((e) => expect(e.payload.equals(payload(e.seq - 1))).toBe(true));
    // Not counted again on the next start, and acknowledging past the hole works.
    q = await reopen(q);
    expect(q.recovery).toMatchObject({ replayed: 5, corrupt: 0, badSegments: 0 });
    for (const e of await readN(q, 5)) q.ack(e.seq);
    expect(q.stats()).toMatchObject({ ackedThrough: 6, records: 0 });
  });

  it('detects damage in a header length and resyncs on the next record', async () => {
    await fill(4, { segmentMaxBytes: 100 * rec });
    const fh = await open(join(dir, segmentFileName(1)), 'r+');
    await fh.write(Buffer.from([0xff, 0xff, 0x00, 0x00]), 0, 4, rec); // seq 2's length
    await fh.close();
    const q = await openQueue();
    expect(q.recovery).toMatchObject({ replayed: 3, corrupt: 1 });
    expect((await readN(q, 3)).map((e) => e.seq)).toEqual([1, 3, 4]);
  });

  it('detects a record damaged on disk while running and skips it', async () => {
    const drops: Array<[number, string]> = [];
    const q = await openQueue({ segmentMaxBytes: 100 * rec, onDrop: (n, r) => drops.push([n, r]) });
    for (let i = 0; i < 3; i++) await q.append(payload(i), 1);
    const fh = await open(join(dir, segmentFileName(1)), 'r+');
    await fh.write(Buffer.from('X'), 0, 1, rec + RECORD_HEADER_BYTES + 10);
    await fh.close();
    const got = await readN(q, 2);
    expect(got.map((e) => e.seq)).toEqual([1, 3]);
    expect(drops).toEqual([[1, 'corrupt']]);
    expect(q.stats().records).toBe(2);
    q.ack(1);
    q.ack(3);
    expect(q.stats().ackedThrough).toBe(3);
  });

  it('replays everything when the ledger is garbage', async () => {
    let q = await openQueue();
    for (let i = 0; i < 4; i++) await q.append(payload(i), 1);
    for (const e of await readN(q, 2)) q.ack(e.seq);
    await q.close();
    await writeFile(join(dir, 'ledger.json'), '{"version":1,"ackedThrough":');
    q = await openQueue();
    expect(q.recovery).toMatchObject({ replayed: 4, corrupt: 0, badSegments: 0 });
    expect((await readN(q, 4)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(await q.append(payload(5), 1)).toBe(5);
  });

  it('rejects a ledger whose checksum does not match', async () => {
    let q = await openQueue();
    for (let i = 0; i < 3; i++) await q.append(payload(i), 1);
    for (const e of await readN(q, 3)) q.ack(e.seq);
    await q.close();
    const ledger = (await import('node:fs/promises')).readFile(join(dir, 'ledger.json'), 'utf8');
    await writeFile(join(dir, 'ledger.json'), (await ledger).replace('"ackedThrough":3', '"ackedThrough":2'));
    q = await openQueue();
    expect(q.recovery.replayed).toBe(3);
  });

  it('opens with an empty segment file and unknown files in the directory', async () => {
    await writeFile(join(dir, segmentFileName(1)), '');
    await writeFile(join(dir, 'notes.txt'), 'hello');
    await writeFile(join(dir, '123.seg'), 'not ours');
    const q = await openQueue();
    expect(q.recovery).toMatchObject({ replayed: 0, corrupt: 0, badSegments: 0 });
    expect(await q.append(payload(0), 1)).toBeGreaterThanOrEqual(1);
    expect((await q.read())?.payload.equals(payload(0))).toBe(true);
    expect(await readdir(dir)).toEqual(expect.arrayContaining(['notes.txt', '123.seg']));
  });

  it('counts a segment of pure garbage and carries on', async () => {
    await fill(3, { segmentMaxBytes: 100 * rec });
    await writeFile(join(dir, segmentFileName(4)), Buffer.alloc(500, 0xab));
    const q = await openQueue();
    expect(q.recovery).toMatchObject({ replayed: 3, badSegments: 1 });
    expect(q.recovery.corrupt).toBeGreaterThanOrEqual(1);
    expect((await readN(q, 3)).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(await q.append(payload(9), 1)).toBeGreaterThan(4);
  });

  it('counts the records of a vanished segment', async () => {
    await fill(6, { segmentMaxBytes: 2 * rec });
    await rm(join(dir, segmentFileName(3)));
    const q = await openQueue();
    expect(q.recovery).toMatchObject({ replayed: 4, corrupt: 2, badSegments: 0 });
    expect((await readN(q, 4)).map((e) => e.seq)).toEqual([1, 2, 5, 6]);
    await q.close();
    await rm(join(dir, segmentFileName(5)));
    const q2 = await openQueue();
    expect(q2.recovery).toMatchObject({ replayed: 2, corrupt: 2, badSegments: 0 });
    expect(await q2.append(payload(7), 1)).toBe(7);
  });

  it('writes the ledger on a timer while acks flow', async () => {
    const q = await openQueue();
    for (let i = 0; i < 3; i++) await q.append(payload(i), 1);
    for (const e of await readN(q, 3)) q.ack(e.seq);
    await vi.waitFor(
      async () => {
        const text = await (await import('node:fs/promises')).readFile(join(dir, 'ledger.json'), 'utf8');
        expect(JSON.parse(text)).toMatchObject({ ackedThrough: 3 });
      },
      { timeout: 10_000, interval: 20 },
    );
  });
});

describe('age policy (maxAgeMs)', () => {
  it('drops records older than maxAgeMs instead of reading them, counted as expired, and keeps newer ones', async () => {
    const clock = new FakeClock();
    const drops: Array<[number, string]> = [];
    const q = await openQueue({ maxAgeMs: 300, clock, onDrop: (n, reason) => drops.push([n, reason]) });
    for (let i = 0; i < 3; i++) await q.append(payload(i), 1);
    await clock.advance(400);
    await q.append(payload(3), 1);
    const [e] = await readN(q, 1);
    expect(e!.payload.toString()).toMatch(/^record-3;/);
    expect(drops).toEqual([[3, 'expired']]);
    expect(q.stats().records).toBe(1);
    q.ack(e!.seq);
    // The expired records are not replayed after a restart.
    const again = await reopen(q, { maxAgeMs: 0 });
    expect(again.stats().records).toBe(0);
  });

  it('deletes sealed segments whose newest record expired, without any reader', async () => {
    const clock = new FakeClock();
    const drops: Array<[number, string]> = [];
    const q = await openQueue({ segmentMaxBytes: 4 * 1024, maxAgeMs: 400, clock, onDrop: (n, reason) => drops.push([n, reason]) });
    for (let i = 0; i < 100; i++) await q.append(payload(i), 1);
    await q.flush();
    const before = await segmentFiles();
    expect(before.length).toBeGreaterThan(2);
    await clock.advance(500);
    await vi.waitFor(async () => {
      expect((await segmentFiles()).length).toBeLessThanOrEqual(1);
    });
    const dropped = drops.filter(([, r]) => r === 'expired').reduce((n, [c]) => n + c, 0);
    // Every record of a deleted segment counted; what stays is the active segment's.
    expect(dropped + q.stats().records).toBe(100);
    expect(dropped).toBeGreaterThan(50);
  });

  it('without maxAgeMs, old records are kept and read', async () => {
    const clock = new FakeClock();
    const q = await openQueue({ clock });
    await q.append(payload(0), 1);
    await clock.advance(30 * 24 * 3600 * 1000);
    const [e] = await readN(q, 1);
    expect(e!.payload.toString()).toMatch(/^record-0;/);
  });

  it('rejects a negative maxAgeMs', async () => {
    await expect(openQueue({ maxAgeMs: -1 })).rejects.toThrow(/invalid durable queue options/);
  });
});

/** Bytes of one entry of `payload(i)`. */
const ENTRY = RECORD_HEADER_BYTES + 100;

describe('DiskQueue counts telemetry records, not entries', () => {
  it('carries each entry’s record count through append, stats, read and ack', async () => {
    const q = await openQueue();
    await q.append(payload(0), 500);
    await q.append(payload(1), 250);
    expect(q.stats()).toMatchObject({ records: 750, entries: 2 });
    const a = await q.read();
    expect(a).toMatchObject({ seq: 1, records: 500 });
    q.ack(a!.seq);
    expect(q.stats()).toMatchObject({ records: 250, entries: 1 });
    await q.close();
    const again = await openQueue();
    expect(again.recovery).toMatchObject({ replayed: 250 });
    expect(await again.read()).toMatchObject({ seq: 2, records: 250 });
  });

  it('reports records dropped by drop_oldest in records', async () => {
    const drops: Array<[number, string]> = [];
    const q = await openQueue({ maxBytes: 4 * ENTRY, segmentMaxBytes: 2 * ENTRY, fullPolicy: 'drop_oldest', onDrop: (n, r) => drops.push([n, r]) });
    for (let i = 0; i < 6; i++) await q.append(payload(i), 100);
    expect(drops.length).toBeGreaterThan(0);
    expect(drops.every(([n, r]) => r === 'full' && n % 100 === 0)).toBe(true);
    const dropped = drops.reduce((s, [n]) => s + n, 0);
    expect(dropped + q.stats().records).toBe(600);
  });

  it('drop_newest refuses what does not fit, counted in records, and keeps what it holds', async () => {
    const drops: Array<[number, string]> = [];
    const q = await openQueue({ maxBytes: 4 * ENTRY, segmentMaxBytes: 2 * ENTRY, fullPolicy: 'drop_newest', onDrop: (n, r) => drops.push([n, r]) });
    const seqs: number[] = [];
    for (let i = 0; i < 6; i++) seqs.push(await q.append(payload(i), 10));
    expect(seqs).toEqual([1, 2, 3, 4, 0, 0]);
    expect(drops).toEqual([[10, 'full'], [10, 'full']]);
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await q.read())!.payload.toString().slice(0, 9));
    expect(got).toEqual(['record-0;', 'record-1;', 'record-2;', 'record-3;']);
  });

  it('estimates records lost with an unreadable entry from the entries that could be read', async () => {
    let q = await openQueue({ segmentMaxBytes: 100 * ENTRY });
    for (let i = 0; i < 5; i++) await q.append(payload(i), 1000);
    await q.close();
    await truncate(join(dir, segmentFileName(1)), 4 * ENTRY + 10);
    const drops: number[] = [];
    q = await openQueue({ segmentMaxBytes: 100 * ENTRY, onDrop: (n) => drops.push(n) });
    expect(q.recovery).toMatchObject({ replayed: 4000, corrupt: 1000, corruptEntries: 1, corruptEstimated: true, badSegments: 1 });
    expect(drops).toEqual([1000]);
  });

  it('counts a record damaged while running by its own count', async () => {
    const drops: number[] = [];
    const q = await openQueue({ segmentMaxBytes: 100 * ENTRY, onDrop: (n) => drops.push(n) });
    for (let i = 0; i < 3; i++) await q.append(payload(i), 40 + i);
    const fh = await open(join(dir, segmentFileName(1)), 'r+');
    await fh.write(Buffer.from('X'), 0, 1, ENTRY + RECORD_HEADER_BYTES + 10);
    await fh.close();
    expect((await q.read())!.seq).toBe(1);
    expect((await q.read())!.seq).toBe(3);
    expect(drops).toEqual([41]);
    expect(q.stats().records).toBe(40 + 42);
  });

  it('a lost or damaged ledger does not report the deleted, acknowledged records as lost', async () => {
    let q = await openQueue({ segmentMaxBytes: 2 * ENTRY });
    for (let i = 0; i < 8; i++) await q.append(payload(i), 10);
    for (let i = 0; i < 4; i++) q.ack((await q.read())!.seq);
    await q.close();
    expect((await readdir(dir)).filter((n) => n.endsWith('.seg')).sort()).toEqual([segmentFileName(5), segmentFileName(7)]);
    await unlink(join(dir, 'ledger.json'));
    q = await openQueue({ segmentMaxBytes: 2 * ENTRY });
    expect(q.recovery).toMatchObject({ replayed: 40, corrupt: 0, corruptEntries: 0, badSegments: 0 });
    expect((await q.read())!.seq).toBe(5);
    await q.close();
    await writeFile(join(dir, 'ledger.json'), 'garbage');
    q = await openQueue({ segmentMaxBytes: 2 * ENTRY });
    expect(q.recovery).toMatchObject({ replayed: 40, corrupt: 0 });
  });

  it('creates its directory 0700 and its files 0600', async () => {
    if (process.platform === 'win32') return; // POSIX modes only
    const sub = join(dir, 'q');
    const q = await openQueue({ dir: sub });
    await q.append(payload(0), 1);
    q.ack((await q.read())!.seq);
    await q.flush();
    expect((await stat(sub)).mode & 0o777).toBe(0o700);
    for (const name of await readdir(sub)) {
      expect({ name, mode: (await stat(join(sub, name))).mode & 0o777 }).toEqual({ name, mode: 0o600 });
    }
  });
});

/** A segment of the first layout: 24-byte headers without a record count. */
function v1Record(seq: number, at: number, body: Buffer): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(body.length, 0);
  h.writeUInt32LE(seq, 8);
  h.writeUInt32LE(at % 0x1_0000_0000, 16);
  h.writeUInt32LE(Math.floor(at / 0x1_0000_0000), 20);
  h.writeUInt32LE(crc32c(body, crc32c(h.subarray(8, 24))), 4);
  return Buffer.concat([h, body]);
}

describe('segments written by an older version', () => {
  it('are converted on open, with their record counts, and nothing else is lost', async () => {
    const batch = (n: number): Buffer => Buffer.from(JSON.stringify({ t: 'T_CL', r: Array.from({ length: n }, (_, i) => ({ i })) }));
    const t = Date.now();
    await writeFile(join(dir, `${'1'.padStart(20, '0')}.seg`), Buffer.concat([v1Record(1, t, batch(3)), v1Record(2, t, batch(4))]));
    await writeFile(join(dir, `${'3'.padStart(20, '0')}.seg`), Buffer.concat([v1Record(3, t, batch(5))]));
    await writeFile(
      join(dir, 'ledger.json'),
      JSON.stringify({ version: 1, ackedThrough: 1, storedThrough: 3, nextSeq: 4, lost: [], crc: crc32c(Buffer.from('1:1:3:4:')) }),
    );
    const q = await openQueue({ recordsOfLegacyPayload: (p) => (JSON.parse(p.toString()) as { r: unknown[] }).r.length });
    expect(q.recovery).toMatchObject({ converted: 2, replayed: 9, corrupt: 0 });
    expect((await readdir(dir)).filter((n) => n.endsWith('.seg')).sort()).toEqual([segmentFileName(2), segmentFileName(3)]);
    const a = await q.read();
    const b = await q.read();
    expect([a!.seq, a!.records, b!.seq, b!.records]).toEqual([2, 4, 3, 5]);
    expect(JSON.parse(b!.payload.toString())).toMatchObject({ t: 'T_CL' });
    expect(await q.append(payload(9), 1)).toBe(4);
  });
});
