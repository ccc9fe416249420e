import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { agentYaml, customLogYaml, useScenario } from './helpers.js';
import { addFault, clearFaults, destinationYaml, scenarioWorkspace } from './workspace.js';
import { readColumn } from './db.js';

/**
 * Acceptance: with data queued (the workspace answers 503), the agent stops, the last queue segment is
 * cut mid-record, and the agent starts again: it logs how many records were lost and delivers the rest.
 */
describe('a corrupt queue segment', () => {
  const sc = useScenario('oma-e2e-corrupt-');

  it('starts, logs the loss and delivers everything else', async () => {
    const ws = await scenarioWorkspace(sc);
    await addFault(ws, { match: { route: 'ingest' }, action: { status: 503 } });
    const { dir: logDir, file } = sc.logFile();
    const dataDir = sc.path('data');
    const config = sc.path('oma.yaml');
    writeFileSync(
      config,
      agentYaml({ dataDir, sources: [customLogYaml('app', 'Corrupt_CL', `${logDir}/*.log`)], destinations: [destinationYaml(ws)] }),
    );
    let agent = sc.startOma(['run', '--config', config]);
    await agent.waitForOutput(/OMA .* running/);
    // Ten separate writes, each read as its own batch, so the queue holds several records.
    const queueDir = join(dataDir, 'queues', 'ws');
    const segments = () => readdirSync(queueDir).filter((f) => f.endsWith('.seg')).sort();
    const queuedBytes = () => segments().reduce((n, f) => n + statSync(join(queueDir, f)).size, 0);
    for (let i = 0; i < 10; i++) {
      const before = queuedBytes();
      appendFileSync(file, `record-${i}\n`);
      await vi.waitFor(() => expect(queuedBytes()).toBeGreaterThan(before), { timeout: 10_000, interval: 50 });
    }
    expect((await agent.kill('SIGTERM')).code).toBe(0);

    const last = join(queueDir, segments().at(-1)!);
    truncateSync(last, statSync(last).size - 7);
    await clearFaults(ws);

    agent = sc.startOma(['run', '--config', config]);
    await agent.waitForOutput(/OMA .* running/);
    const dbFile = sc.path('workspace', 'workspace.db');
    await vi.waitFor(() => expect(readColumn(dbFile, 'Corrupt_CL', 'RawData')).toHaveLength(9), { timeout: 20_000, interval: 200 });
    expect(readColumn(dbFile, 'Corrupt_CL', 'RawData').sort()).toEqual(Array.from({ length: 9 }, (_, i) => `record-${i}`));
    const log = readFileSync(join(dataDir, 'logs', 'oma.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: number; msg: string; corrupt?: number; count?: number });
    const loss = log.find((l) => l.level >= 50 && /lost|corrupt/i.test(l.msg));
    expect(loss, 'an error-level line that reports the loss').toBeDefined();
    await agent.kill('SIGTERM');
  });
});
