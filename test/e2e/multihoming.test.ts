import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { countRows, readColumn } from './db.js';
import { agentYaml, customLogYaml, useScenario } from './helpers.js';
import { addFault, clearFaults, dataCollectorArgs, dataCollectorYaml, destinationYaml, serveWorkspace } from './workspace.js';

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
  const sc = useScenario('oma-e2e-multihome-');

  it('a failing destination neither blocks nor slows the other, and catches up afterwards', async () => {
    const [a, b] = await Promise.all([serveWorkspace(sc.path('ws-a')), serveWorkspace(sc.path('ws-b'), dataCollectorArgs)]);
    sc.track(a.proc, 'SIGTERM');
    sc.track(b.proc, 'SIGTERM');
    const dbA = sc.path('ws-a', 'workspace.db');
    const dbB = sc.path('ws-b', 'workspace.db');
    const logDir = sc.path('logs');
    mkdirSync(logDir);
    const file = join(logDir, 'app.log');
    writeFileSync(file, '');
    const config = sc.path('oma.yaml');
    writeFileSync(
      config,
      agentYaml({
        dataDir: sc.path('data'),
        sources: [customLogYaml('app', 'Multi_CL', `${logDir}/*.log`, ['pollIntervalMs: 50'])],
        destinations: [destinationYaml(a, 'a'), destinationYaml(b, 'b'), dataCollectorYaml(b, 'c', { Multi_CL: 'MultiDc' })],
      }),
    );
    const agent = sc.startOma(['run', '--config', config]);
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
