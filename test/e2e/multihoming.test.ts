import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { countRows, readColumn } from './db.js';
import { startOma, tempDir, type OmaProcess } from './helpers.js';
import { addFault, clearFaults, dataCollectorArgs, dataCollectorYaml, destinationYaml, serveWorkspace, type ServedWorkspace } from './workspace.js';

const OUTAGE_MS = 60_000;
const LINES_PER_TICK = 100;
const TICK_MS = 100;
/** Longest a record written during the outage may take to reach the healthy workspace. */
const MAX_LAG_MS = 3_000;

/**
 * Acceptance (multi-homing): three destinations, one durable queue each: workspace A and workspace B
 * through the Logs Ingestion API, and B again through the HTTP Data Collector API (into MultiDc_CL).
 * A answers 503 for 60 s while lines are written at a steady 1,000 per second; both destinations of B
 * keep receiving them at the rate they are written, then A catches up with nothing lost.
 */
describe('multi-homing isolation', () => {
  const dir = tempDir('oma-e2e-multihome-');
  let a: ServedWorkspace | undefined;
  let b: ServedWorkspace | undefined;
  let agent: OmaProcess | undefined;

  afterAll(async () => {
    await agent?.kill('SIGKILL');
    await Promise.all([a?.proc.kill('SIGTERM'), b?.proc.kill('SIGTERM')]);
    dir.remove();
  });

  it('a failing destination neither blocks nor slows the other, and catches up afterwards', async () => {
    [a, b] = await Promise.all([serveWorkspace(join(dir.path, 'ws-a')), serveWorkspace(join(dir.path, 'ws-b'), dataCollectorArgs)]);
    const dbA = join(dir.path, 'ws-a', 'workspace.db');
    const dbB = join(dir.path, 'ws-b', 'workspace.db');
    const logDir = join(dir.path, 'logs');
    mkdirSync(logDir);
    const file = join(logDir, 'app.log');
    writeFileSync(file, '');
    const config = join(dir.path, 'oma.yaml');
    writeFileSync(
      config,
      [
        `dataDir: ${join(dir.path, 'data')}`,
        'statusIntervalMs: 0',
        'observability: { enabled: false }',
        'sources:',
        '  app:',
        '    type: custom_log',
        '    table: Multi_CL',
        `    filePatterns: ["${logDir}/*.log"]`,
        '    startAt: beginning',
        '    pollIntervalMs: 50',
        'destinations:',
        destinationYaml(a, 'a'),
        destinationYaml(b, 'b'),
        dataCollectorYaml(b, 'c', { Multi_CL: 'MultiDc' }),
        '',
      ].join('\n'),
    );
    agent = startOma(['run', '--config', config]);
    await agent.waitForOutput(/OMA .* running/);
    await vi.waitFor(() => expect(existsSync(dbA) && existsSync(dbB)).toBe(true), { timeout: 10_000 });

    await addFault(a, { match: { route: 'ingest' }, action: { status: 503 } });
    let written = 0;
    /** [time, lines written by then] */
    const writes: Array<[number, number]> = [];
    /** [time, rows in B through Logs Ingestion, rows in B through Data Collector] */
    const samples: Array<[number, number, number]> = [];
    const start = Date.now();
    let nextSample = start + 1_000;
    while (Date.now() - start < OUTAGE_MS) {
      const lines: string[] = [];
      for (let i = 0; i < LINES_PER_TICK; i++) lines.push(`line-${written + i}`);
      appendFileSync(file, `${lines.join('\n')}\n`);
      written += LINES_PER_TICK;
      writes.push([Date.now(), written]);
      if (Date.now() >= nextSample) {
        samples.push([Date.now(), countRows(dbB, 'Multi_CL'), countRows(dbB, 'MultiDc_CL')]);
        nextSample += 1_000;
      }
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
    // B kept up during the outage: every sample holds at least what was written MAX_LAG_MS earlier.
    const writtenBy = (t: number): number => writes.filter(([at]) => at <= t).at(-1)?.[1] ?? 0;
    const behind = samples.filter(([at, li, dc]) => Math.min(li, dc) < writtenBy(at - MAX_LAG_MS));
    expect(behind, `samples where B lagged more than ${MAX_LAG_MS} ms`).toEqual([]);
    expect(samples.length).toBeGreaterThan(OUTAGE_MS / 1_000 - 5);
    await vi.waitFor(
      () => {
        expect(countRows(dbB, 'Multi_CL')).toBe(written);
        expect(countRows(dbB, 'MultiDc_CL')).toBe(written);
      },
      { timeout: MAX_LAG_MS * 2, interval: 100 },
    );
    // A received nothing while it failed.
    expect(countRows(dbA, 'Multi_CL')).toBe(0);

    await clearFaults(a);
    await vi.waitFor(() => expect(countRows(dbA, 'Multi_CL')).toBe(written), { timeout: 60_000, interval: 250 });
    for (const [db, table, column] of [
      [dbA, 'Multi_CL', 'RawData'],
      [dbB, 'Multi_CL', 'RawData'],
      [dbB, 'MultiDc_CL', 'Message_s'],
    ] as const) {
      const rows = readColumn(db, table, column);
      expect(new Set(rows).size, 'no line lost').toBe(written);
      expect(rows.length, 'no duplicates without a crash').toBe(written);
    }
    expect((await agent.kill('SIGTERM')).code).toBe(0);
  });
});
