import { mkdtempSync } from 'node:fs';
import { open, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../telemetry/logger.js';
import { openDiskQueue } from './disk-queue.js';
import { RECORD_HEADER_BYTES, segmentFileName } from './record-format.js';
import type { DiskQueue, DiskQueueOptions, FsyncPolicy } from './types.js';
import { seededRandom } from '../testing/index.js';

/**
 * Model-based test: random append / read / ack / restart / truncate-tail / flip-byte sequences,
 * checked against an in-memory model of what must be delivered (at least once, in order, nothing
 * invented, nothing lost except what recovery counts).
 */

class Model {
  /** Payload length of every seq ever appended (for the on-disk layout). */
  readonly sizes = new Map<number, number>();
  /** Stored records not yet acknowledged through the contiguous mark, ascending. */
  live: number[] = [];
  readonly payloads = new Map<number, Buffer>();
  /** Acks of this session (lost on restart unless covered by the mark). */
  readonly acked = new Set<number>();
  /** Handed out this session and not acked. */
  delivered: number[] = [];
  /** Last seq handed out this session. */
  cursor = 0;
  /** Seqs whose bytes are no longer in any file (cut from a tail). */
  readonly gone = new Set<number>();
  /** Seqs whose bytes are still in a file but damaged. */
  readonly damaged = new Set<number>();
  lastSeq = 0;

  appended(seq: number, payload: Buffer): void {
    this.sizes.set(seq, payload.length);
    this.live.push(seq);
    this.payloads.set(seq, payload);
    this.lastSeq = seq;
  }

  nextToRead(): number | undefined {
    return this.live.find((s) => s > this.cursor);
  }

  ack(seq: number): void {
    this.acked.add(seq);
    this.delivered = this.delivered.filter((s) => s !== seq);
    while (this.live.length > 0 && this.acked.has(this.live[0]!)) {
      const s = this.live.shift()!;
      this.payloads.delete(s);
      this.acked.delete(s);
    }
  }

  unacked(): number {
    return this.live.filter((s) => !this.acked.has(s)).length;
  }

  restart(): void {
    this.acked.clear();
    this.delivered = [];
    this.cursor = 0;
  }

  /** Records lost: returns how many of them were still unacknowledged (what recovery must count). */
  lose(seqs: Iterable<number>, physicallyGone: boolean): number {
    let n = 0;
    for (const s of seqs) {
      if (physicallyGone) {
        this.gone.add(s);
        this.damaged.delete(s);
      } else this.damaged.add(s);
      const i = this.live.indexOf(s);
      if (i >= 0) {
        this.live.splice(i, 1);
        this.payloads.delete(s);
        n++;
      }
    }
    return n;
  }

  /**
   * Recovery cuts a file at its first bad record when no valid record follows it: damaged records at
   * the end of a file are gone afterwards.
   */
  async settleTails(dir: string): Promise<void> {
    const files = await segmentSeqs(dir);
    for (let k = 0; k < files.length; k++) {
      const records = this.layout(files[k]!, files[k + 1]);
      for (let i = records.length - 1; i >= 0 && this.damaged.has(records[i]!.seq); i--) {
        this.damaged.delete(records[i]!.seq);
        this.gone.add(records[i]!.seq);
      }
    }
  }

  /** Highest seq with an intact record on disk. */
  lastIntact(): number {
    let best = 0;
    for (const s of this.sizes.keys()) if (s > best && !this.gone.has(s) && !this.damaged.has(s)) best = s;
    return best;
  }

  /** Records physically in the segment file starting at `firstSeq` (up to the next file), with offsets. */
  layout(firstSeq: number, nextFirstSeq: number | undefined): Array<{ seq: number; start: number; end: number }> {
    const out: Array<{ seq: number; start: number; end: number }> = [];
    let off = 0;
    const last = nextFirstSeq === undefined ? this.lastSeq : Math.min(this.lastSeq, nextFirstSeq - 1);
    for (let s = firstSeq; s <= last; s++) {
      if (this.gone.has(s)) continue;
      const end = off + RECORD_HEADER_BYTES + (this.sizes.get(s) ?? 0);
      out.push({ seq: s, start: off, end });
      off = end;
    }
    return out;
  }
}

async function segmentSeqs(dir: string): Promise<number[]> {
  return (await readdir(dir))
    .filter((n) => /^\d{20}\.seg$/.test(n))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b);
}

