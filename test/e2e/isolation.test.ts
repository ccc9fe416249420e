import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { countRows, readColumn } from './db.js';
import { agentYaml, customLogYaml, useScenario } from './helpers.js';
import { addFault, clearFaults, destinationYaml, serveWorkspace } from './workspace.js';

const QUEUE_MAX_BYTES = 2 * 1024 * 1024;
const SEGMENT_MAX_BYTES = 512 * 1024;
/** Lines written at once; each is its own distinct line of about 200 bytes. */
const CHUNK_LINES = 1000;
/** Enough chunks to fill A's queue about twice over (a line takes some 350 bytes in the queue). */
const CHUNKS = 14;
/** Chunks that must be written, and reach B, after A's queue is full. */
const CHUNKS_AFTER_FULL = 4;

const line = (i: number): string => `iso-${String(i).padStart(6, '0')} ${'x'.repeat(180)}`;

/**
 * Acceptance (destination isolation): two destinations, A and B. A answers 503 and has a small queue
 * (2 MiB, drop_oldest) that fills up while lines keep being written: B still receives every chunk of
 * lines as it is written, exactly once, and once A recovers it receives the newest data.
 */
describe('destination isolation', () => {
  const sc = useScenario('oma-e2e-isolation-');

  it('a destination at 503 whose queue is full neither holds nor duplicates the other', async () => {
    const [a, b] = await Promise.all([serveWorkspace(sc.path('ws-a')), serveWorkspace(sc.path('ws-b'))]);
    sc.track(a.proc, 'SIGTERM');
    sc.track(b.proc, 'SIGTERM');
    const dbA = sc.path('ws-a', 'workspace.db');
    const dbB = sc.path('ws-b', 'workspace.db');
    const { dir: logDir, file } = sc.logFile();
    const dataDir = sc.path('data');
    const config = sc.path('oma.yaml');
    writeFileSync(
      config,
      agentYaml({
        dataDir,
        sources: [customLogYaml('app', 'Iso_CL', `${logDir}/*.log`, ['pollIntervalMs: 50', 'maxBatchBytes: 64KiB'])],
        destinations: [
          // A's sink holds little in memory (one request of 128 KiB in flight), so what A cannot take stays
          // in its queue, which fills up.
          [
            destinationYaml(a, 'a'),
            '    maxConcurrency: 1',
            '    maxRequestBytes: 128KiB',
            `    queue: { maxBytes: ${QUEUE_MAX_BYTES}, segmentMaxBytes: ${SEGMENT_MAX_BYTES}, fullPolicy: drop_oldest }`,
          ].join('\n'),
          destinationYaml(b, 'b'),
        ],
      }),
    );
    await addFault(a, { match: { route: 'ingest' }, action: { status: 503 } });
    const agent = sc.startOma(['run', '--config', config]);
    await agent.waitForOutput(/OMA .* running/);
    await vi.waitFor(() => expect(existsSync(dbA) && existsSync(dbB)).toBe(true), { timeout: 10_000 });

    const queueDir = join(dataDir, 'queues', 'a');
    // Segments may be deleted while they are listed (drop_oldest): those count as empty.
    const queuedBytes = (): number =>
      readdirSync(queueDir)
        .filter((f) => f.endsWith('.seg'))
        .reduce((n, f) => n + (statSync(join(queueDir, f), { throwIfNoEntry: false })?.size ?? 0), 0);
    let written = 0;
    let fullAtChunk: number | undefined;
    for (let chunk = 0; chunk < CHUNKS; chunk++) {
      const lines: string[] = [];
      for (let i = 0; i < CHUNK_LINES; i++) lines.push(line(written + i));
      appendFileSync(file, `${lines.join('\n')}\n`);
      written += CHUNK_LINES;
      // B gets every line written so far, whatever state A's queue is in. The bound is generous: a
      // source held by A's queue would never get there.
      await vi.waitFor(() => expect(countRows(dbB, 'Iso_CL'), `B has every line of chunk ${chunk} and before`).toBe(written), {
        timeout: 20_000,
        interval: 100,
      });
      if (fullAtChunk === undefined && queuedBytes() >= QUEUE_MAX_BYTES - SEGMENT_MAX_BYTES) fullAtChunk = chunk;
    }
    expect(fullAtChunk, "A's queue filled up while lines were written").toBeDefined();
    expect(fullAtChunk!, 'chunks written after A was full').toBeLessThanOrEqual(CHUNKS - 1 - CHUNKS_AFTER_FULL);
    expect(queuedBytes()).toBeLessThanOrEqual(QUEUE_MAX_BYTES);
    // A received nothing while it failed, and its queue dropped its oldest data (logged as an error).
    expect(countRows(dbA, 'Iso_CL')).toBe(0);
    const logFile = join(dataDir, 'logs', 'oma.log');
    await vi.waitFor(
      () => {
        const drops = readFileSync(logFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { level: number; msg: string; component?: string })
          .filter((l) => l.level >= 50 && l.component === 'a' && l.msg === 'durable queue full, dropped the oldest records');
        expect(drops.length).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 200 },
    );

    // B: every line exactly once.
    const rowsB = readColumn(dbB, 'Iso_CL', 'RawData');
    expect(new Set(rowsB).size, 'no line lost in B').toBe(written);
    expect(rowsB.length, 'no duplicates in B').toBe(written);

    // A recovers: it receives the newest data (the whole last chunk), once, and not the dropped oldest.
    await clearFaults(a);
    const newest = Array.from({ length: CHUNK_LINES }, (_, i) => line(written - CHUNK_LINES + i));
    await vi.waitFor(
      () => {
        const have = new Set(readColumn(dbA, 'Iso_CL', 'RawData'));
        expect(newest.filter((l) => !have.has(l))).toEqual([]);
      },
      { timeout: 30_000, interval: 250 },
    );
    const rowsA = readColumn(dbA, 'Iso_CL', 'RawData');
    expect(rowsA.length, 'no duplicates in A').toBe(new Set(rowsA).size);
    expect(rowsA.length, 'A lost its oldest data to drop_oldest').toBeLessThan(written);
    expect((await agent.kill('SIGTERM')).code).toBe(0);
  });
});
