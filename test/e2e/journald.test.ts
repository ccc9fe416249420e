import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { toJournalExport, type JournalTestEntry } from '@oma/core/testing';
import { agentYaml, useScenario } from './helpers.js';
import { destinationYaml, scenarioWorkspace } from './workspace.js';
import { countRows, readColumn } from './db.js';

/** Debian's systemd-journal-remote writes journal files from export-format input. */
const JOURNAL_REMOTE = '/lib/systemd/systemd-journal-remote';
const WAIT = { timeout: 30_000, interval: 200 };
const T0 = 1_700_000_000_000_000;

function entries(n: number, from: number): JournalTestEntry[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      realtimeUs: T0 + i * 1000,
      fields: {
        MESSAGE: i % 100 === 42 ? Buffer.from([0x62, 0x69, 0x6e, 0xff, 0x0a]) : `journal entry ${i}`,
        PRIORITY: String(i % 8),
        _SYSTEMD_UNIT: i % 2 === 0 ? 'web.service' : 'db.service',
        SYSLOG_IDENTIFIER: i % 2 === 0 ? 'web' : 'db',
        _PID: String(100 + (i % 2)),
        _HOSTNAME: 'journal-host',
      },
    };
  });
}

/** Appends entries to a journal file (created if missing) with systemd-journal-remote. */
function writeJournal(path: string, list: readonly JournalTestEntry[]): void {
  const r = spawnSync(JOURNAL_REMOTE, [`--output=${path}`, '-'], { input: toJournalExport(list) });
  if (r.status !== 0) throw new Error(`systemd-journal-remote exited ${r.status}: ${r.stderr.toString()}`);
}

describe.runIf(process.platform === 'linux' && existsSync(JOURNAL_REMOTE))('journald source through the oma binary', () => {
  const sc = useScenario('oma-e2e-journald-');

  it('reads a journal directory into the Syslog table, follows a new file, and resumes after a restart', async () => {
    const ws = await scenarioWorkspace(sc);
    const journalDir = sc.path('journal');
    mkdirSync(journalDir);
    writeJournal(join(journalDir, 'system.journal'), entries(1000, 0));
    const dataDir = sc.path('data');
    const config = sc.path('oma.yaml');
    const source = ['  journal:', '    type: journald', `    directory: ${JSON.stringify(journalDir)}`, '    startAt: head', '    minPriority: notice', '    waitTimeoutMs: 500'].join('\n');
    writeFileSync(config, agentYaml({ dataDir, sources: [source], destinations: [destinationYaml(ws)] }));
    const dbFile = sc.path('workspace', 'workspace.db');
    const rows = (): number => (existsSync(dbFile) ? countRows(dbFile, 'Syslog') : 0);
    // Priorities 0..5 of 8 pass minPriority notice.
    const kept = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k).filter((i) => i % 8 <= 5);
    const text = (i: number): string => (i % 100 === 42 ? 'bin\ufffd\n' : `journal entry ${i}`);

    let agent = sc.startOma(['run', '--config', config]);
    await agent.waitForOutput(/OMA .* running/);
    await vi.waitFor(() => expect(rows()).toBe(kept(0, 1000).length), WAIT);
    // Rotation: a new file appears in the directory while the agent runs.
    writeJournal(join(journalDir, 'system@0001.journal'), entries(200, 1000));
    await vi.waitFor(() => expect(rows()).toBe(kept(0, 1200).length), WAIT);
    expect((await agent.kill('SIGTERM')).code).toBe(0);
    const checkpoint = JSON.parse(readFileSync(join(dataDir, 'state', 'sources', 'journal', 'checkpoint.json'), 'utf8')) as { cursor?: string };
    expect(checkpoint.cursor).toMatch(/^s=[0-9a-f]+;i=/);

    // Written while the agent is down: read after the restart, nothing sent twice.
    writeJournal(join(journalDir, 'system@0001.journal'), entries(100, 1200));
    agent = sc.startOma(['run', '--config', config]);
    await agent.waitForOutput(/OMA .* running/);
    await vi.waitFor(() => expect(rows()).toBe(kept(0, 1300).length), WAIT);
    expect((await agent.kill('SIGTERM')).code).toBe(0);

    const messages = readColumn(dbFile, 'Syslog', 'SyslogMessage');
    expect([...messages].sort()).toEqual(kept(0, 1300).map(text).sort());
    expect(new Set(readColumn(dbFile, 'Syslog', 'ProcessName'))).toEqual(new Set(['web', 'db']));
    expect(new Set(readColumn(dbFile, 'Syslog', 'HostName'))).toEqual(new Set(['journal-host']));
    expect(new Set(readColumn(dbFile, 'Syslog', 'SeverityLevel'))).toEqual(new Set(['emerg', 'alert', 'crit', 'err', 'warning', 'notice']));
  });
});