async function runScenario(seed: number, steps: number): Promise<void> {
  const rnd = seededRandom(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const dir = mkdtempSync(join(tmpdir(), `oma-queue-model-${seed}-`));
  const policies: FsyncPolicy[] = ['always', 'interval', 'never'];
  const opts: DiskQueueOptions = {
    dir,
    maxBytes: 64 * 1024 * 1024,
    segmentMaxBytes: 300 + int(1700),
    fsync: policies[int(3)]!,
    fsyncIntervalMs: int(3),
    fullPolicy: 'block',
    log: silentLogger(),
  };
  const m = new Model();
  let q: DiskQueue = await openDiskQueue(opts);
  const trace: string[] = [];
  const fail = (msg: string): never => {
    throw new Error(`seed ${seed}: ${msg}\nlast ops: ${trace.slice(-15).join(' ')}`);
  };

  const reopen = async (expectedCorrupt: number): Promise<void> => {
    q = await openDiskQueue(opts);
    m.restart();
    await m.settleTails(dir);
    if (q.recovery.corrupt !== expectedCorrupt) fail(`recovery counted ${q.recovery.corrupt} lost, model ${expectedCorrupt}`);
    if (q.recovery.replayed !== m.live.length) {
      const got: number[] = [];
      for (let i = 0; i < q.recovery.replayed; i++) got.push((await q.read())!.seq);
      fail(`replayed ${q.recovery.replayed} [${got.join(',')}], model ${m.live.length} [${m.live.join(',')}] stats ${JSON.stringify(q.stats())}`);
    }
  };

  try {
    for (let step = 0; step < steps; step++) {
      const r = rnd();
      if (r < 0.34) {
        const n = 1 + int(3);
        const payloads = Array.from({ length: n }, () => {
          const b = Buffer.allocUnsafe(int(260));
          for (let i = 0; i < b.length; i++) b[i] = int(256);
          return b;
        });
        const seqs = await Promise.all(payloads.map((p) => q.append(p, 1)));
        trace.push(`append${seqs.join(',')}`);
        seqs.forEach((s, i) => {
          if (s !== m.lastSeq + 1) fail(`append got seq ${s}, expected ${m.lastSeq + 1}`);
          m.appended(s, payloads[i]!);
        });
      } else if (r < 0.6) {
        const want = m.nextToRead();
        if (want === undefined) {
          // Nothing to read: a read must wait (and honour its abort).
          const ctrl = new AbortController();
          const p = q.read(ctrl.signal);
          await new Promise((res) => setImmediate(res));
          ctrl.abort(new Error('nothing expected'));
          const outcome = await p.then(
            (e) => `resolved ${e?.seq}`,
            () => 'aborted',
          );
          if (outcome !== 'aborted') fail(`read with nothing to deliver ${outcome}`);
          trace.push('read-none');
          continue;
        }
        const e = await q.read(AbortSignal.timeout(10_000));
        trace.push(`read${e?.seq}`);
        if (!e) fail('read resolved undefined');
        if (e!.seq !== want) fail(`read seq ${e!.seq}, expected ${want}`);
        if (!e!.payload.equals(m.payloads.get(want)!)) fail(`payload of ${want} differs`);
        m.cursor = want;
        m.delivered.push(want);
      } else if (r < 0.82) {
        if (m.delivered.length === 0 || rnd() < 0.1) {
          // No-ops: unknown, not yet handed out, already acknowledged.
          q.ack(m.lastSeq + 1 + int(5));
          q.ack(m.cursor + 1);
          q.ack(int(Math.max(1, m.live[0] ?? 1)));
          trace.push('ack-noop');
        } else {
          const seq = m.delivered[int(m.delivered.length)]!;
          q.ack(seq);
          m.ack(seq);
          trace.push(`ack${seq}`);
        }
      } else if (r < 0.9) {
        await q.close();
        trace.push('restart');
        await reopen(0);
      } else if (r < 0.95) {
        // Truncate the newest segment file at a random point.
        await q.close();
        const seqs = await segmentSeqs(dir);
        const first = seqs[seqs.length - 1];
        if (first === undefined) {
          trace.push('truncate-none');
          await reopen(0);
          continue;
        }
        const path = join(dir, segmentFileName(first));
        const size = (await stat(path)).size;
        const records = m.layout(first, undefined);
        if ((records[records.length - 1]?.end ?? 0) !== size) fail(`model layout ${records.length} records, file ${size} bytes`);
        const cutAt = int(size + 1);
        await truncate(path, cutAt);
        const lost = m.lose(
          records.filter((x) => x.end > cutAt).map((x) => x.seq),
          true,
        );
        trace.push(`truncate${first}@${cutAt}(-${lost})`);
        await reopen(lost);
      } else {
        // Flip a byte somewhere in a random segment file: exactly that record is lost.
        await q.close();
        const seqs = await segmentSeqs(dir);
        if (seqs.length === 0) {
          trace.push('flip-none');
          await reopen(0);
          continue;
        }
        const k = int(seqs.length);
        const first = seqs[k]!;
        const path = join(dir, segmentFileName(first));
        const size = (await stat(path)).size;
        const records = m.layout(first, seqs[k + 1]);
        if ((records[records.length - 1]?.end ?? 0) !== size) fail(`model layout mismatch for ${first}`);
        if (size === 0) {
          await reopen(0);
          continue;
        }
        const at = int(size);
        const hit = records.find((x) => x.start <= at && at < x.end)!;
        if (m.damaged.has(hit.seq)) {
          // A second flip could undo the first one; the model only tracks one.
          trace.push('flip-skip');
          await reopen(0);
          continue;
        }
        const fh = await open(path, 'r+');
        const b = Buffer.alloc(1);
        await fh.read(b, 0, 1, at);
        b[0] = b[0]! ^ (1 << int(8));
        await fh.write(b, 0, 1, at);
        await fh.close();
        const lost = m.lose([hit.seq], false);
        trace.push(`flip${hit.seq}(-${lost})`);
        await reopen(lost);
      }
      const st = q.stats();
      if (st.records !== m.unacked()) fail(`stats.records ${st.records}, model ${m.unacked()}`);
      if (st.nextSeq !== m.lastSeq + 1) fail(`stats.nextSeq ${st.nextSeq}, model ${m.lastSeq + 1}`);
    }

    // Drain: everything still owed comes out in order, then nothing more; acking it all empties the queue.
    for (let want = m.nextToRead(); want !== undefined; want = m.nextToRead()) {
      const e = await q.read(AbortSignal.timeout(10_000));
      if (e?.seq !== want) fail(`drain read ${e?.seq}, expected ${want}`);
      m.cursor = want;
      m.delivered.push(want);
    }
    for (const s of [...m.delivered]) {
      q.ack(s);
      m.ack(s);
    }
    expect(m.live).toEqual([]);
    expect(q.stats().records).toBe(0);
    expect(q.stats().ackedThrough).toBeGreaterThanOrEqual(m.lastIntact());
    expect(q.stats().ackedThrough).toBeLessThanOrEqual(m.lastSeq);
    await q.close();
    q = await openDiskQueue(opts);
    expect(q.recovery).toMatchObject({ replayed: 0, corrupt: 0, badSegments: 0 });
    await q.flush();
    expect(await segmentSeqs(dir)).toEqual([]);
  } finally {
    await q.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('DiskQueue model', () => {
  it.each([1, 2, 3, 4, 5, 6])(
    'random operations agree with the model (seed %i)',
    async (seed) => {
      await runScenario(seed, 300);
    },
    30_000,
  );
});
