import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { agentYaml, useScenario, type OmaProcess } from './helpers.js';
import { destinationYaml, scenarioWorkspace } from './workspace.js';
import { readColumn } from './db.js';

const COUNT = 1_000;
const WAIT = { timeout: 30_000, interval: 200 };
const lines = (tag: string): string[] => Array.from({ length: COUNT }, (_, i) => `${tag}-${String(i).padStart(4, '0')}`);
const text = (l: readonly string[]): string => l.map((x) => `${x}\n`).join('');

/**
 * Acceptance: the agent runs with `startAt: end`, stops, 1,000 lines are appended while it is stopped, and
 * its checkpoint is damaged (garbage; JSON cut in the middle with no backup left). After a restart every
 * line written while it was down arrives, the damaged file is kept aside and an error line says so.
 */
describe('a damaged checkpoint', () => {
  const sc = useScenario('oma-e2e-ckpt-');

  it('loses none of the lines written while the agent was down, with startAt end', async () => {
    const ws = await scenarioWorkspace(sc);
    const logDir = sc.path('logs');
    mkdirSync(logDir);
    const dataDir = sc.path('data');
    // One source per kind of damage, each with its own file, table and checkpoint.
    const cases = [
      { id: 'garbage', table: 'CkptGarbage_CL', keepBackup: true },
      { id: 'cut', table: 'CkptCut_CL', keepBackup: false },
    ] as const;
    const source = (c: (typeof cases)[number]): string =>
      [`  ${c.id}:`, '    type: custom_log', `    table: ${c.table}`, `    filePatterns: [${JSON.stringify(join(logDir, `${c.id}.log`))}]`, '    startAt: end'].join('\n');
    for (const c of cases) writeFileSync(join(logDir, `${c.id}.log`), text(['before the first start']));
    const config = sc.path('oma.yaml');
    writeFileSync(config, agentYaml({ dataDir, sources: cases.map(source), destinations: [destinationYaml(ws)] }));
    const start = async (): Promise<OmaProcess> => {
      const p = sc.startOma(['run', '--config', config]);
      await p.waitForOutput(/OMA .* running/);
      return p;
    };
    const dbFile = sc.path('workspace', 'workspace.db');
    const received = (table: string): string[] => (existsSync(dbFile) ? readColumn(dbFile, table, 'RawData') : []);

    let agent = await start();
    // Read only once the source holds its position at the end of the file (startAt end).
    for (const c of cases) {
      const stateDir = join(dataDir, 'state', 'sources', c.id);
      await vi.waitFor(() => expect(existsSync(join(stateDir, 'checkpoint.json'))).toBe(true), WAIT);
    }
    for (const c of cases) appendFileSync(join(logDir, `${c.id}.log`), text(lines('running')));
    for (const c of cases) await vi.waitFor(() => expect(new Set(received(c.table)).size).toBe(COUNT), WAIT);
    expect((await agent.kill('SIGTERM')).code).toBe(0);

    for (const c of cases) {
      appendFileSync(join(logDir, `${c.id}.log`), text(lines('down')));
      const stateDir = join(dataDir, 'state', 'sources', c.id);
      const file = join(stateDir, 'checkpoint.json');
      const good = readFileSync(file, 'utf8');
      expect(JSON.parse(good)).toMatchObject({ version: 1 });
      if (c.id === 'garbage') writeFileSync(file, Buffer.from([0, 0xff, 0x13, 0x37, 0x0a, 0x7b]));
      else writeFileSync(file, good.slice(0, Math.floor(good.length / 2)));
      if (!c.keepBackup) rmSync(join(stateDir, 'checkpoint.json.prev'), { force: true });
    }

    agent = await start();
    for (const c of cases) {
      await vi.waitFor(() => {
        const got = new Set(received(c.table));
        expect(lines('down').filter((l) => !got.has(l))).toEqual([]);
      }, WAIT);
      const got = new Set(received(c.table));
      expect(lines('running').filter((l) => !got.has(l))).toEqual([]);
      const aside = readdirSync(join(dataDir, 'state', 'sources', c.id)).filter((n) => n.startsWith('checkpoint.json.corrupt-'));
      expect(aside, `the damaged checkpoint of ${c.id} kept aside`).toHaveLength(1);
    }
    // Without a backup the file is read from its beginning, whatever startAt says.
    expect(received('CkptCut_CL')).toContain('before the first start');

    const log = readFileSync(join(dataDir, 'logs', 'oma.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: number; msg: string; component?: string; positions?: string; keptAs?: string });
    const damaged = log.filter((l) => l.level === 50 && l.msg.startsWith('checkpoint damaged'));
    expect(damaged.map((l) => [l.component, l.positions]).sort()).toEqual([
      ['cut', 'beginning'],
      ['garbage', 'backup'],
    ]);
    expect(damaged.every((l) => l.keptAs?.includes('checkpoint.json.corrupt-'))).toBe(true);
    expect((await agent.kill('SIGTERM')).code).toBe(0);
  });
});
