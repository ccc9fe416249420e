/**
 * End to end under Wine: the `oma` CLI run by Windows node.exe (the Windows platform, its koffi
 * bindings: the test-double wevtapi.dll seeded with events, Wine's pdh.dll) sends to a local
 * workspace running here on Linux on 127.0.0.1, through the Logs Ingestion API.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, LocalWorkspace } from '@oma/local-workspace';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WINE_SKIP_REASON, WINE_TESTS_ENABLED } from './enabled.js';
import { startUnderWine, windowsFileUrl, windowsPath, winePaths, type WineProcess } from './wine.js';

const paths = winePaths();
const sourcesDir = join(paths.repo, 'packages', 'agent-windows', 'dist', 'sources');
/** The Windows sources, when the built @oma/windows has them. */
const EVENT_SOURCE = existsSync(join(sourcesDir, 'windows_event_log', 'index.js'));
const PERF_SOURCE = existsSync(join(sourcesDir, 'performance_counters', 'index.js'));
const NO_SOURCE = 'the built @oma/windows has no such source';

const PROVIDER = 'OMA-E2E-Provider';
const EVENTS = [1001, 1002, 1003, 1004, 1005];

function eventLine(eventId: number): string {
  const xml =
    `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='${PROVIDER}'/>` +
    `<EventID>${eventId}</EventID><Version>0</Version><Level>2</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x80000000000000</Keywords>` +
    `<TimeCreated SystemTime='2026-12-03T10:00:00.000000000Z'/><EventRecordID>%ID%</EventRecordID><Correlation/><Execution ProcessID='4' ThreadID='8'/>` +
    `<Channel>Application</Channel><Computer>WINEHOST</Computer><Security/></System><EventData><Data>e2e ${eventId}</Data></EventData></Event>`;
  return ['Application', PROVIDER, `Event ${eventId} for the Wine end-to-end test`, xml].join('\t');
}

describe.skipIf(!WINE_TESTS_ENABLED)(`the oma agent under Wine into a local workspace on Linux${WINE_TESTS_ENABLED ? '' : ` (skipped: ${WINE_SKIP_REASON})`}`, () => {
  let dir: string;
  let ws: LocalWorkspace;
  let agent: WineProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oma-wine-agent-'));
    ws = await LocalWorkspace.start({ dataDir: join(dir, 'workspace') });
    const seed = join(dir, 'events.tsv');
    writeFileSync(seed, `${EVENTS.map(eventLine).join('\n')}\n`);
    const config = [
      `dataDir: ${JSON.stringify(windowsPath(join(dir, 'data')))}`,
      'sources:',
      '  heartbeat: { type: heartbeat, intervalMs: 1s }',
      ...(EVENT_SOURCE
        ? ['  events:', '    type: windows_event_log', "    xPathQueries: ['Application!*']", '    startAt: oldest', '    renderMessages: true']
        : []),
      ...(PERF_SOURCE ? ['  perf:', '    type: performance_counters', "    counterSpecifiers: ['\\System\\System Up Time']", '    samplingFrequencySeconds: 1'] : []),
      'destinations:',
      '  ws:',
      '    type: azure_logs_ingestion',
      `    endpoint: ${ws.url}`,
      `    dcrImmutableId: ${ws.dcrImmutableId}`,
      '    flushIntervalMs: 200',
      '    auth:',
      '      type: client_secret',
      `      tenantId: ${ws.tenantId}`,
      `      clientId: ${DEFAULT_CLIENT_ID}`,
      `      clientSecret: ${DEFAULT_CLIENT_SECRET}`,
      `      authorityHost: ${ws.url}`,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'oma.yaml'), config);
    agent = startUnderWine(join(paths.repo, 'packages', 'cli', 'bin', 'oma.js'), ['run', '--config', windowsPath(join(dir, 'oma.yaml'))], {
      cwd: dir,
      env: {
        OMA_WEVTAPI_DOUBLE_SEED: windowsPath(seed),
        // Wine 8 refuses keep-alive set before a TCP connect (see the module).
        NODE_OPTIONS: `--import=${windowsFileUrl(join(paths.scenarios, 'wine-keepalive.js'))}`,
      },
    });
  });

  afterAll(async () => {
    await agent?.stop();
    await ws?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** Waits until `table` has rows that `check` accepts; on timeout the error carries the agent's output. */
  async function waitForRows(table: string, check: (rows: Record<string, unknown>[]) => void): Promise<Record<string, unknown>[]> {
    try {
      return await vi.waitFor(
        async () => {
          const got = await rows(table);
          check(got);
          return got;
        },
        { timeout: 120_000, interval: 500 },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\nthe agent's output:\n${(await agent.output()).slice(-4000)}`, { cause: err });
    }
  }

  async function rows(table: string): Promise<Record<string, unknown>[]> {
    const exited = agent.exited();
    if (exited !== undefined) throw new Error(`the agent ended (${JSON.stringify(exited)}):\n${await agent.output()}`);
    try {
      return ws.store.query({ table, limit: 1000, order: 'asc' }).rows;
    } catch {
      return [];
    }
  }

  it('runs the CLI with the Windows platform under Wine node.exe and delivers Heartbeat rows', async () => {
    const [hb] = await waitForRows('Heartbeat_CL', (r) => expect(r.length).toBeGreaterThan(0));
    expect(hb).toMatchObject({ OSType: 'Windows' });
  });

  it.skipIf(!EVENT_SOURCE)(`delivers the seeded events as Event rows, with their messages${EVENT_SOURCE ? '' : ` (skipped: ${NO_SOURCE})`}`, async () => {
    const got = await waitForRows('Event', (r) => expect(r.length).toBe(EVENTS.length));
    expect(got.map((r) => Number(r.EventID)).sort()).toEqual(EVENTS);
    expect(got[0]).toMatchObject({ Source: PROVIDER, EventLog: 'Application', EventLevelName: 'Error' });
    expect(String(got[0]!.RenderedDescription)).toMatch(/^Event 100\d for the Wine end-to-end test$/);
  });

  it.skipIf(!PERF_SOURCE)(`delivers \\System\\System Up Time as Perf rows${PERF_SOURCE ? '' : ` (skipped: ${NO_SOURCE})`}`, async () => {
    const [perf] = await waitForRows('Perf_CL', (r) => expect(r.length).toBeGreaterThan(0));
    expect(perf).toMatchObject({ ObjectName: 'System', CounterName: 'System Up Time' });
  });
});
