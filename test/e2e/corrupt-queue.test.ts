import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { startOma, tempDir, type OmaProcess } from './helpers.js';
import { addFault, clearFaults, destinationYaml, serveWorkspace, type ServedWorkspace } from './workspace.js';
import { readColumn } from './db.js';

/**
 * Acceptance: with data queued (the workspace answers 503), the agent stops, the last queue segment is
 * cut mid-record, and the agent starts again: it logs how many records were lost and delivers the rest.
 */
describe('a corrupt queue segment', () => {
  const dir = tempDir('oma-e2e-corrupt-');
  let ws: ServedWorkspace | undefined;
  let agent: OmaProcess | undefined;

  afterAll(async () => {
    await agent?.kill('SIGKILL');
    await ws?.proc.kill('SIGTERM');
    dir.remove();
  });

  it('starts, logs the loss and delivers everything else', async () => {
    ws = await serveWorkspace(join(dir.path, 'workspace'));
    await addFault(ws, { match: { route: 'ingest' }, action: { status: 503 } });
    const logDir = join(dir.path, 'logs');
    mkdirSync(logDir);
    const file = join(logDir, 'app.log');
    writeFileSync(file, '');
    const dataDir = join(dir.path, 'data');
    const config = join(dir.path, 'oma.yaml');
    writeFileSync(
      config,
      [
        `dataDir: ${dataDir}`,
        'statusIntervalMs: 0',
        'observability: { enabled: false }',
        'sources:',
        '  app:',
        '    type: custom_log',
        '    table: Corrupt_CL',
        `    filePatterns: ["${logDir}/*.log"]`,
        '    startAt: beginning',
        'destinations:',
        destinationYaml(ws),
        '',
      ].join('\n'),
    );
    agent = startOma(['run', '--config', config]);
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

    agent = startOma(['run', '--config', config]);
    await agent.waitForOutput(/OMA .* running/);
    const dbFile = join(dir.path, 'workspace', 'workspace.db');
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
