import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { countRows, readColumn } from './db.js';
import { agentYaml, customLogYaml, useScenario } from './helpers.js';
import { addFault, clearFaults, dataCollectorArgs, dataCollectorYaml, destinationYaml, serveWorkspace } from './workspace.js';

const OUTAGE_MS = 60_000;
const LINES_PER_TICK = 100;
const TICK_MS = 100;
/**
 * How far (in lines) the healthy workspace may trail the writer at any sample during the outage: about
 * 10 s of writing, so that a loaded machine cannot fail the test, while a destination that stops or slows
 * down with the failing one falls behind by more than this within the 60 s outage.
 */
const MAX_BEHIND_LINES = 10_000;
/** How long the healthy workspace may take to hold every line written during the outage, the failing one still down. */
const CATCH_UP_MS = 30_000;

/**
 * Acceptance (multi-homing): three destinations, one durable queue each: workspace A and workspace B
 * through the Logs Ingestion API, and B again through the HTTP Data Collector API (into MultiDc_CL).
 * A answers 503 for 60 s while lines are written at up to 1,000 per second. What is asserted is progress,
 * not wall-clock lag: B is never more than MAX_BEHIND_LINES behind the writer, and holds every line while
 * A still fails and has received nothing; then A catches up, and nothing is lost or duplicated anywhere.
 */
describe('multi-homing isolation', () => {
  const sc = useScenario('oma-e2e-multihome-');

  it('a failing destination neither blocks nor slows the other, and catches up afterwards', async () => {
    const [a, b] = await Promise.all([serveWorkspace(sc.path('ws-a')), serveWorkspace(sc.path('ws-b'), dataCollectorArgs)]);
    sc.track(a.proc, 'SIGTERM');
    sc.track(b.proc, 'SIGTERM');
    const dbA = sc.path('ws-a', 'workspace.db');
    const dbB = sc.path('ws-b', 'workspace.db');
    const { dir: logDir, file } = sc.logFile();
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
    /** [time, lines written by then, rows in B through Logs Ingestion, rows in B through Data Collector] */
    const samples: Array<[number, number, number, number]> = [];
    const start = Date.now();
    let nextSample = start + 1_000;
    while (Date.now() - start < OUTAGE_MS) {
      const lines: string[] = [];
      for (let i = 0; i < LINES_PER_TICK; i++) lines.push(`line-${written + i}`);
      appendFileSync(file, `${lines.join('\n')}\n`);
      written += LINES_PER_TICK;
      if (Date.now() >= nextSample) {
        samples.push([Date.now(), written, countRows(dbB, 'Multi_CL'), countRows(dbB, 'MultiDc_CL')]);
        nextSample += 1_000;
      }
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
    // B kept receiving during the outage: at no sample was it further behind the writer than MAX_BEHIND_LINES.
    const behind = samples.filter(([, w, li, dc]) => w - Math.min(li, dc) > MAX_BEHIND_LINES);
    expect(behind, `samples where B trailed the writer by more than ${MAX_BEHIND_LINES} lines [time, written, li, dc]`).toEqual([]);
    // Sampled through the whole outage (roughly once a second, fewer on a loaded machine).
    expect(samples.length).toBeGreaterThanOrEqual(OUTAGE_MS / 1_000 / 2);
    // B gets every line while A is still failing: it does not wait for A's recovery.
    await vi.waitFor(
      () => {
        expect(countRows(dbB, 'Multi_CL')).toBe(written);
        expect(countRows(dbB, 'MultiDc_CL')).toBe(written);
      },
      { timeout: CATCH_UP_MS, interval: 100 },
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
