import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDiskQueue } from '../buffer/disk-queue.js';
import type { DiskQueue, DiskQueueOptions, QueueEntry } from '../buffer/types.js';
import type { LogRecord } from '../model/record.js';
import { silentLogger } from '../telemetry/logger.js';
import { seededRandom } from '../testing/prng.js';
import { BufferPool } from './buffer-pool.js';
import { decodeFrame, encodeFrame, frameBytes } from './frame.js';
import { decodeJsonRecords, encodeJsonRecords } from './format.js';

/**
 * Model test of the durable queue holding frames, the way the pipeline uses it: entries encoded into
 * pooled buffers that are reused as soon as the append resolved, read back as views, settled out of order
 * (acknowledged and their memory given back to the queue, which reads later entries into it), with
 * restarts in between. Checked against the model: every entry read decodes to the records appended under
 * its seq, entries still held keep their bytes while others' memory is reused, and a restart replays
 * exactly the entries not acknowledged, in order.
 */

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function options(dir: string): DiskQueueOptions {
  return { dir, maxBytes: 64 << 20, segmentMaxBytes: 1 << 20, fsync: 'interval', fsyncIntervalMs: 1, fullPolicy: 'block', log: silentLogger() };
}

describe('queue of frames (model)', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`keeps every frame intact through reuse of memory, out-of-order settles and restarts (seed ${seed})`, async () => {
      const random = seededRandom(seed);
      const dir = mkdtempSync(join(tmpdir(), 'oma-frames-'));
      dirs.push(dir);
      const frames = new BufferPool(4);
      const all = new Map<number, LogRecord[]>(); // seq -> records
      // Entries the queue holds: not acknowledged, or acknowledged above the contiguous mark (a restart
      // replays those: only the contiguous prefix of acknowledgements is persisted).
      const expected = new Map<number, LogRecord[]>();
      const acked = new Set<number>();
      const markThrough = (): number => {
        let m = 0;
        for (const seq of [...all.keys()].sort((a, b) => a - b)) {
          if (!acked.has(seq)) break;
          m = seq;
        }
        return m;
      };
      let q: DiskQueue = await openDiskQueue(options(dir));
      let held: QueueEntry[] = [];
      let n = 0;
      /** Entries appended (or replayed) and not read yet. */
      let readable = 0;
      const check = (e: QueueEntry): void => {
        const f = decodeFrame(e.payload);
        expect(f.batch.table).toBe('Model_CL');
        expect(decodeJsonRecords(f.batch), `seq ${e.seq}`).toEqual(all.get(e.seq));
        expect(e.records).toBe(f.batch.count);
      };
      for (let step = 0; step < 300; step++) {
        const op = random();
        if (op < 0.4) {
          readable++;
          // Append a batch of random size (some entries over the queue's 512 KiB read-ahead).
          const count = 1 + Math.floor(random() * (random() < 0.1 ? 4000 : 60));
          const records: LogRecord[] = Array.from({ length: count }, (_, i) => ({ N: n++, I: i, S: 'é"\\'.repeat(Math.floor(random() * 60)) }));
          const batch = encodeJsonRecords('Model_CL', records).batch;
          const pooled = frames.take(frameBytes(batch));
          const seq = await q.append(encodeFrame(1, batch, pooled), count);
          frames.give(pooled); // the queue wrote it: the pipeline reuses the memory at once
          all.set(seq, records);
          expected.set(seq, records);
        } else if (op < 0.75) {
          if (readable === 0) continue;
          const e = await q.read(AbortSignal.timeout(5000));
          if (!e) continue;
          check(e);
          held.push(e);
          readable--;
        } else if (op < 0.95) {
          if (held.length === 0) continue;
          // Settle one held entry, any of them: acknowledged, its memory given back.
          const i = Math.floor(random() * held.length);
          const e = held.splice(i, 1)[0]!;
          check(e);
          q.ack(e.seq);
          q.recycle(e.payload);
          acked.add(e.seq);
          expected.delete(e.seq);
          // Entries still held keep their bytes while recycled memory is read into.
          for (const h of held) check(h);
        } else {
          await q.close();
          q = await openDiskQueue(options(dir));
          held = [];
          const mark = markThrough();
          expected.clear();
          for (const [seq, records] of all) if (seq > mark) expected.set(seq, records);
          for (const seq of expected.keys()) acked.delete(seq);
          readable = expected.size;
          expect(q.recovery.corrupt).toBe(0);
          expect(q.stats().entries).toBe(expected.size);
        }
      }
      // After a last restart, everything the model says the queue holds is read back, in order, intact.
      await q.close();
      q = await openDiskQueue(options(dir));
      const mark = markThrough();
      expected.clear();
      for (const [seq, records] of all) if (seq > mark) expected.set(seq, records);
      const rest: number[] = [];
      while (rest.length < expected.size) {
        const e = (await q.read(AbortSignal.timeout(5000)))!;
        check(e);
        rest.push(e.seq);
      }
      expect(rest).toEqual([...expected.keys()].sort((a, b) => a - b));
      await q.close();
    });
  }
});
