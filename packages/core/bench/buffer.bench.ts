import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, describe } from 'vitest';
import { crc32cJs } from '../src/buffer/crc32c.js';
import { crc32c, crc32cImplementation, openDiskQueue, silentLogger, type DiskQueue } from '../src/index.js';
import { seededRandom } from '../src/testing/prng.js';

/**
 * Durable queue throughput. Every iteration moves BATCH_BYTES of payload, so
 * MB/s = ops/s * BATCH_BYTES / 2^20 (4 MiB per op: multiply the hz column by 4).
 * Appends are issued concurrently (as many sources would), so one fsync covers many of them.
 */
const BATCH_BYTES = 4 * 1024 * 1024;
const ITERATIONS = 24;
const WARMUP = 3;

interface Harness {
  dir: string;
  q: DiskQueue;
}

/** Harnesses not yet closed; whatever is left when the process exits has its directory removed. */
const open = new Set<Harness>();
process.once('exit', () => {
  for (const h of open) rmSync(h.dir, { recursive: true, force: true });
});

async function openHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'oma-queue-bench-'));
  const q = await openDiskQueue({
    dir,
    maxBytes: 8 * 1024 * 1024 * 1024,
    segmentMaxBytes: 64 * 1024 * 1024,
    fsync: 'interval',
    fsyncIntervalMs: 50,
    fullPolicy: 'block',
    log: silentLogger(),
  });
  const h = { dir, q };
  open.add(h);
  return h;
}

/**
 * tinybench does not await `teardown`, and the run may end right after it: remove the files at once
 * (synchronously) and let the queue close in the background.
 */
function release(h: Harness | undefined): void {
  if (!h) return;
  open.delete(h);
  rmSync(h.dir, { recursive: true, force: true });
  void h.q.close().catch(() => undefined);
}

for (const size of [1024, 64 * 1024]) {
  const label = size === 1024 ? '1 KiB' : '64 KiB';
  const perBatch = BATCH_BYTES / size;
  const payload = Buffer.alloc(size, 0x61);

  describe(`durable queue, ${label} payloads`, () => {
    let appendH: Harness | undefined;
    bench(
      `append + flush (fsync interval), ${perBatch} records = 4 MiB per op`,
      async () => {
        const q = appendH!.q;
        const pending: Array<Promise<number>> = [];
        for (let i = 0; i < perBatch; i++) pending.push(q.append(payload, 1));
        // flush() is the group commit: it writes and fsyncs now instead of at the next interval tick.
        const all = Promise.all(pending);
        await q.flush();
        await all;
      },
      {
        iterations: ITERATIONS,
        time: 0,
        warmupIterations: WARMUP,
        warmupTime: 0,
        setup: async () => {
          release(appendH);
          appendH = await openHarness();
        },
        teardown: () => {
          release(appendH);
          appendH = undefined;
        },
      },
    );

    let readH: Harness | undefined;
    bench(
      `read + ack, ${perBatch} records = 4 MiB per op`,
      async () => {
        const q = readH!.q;
        for (let i = 0; i < perBatch; i++) {
          const e = await q.read();
          if (!e) throw new Error('queue ran dry');
          q.ack(e.seq);
        }
      },
      {
        iterations: ITERATIONS,
        time: 0,
        warmupIterations: WARMUP,
        warmupTime: 0,
        // Fills the queue for every iteration of the phase (warmup or run) before it starts.
        setup: async (_task, mode) => {
          release(readH);
          readH = await openHarness();
          const n = perBatch * (mode === 'warmup' ? WARMUP : ITERATIONS);
          const pending: Array<Promise<number>> = [];
          for (let i = 0; i < n; i++) {
            pending.push(readH.q.append(payload, 1));
            if (pending.length >= perBatch) await Promise.all(pending.splice(0));
          }
          await Promise.all(pending);
          await readH.q.flush();
        },
        teardown: () => {
          release(readH);
          readH = undefined;
        },
      },
    );
  });
}

/** `@node-rs/crc32`'s own crc32c, where it loads. */
function loadNative(): ((buf: Uint8Array, seed?: number) => number) | undefined {
  try {
    return (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: (buf: Uint8Array, seed?: number) => number }).crc32c;
  } catch {
    return undefined;
  }
}

/**
 * The record checksum alone: `crc32c` as the queue uses it (native from NATIVE_MIN_BYTES up, where
 * `@node-rs/crc32` loads), `@node-rs/crc32` for every length, and the JS implementation. 137 B is a
 * typical log line's record, 1 MiB a large batch.
 */
const nativeCrc32c = loadNative();
for (const size of [137, 1024 * 1024]) {
  const rand = seededRandom(size);
  const data = Buffer.from(Array.from({ length: size }, () => Math.floor(rand() * 256)));
  const label = size === 137 ? '137 B' : '1 MiB';
  describe(`crc32c, ${label} buffers`, () => {
    let sink = 0;
    bench(`crc32c in use (${crc32cImplementation()})`, () => {
      sink ^= crc32c(data, sink & 1);
    });
    if (nativeCrc32c) {
      bench('@node-rs/crc32', () => {
        sink ^= nativeCrc32c(data, sink & 1);
      });
    }
    bench('crc32cJs', () => {
      sink ^= crc32cJs(data, sink & 1);
    });
  });
}
