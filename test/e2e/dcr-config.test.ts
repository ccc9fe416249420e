import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runOma, startOma, tempDir, type OmaProcess } from './helpers.js';

/** An agent data collection rule with one logFiles data source per entry, sent to one workspace. */
function dcr(files: Array<{ name: string; stream: string; pattern: string }>): unknown {
  return {
    location: 'westeurope',
    properties: {
      streamDeclarations: Object.fromEntries(
        files.map((f) => [f.stream, { columns: [{ name: 'TimeGenerated', type: 'datetime' }, { name: 'RawData', type: 'string' }] }]),
      ),
      dataSources: {
        logFiles: files.map((f) => ({
          name: f.name,
          streams: [f.stream],
          filePatterns: [f.pattern],
          format: 'text',
          settings: { text: { recordStartTimestampFormat: 'ISO 8601' } },
        })),
      },
      destinations: { logAnalytics: [{ name: 'law', workspaceResourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law' }] },
      dataFlows: files.map((f) => ({ streams: [f.stream], destinations: ['law'], transformKql: 'source', outputStream: `${f.stream}_CL` })),
    },
  };
}

describe('a data collection rule as the agent\'s source config', () => {
  const dir = tempDir('oma-e2e-dcr-');
  const logs = join(dir.path, 'logs');
  const config = join(dir.path, 'oma.yaml');
  const rule = join(dir.path, 'dcr.json');
  let agent: OmaProcess | undefined;
  let writer: NodeJS.Timeout | undefined;

  afterAll(async () => {
    if (writer) clearInterval(writer);
    await agent?.kill('SIGKILL');
    dir.remove();
  });

  /** Replaces the rule file in one step, as an editor or a deployment tool would. */
  const writeRule = (doc: unknown): void => {
    writeFileSync(`${rule}.tmp`, JSON.stringify(doc, null, 2));
    renameSync(`${rule}.tmp`, rule);
  };
  const rows = async (table: string): Promise<string[]> => {
    const r = await runOma(['query', table, '--json', '--limit', '10000', '--config', config]);
    if (r.code !== 0) throw new Error(`oma query failed (${r.code}): ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => String((JSON.parse(l) as { RawData: unknown }).RawData));
  };

  it('collects what the rule names, and applies a changed rule in the same process without losing lines', async () => {
    mkdirSync(logs);
    const first = join(logs, 'first.log');
    const second = join(logs, 'second.log');
    // Both files exist, empty, before their source first starts: a rule's text logs start at the end of
    // files present at that moment (like AMA), so only lines written afterwards are expected.
    writeFileSync(first, '');
    writeFileSync(second, '');
    writeRule(dcr([{ name: 'FirstFile', stream: 'Custom-DcrFirst', pattern: join(logs, 'first*.log') }]));
    writeFileSync(
      config,
      [
        `dataDir: ${join(dir.path, 'data')}`,
        'statusIntervalMs: 0',
        'observability: { enabled: false }',
        `dataCollectionRule: { file: "${rule}", pollIntervalMs: 200 }`,
        'destinations:',
        '  local: { type: local_workspace }',
        '',
      ].join('\n'),
    );
    const validate = await runOma(['validate', '--config', config]);
    expect(validate.code).toBe(0);
    expect(validate.stdout).toMatch(/valid \(1 sources \(1 from the data collection rule\), 1 destinations\)/);
    expect(validate.stdout).toMatch(/info +dataCollectionRule: properties\.destinations: not used/);

    agent = startOma(['run', '--config', config]);
    const pid = Number((await agent.waitForOutput(/running \(pid (\d+)\)/))[1]);
    expect(pid).toBe(agent.child.pid);
    await agent.waitForOutput(/source dcr-firstfile: .*first\*\.log -> DcrFirst_CL/);
    // Sources start after the banner; a file's end is taken when its source first starts.
    const started = (id: string) => new RegExp(`"component":"${id}"[^\\n]*"msg":"source started"`, 'g');
    await vi.waitFor(() => expect(agent!.stderr).toMatch(started('dcr-firstfile')), { timeout: 15_000, interval: 50 });

    let n = 0;
    const line = (i: number): string => `${new Date().toISOString()} first line ${String(i).padStart(5, '0')}`;
    const expected: string[] = [];
    const append = (): void => {
      const l = line(n++);
      expected.push(l);
      appendFileSync(first, `${l}\n`);
    };
    for (let i = 0; i < 5; i++) append();
    await vi.waitFor(async () => expect(await rows('DcrFirst_CL')).toHaveLength(5), { timeout: 15_000, interval: 250 });

    // Keep writing while the rule changes: the reload stops the source after saving its position.
    writer = setInterval(append, 20);
    await new Promise((r) => setTimeout(r, 300));
    writeRule(
      dcr([
        { name: 'FirstFile', stream: 'Custom-DcrFirst', pattern: join(logs, 'first*.log') },
        { name: 'SecondFile', stream: 'Custom-DcrSecond', pattern: join(logs, 'second*.log') },
      ]),
    );
    await vi.waitFor(() => expect(agent!.stderr).toMatch(/"msg":"config reloaded"/), { timeout: 15_000, interval: 100 });
    expect(agent.stderr).toMatch(/"msg":"data collection rule changed; reloading"/);
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(writer);
    writer = undefined;

    await vi.waitFor(() => expect(agent!.stderr).toMatch(started('dcr-secondfile')), { timeout: 15_000, interval: 50 });
    expect(agent.stderr.match(started('dcr-firstfile'))).toHaveLength(2);
    appendFileSync(second, `${new Date().toISOString()} second a\n${new Date().toISOString()} second b\n`);
    await vi.waitFor(async () => expect((await rows('DcrSecond_CL')).map((r) => r.replace(/^\S+ /, '')).sort()).toEqual(['second a', 'second b']), {
      timeout: 15_000,
      interval: 250,
    });
    // Every line of the first file arrived exactly once, across the reload.
    await vi.waitFor(async () => expect((await rows('DcrFirst_CL')).sort()).toEqual([...expected].sort()), { timeout: 15_000, interval: 250 });
    expect(expected.length).toBeGreaterThan(20);

    // Same process: one start banner, never exited.
    expect(agent.stdout.match(/running \(pid/g)).toHaveLength(1);
    expect(agent.child.exitCode).toBeNull();

    // An invalid rule is reported and the running config kept.
    writeRule({ properties: { dataSources: { logFiles: [{ name: 'broken', streams: ['Custom-DcrFirst'], filePatterns: [''], format: 'text' }] } } });
    await vi.waitFor(() => expect(agent!.stderr).toMatch(/"msg":"data collection rule rejected; keeping the running config"/), { timeout: 15_000, interval: 100 });
    expect(agent.stderr).toMatch(/"path":"dataCollectionRule: properties\.dataSources\.logFiles\[0\]\.filePatterns\[0\]"/);
    appendFileSync(second, `${new Date().toISOString()} second c\n`);
    await vi.waitFor(async () => expect(await rows('DcrSecond_CL')).toHaveLength(3), { timeout: 15_000, interval: 250 });

    expect((await agent.kill('SIGTERM')).code).toBe(0);
  });

  it('oma validate fetches a rule from its URL (or not, with --offline) and prints the report', async () => {
    const doc = dcr([{ name: 'Web', stream: 'Custom-Web', pattern: join(logs, 'web*.log') }]);
    const seen: Array<string | undefined> = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json', etag: '"1"' }).end(JSON.stringify(doc));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rules/web.json?sig=hidden`;
    const cfg = join(dir.path, 'url.yaml');
    writeFileSync(
      cfg,
      [`dataDir: ${join(dir.path, 'data-url')}`, 'dataCollectionRule:', `  url: "${url}"`, '  headers: { Authorization: { env: OMA_E2E_DCR_TOKEN } }', ''].join('\n'),
    );
    try {
      const ok = await runOma(['validate', '--config', cfg], { OMA_E2E_DCR_TOKEN: 'Bearer e2e' });
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/valid \(1 sources \(1 from the data collection rule\), 1 destinations\)/);
      expect(seen).toEqual(['Bearer e2e']);

      const offline = await runOma(['validate', '--config', cfg, '--offline'], { OMA_E2E_DCR_TOKEN: 'Bearer e2e' });
      expect(offline.code).toBe(0);
      expect(offline.stdout).toMatch(/not fetched \(--offline\) and not cached/);
      expect(offline.stdout).not.toMatch(/hidden/);
      expect(seen).toHaveLength(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const down = await runOma(['validate', '--config', cfg], { OMA_E2E_DCR_TOKEN: 'Bearer e2e' });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot be fetched: request failed: .*ECONNREFUSED/);
    expect(down.stderr).not.toMatch(/hidden/);
  });
});
