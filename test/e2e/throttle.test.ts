import { appendFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { readColumn } from './db.js';
import { agentYaml, customLogYaml, useScenario } from './helpers.js';
import { addFault, destinationYaml, scenarioWorkspace } from './workspace.js';

const THROTTLE_MS = 30_000;
const RETRY_AFTER_SEC = 3;
const RETRY_AFTER_MS = RETRY_AFTER_SEC * 1000;
/**
 * How much later than Retry-After a request may follow a 429: generous, so that a loaded machine cannot
 * fail the test, yet far below the 60 s floor a 429 would get if it were treated as a configuration error.
 */
const LATE_SLACK_MS = 15_000;

interface LoggedRequest {
  readonly route: string;
  readonly status: number;
  readonly receivedAt: string;
  readonly records?: number;
}

/**
 * Acceptance: the workspace answers every ingestion request with 429 and `Retry-After: 3` for 30 s, then
 * 204. Nothing is lost, and per the workspace's own request log, every request after a 429 came at least
 * 3 s later (never early) and not much later (the agent resumes when asked, not after a long backoff).
 * No bound depends on how fast the machine is: being slow can only make requests later, and the slack
 * for lateness is many times what a loaded machine adds.
 */
describe('throttling (429 with Retry-After)', () => {
  const sc = useScenario('oma-e2e-throttle-');

  it('waits as long as the service asks and loses nothing', async () => {
    const ws = await scenarioWorkspace(sc);
    const { dir: logDir, file } = sc.logFile();
    const config = sc.path('oma.yaml');
    writeFileSync(
      config,
      agentYaml({
        dataDir: sc.path('data'),
        sources: [customLogYaml('app', 'Throttle_CL', `${logDir}/*.log`)],
        // One request at a time, so that every request after a 429 was sent after its answer arrived.
        destinations: [destinationYaml(ws), '    maxConcurrency: 1'],
      }),
    );
    const until = Date.now() + THROTTLE_MS;
    await addFault(ws, {
      match: { route: 'ingest' },
      action: { status: 429, headers: { 'retry-after': String(RETRY_AFTER_SEC) } },
      untilMs: until,
    });
    const agent = sc.startOma(['run', '--config', config]);
    await agent.waitForOutput(/OMA .* running/);
    let written = 0;
    while (Date.now() < until + 2_000) {
      appendFileSync(file, `line-${written}\nline-${written + 1}\n`);
      written += 2;
      await new Promise((r) => setTimeout(r, 250));
    }
    const dbFile = sc.path('workspace', 'workspace.db');
    await vi.waitFor(() => expect(readColumn(dbFile, 'Throttle_CL', 'RawData')).toHaveLength(written), { timeout: 60_000, interval: 200 });
    expect(new Set(readColumn(dbFile, 'Throttle_CL', 'RawData')).size).toBe(written);

    const res = await fetch(`${ws.url}/_admin/requests?route=ingest`);
    const { requests } = (await res.json()) as { requests: LoggedRequest[] };
    const sent = requests.map((r) => ({ at: Date.parse(r.receivedAt), status: r.status })).sort((x, y) => x.at - y.at);
    const throttled = sent.filter((r) => r.status === 429);
    // Retried through the whole window, from the first 429 (however late the agent started) to its end.
    const throttledSpan = until - throttled[0]!.at;
    expect(throttled.length, 'requests answered 429').toBeGreaterThanOrEqual(Math.floor(throttledSpan / (RETRY_AFTER_MS + LATE_SLACK_MS)));
    // At most one request per Retry-After period while throttled (the gaps below enforce it; this names it).
    expect(throttled.length).toBeLessThanOrEqual(Math.ceil(THROTTLE_MS / RETRY_AFTER_MS) + 1);
    const early: string[] = [];
    const late: string[] = [];
    for (let i = 1; i < sent.length; i++) {
      const prev = sent[i - 1]!;
      if (prev.status !== 429) continue;
      const gap = sent[i]!.at - prev.at;
      if (gap < RETRY_AFTER_MS) early.push(`request ${i} came ${gap} ms after a 429`);
      if (gap > RETRY_AFTER_MS + LATE_SLACK_MS) late.push(`request ${i} came ${gap} ms after a 429`);
    }
    expect(early, 'requests sooner than Retry-After').toEqual([]);
    expect(late, 'requests much later than Retry-After').toEqual([]);
    expect(sent.at(-1)!.status).toBe(204);
    expect((await agent.kill('SIGTERM')).code).toBe(0);
  });
});
