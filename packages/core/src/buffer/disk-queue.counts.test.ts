import { mkdtempSync } from 'node:fs';
import { open, readdir, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../telemetry/logger.js';
import { crc32c } from './crc32c.js';
import { openDiskQueue } from './disk-queue.js';
import { RECORD_HEADER_BYTES, segmentFileName } from './record-format.js';
import type { DiskQueue, DiskQueueOptions } from './types.js';

let dir: string;
const opened: DiskQueue[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'oma-queue-counts-'));
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
    fsyncIntervalMs: 1,
    fullPolicy: 'block',
    log: silentLogger(),
    ...over,
  });
  opened.push(q);
  return q;
}

const payload = (i: number, size = 100): Buffer => Buffer.alloc(size, `record-${i};`);
const rec = RECORD_HEADER_BYTES + 100;

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
    const q = await openQueue({ maxBytes: 4 * rec, segmentMaxBytes: 2 * rec, fullPolicy: 'drop_oldest', onDrop: (n, r) => drops.push([n, r]) });
    for (let i = 0; i < 6; i++) await q.append(payload(i), 100);
    expect(drops.length).toBeGreaterThan(0);
    expect(drops.every(([n, r]) => r === 'full' && n % 100 === 0)).toBe(true);
    const dropped = drops.reduce((s, [n]) => s + n, 0);
    expect(dropped + q.stats().records).toBe(600);
  });

  it('drop_newest refuses what does not fit, counted in records, and keeps what it holds', async () => {
    const drops: Array<[number, string]> = [];
    const q = await openQueue({ maxBytes: 4 * rec, segmentMaxBytes: 2 * rec, fullPolicy: 'drop_newest', onDrop: (n, r) => drops.push([n, r]) });
    const seqs: number[] = [];
    for (let i = 0; i < 6; i++) seqs.push(await q.append(payload(i), 10));
    expect(seqs).toEqual([1, 2, 3, 4, 0, 0]);
    expect(drops).toEqual([[10, 'full'], [10, 'full']]);
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await q.read())!.payload.toString().slice(0, 9));
    expect(got).toEqual(['record-0;', 'record-1;', 'record-2;', 'record-3;']);
  });

  it('estimates records lost with an unreadable entry from the entries that could be read', async () => {
    let q = await openQueue({ segmentMaxBytes: 100 * rec });
    for (let i = 0; i < 5; i++) await q.append(payload(i), 1000);
    await q.close();
    await truncate(join(dir, segmentFileName(1)), 4 * rec + 10);
    const drops: number[] = [];
    q = await openQueue({ segmentMaxBytes: 100 * rec, onDrop: (n) => drops.push(n) });
    expect(q.recovery).toMatchObject({ replayed: 4000, corrupt: 1000, corruptEntries: 1, corruptEstimated: true, badSegments: 1 });
    expect(drops).toEqual([1000]);
  });

  it('counts a record damaged while running by its own count', async () => {
    const drops: number[] = [];
    const q = await openQueue({ segmentMaxBytes: 100 * rec, onDrop: (n) => drops.push(n) });
    for (let i = 0; i < 3; i++) await q.append(payload(i), 40 + i);
    const fh = await open(join(dir, segmentFileName(1)), 'r+');
    await fh.write(Buffer.from('X'), 0, 1, rec + RECORD_HEADER_BYTES + 10);
    await fh.close();
    expect((await q.read())!.seq).toBe(1);
    expect((await q.read())!.seq).toBe(3);
    expect(drops).toEqual([41]);
    expect(q.stats().records).toBe(40 + 42);
  });

  it('a lost or damaged ledger does not report the deleted, acknowledged records as lost', async () => {
    let q = await openQueue({ segmentMaxBytes: 2 * rec });
    for (let i = 0; i < 8; i++) await q.append(payload(i), 10);
    for (let i = 0; i < 4; i++) q.ack((await q.read())!.seq);
    await q.close();
    expect((await readdir(dir)).filter((n) => n.endsWith('.seg')).sort()).toEqual([segmentFileName(5), segmentFileName(7)]);
    await unlink(join(dir, 'ledger.json'));
    q = await openQueue({ segmentMaxBytes: 2 * rec });
    expect(q.recovery).toMatchObject({ replayed: 40, corrupt: 0, corruptEntries: 0, badSegments: 0 });
    expect((await q.read())!.seq).toBe(5);
    await q.close();
    await writeFile(join(dir, 'ledger.json'), 'garbage');
    q = await openQueue({ segmentMaxBytes: 2 * rec });
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
