import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { agentYaml, runOma, useScenario, type OmaProcess } from './helpers.js';

const FIELDS =
  'date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken';
const UA = 'Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/120.0.0.0+Safari/537.36';
const crlf = (lines: readonly string[]): string => lines.map((l) => `${l}\r\n`).join('');
const hit = (time: string, stem: string, status = 200): string =>
  `2026-12-03 ${time} 10.0.0.4 GET ${stem} - 443 - 203.0.113.7 ${UA} - ${status} 0 0 46`;

/** `oma run` tailing an IIS site folder into the embedded local workspace, across a restart in the middle of a file. */
describe('iis_log into the local workspace', () => {
  const s = useScenario('oma-e2e-iis-');
  const site = s.path('LogFiles', 'W3SVC1');
  const file = s.path('LogFiles', 'W3SVC1', 'u_ex261203.log');
  const config = s.path('oma.yaml');
  let agent: OmaProcess;

  const rows = async (): Promise<Array<Record<string, unknown>>> => {
    const r = await runOma(['query', 'W3CIISLog_CL', '--json', '--limit', '100', '--config', config]);
    if (r.code !== 0) throw new Error(`oma query failed (${r.code}): ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  const stems = async (): Promise<unknown[]> => (await rows()).map((r) => r.csUriStem).sort();

  const start = async (): Promise<void> => {
    agent = s.startOma(['run', '--config', config]);
    await agent.waitForOutput(/local workspace: http:\/\/127\.0\.0\.1:\d+/);
  };

  it('stores W3C lines as W3CIISLog_CL rows with typed columns', async () => {
    mkdirSync(site, { recursive: true });
    writeFileSync(
      file,
      crlf([
        '#Software: Microsoft Internet Information Services 10.0',
        '#Version: 1.0',
        '#Date: 2026-12-03 08:00:00',
        `#Fields: ${FIELDS}`,
        hit('08:00:01', '/default.aspx'),
        hit('08:00:02', '/my+docs/caf%C3%A9.html', 404),
      ]),
    );
    writeFileSync(
      config,
      agentYaml({
        dataDir: s.path('data'),
        sources: ['  iis:', '    type: iis_log', `    logDirectories: [${JSON.stringify(s.path('LogFiles', 'W3SVC*'))}]`, '    startAt: beginning'],
        destinations: ['  local: { type: local_workspace }'],
      }),
    );
    await start();
    await vi.waitFor(async () => expect(await stems()).toEqual(['/default.aspx', '/my docs/café.html']), { timeout: 15_000, interval: 250 });
    const row = (await rows()).find((r) => r.csUriStem === '/default.aspx')!;
    expect(row).toMatchObject({
      TimeGenerated: expect.stringMatching(/^2026-12-03T08:00:01(\.000)?Z$/),
      sIP: '10.0.0.4',
      sPort: 443,
      csUserAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      scStatus: '200',
      TimeTaken: 46,
    });
  });

  it('after a restart, parses the rest of the file with the header written before it', async () => {
    const { code } = await agent.kill('SIGINT');
    expect(code).toBe(0);
    appendFileSync(file, crlf([hit('08:00:03', '/after-restart', 500)]));
    await start();
    await vi.waitFor(async () => expect(await stems()).toEqual(['/after-restart', '/default.aspx', '/my docs/café.html']), { timeout: 15_000, interval: 250 });
    expect((await rows()).find((r) => r.csUriStem === '/after-restart')).toMatchObject({ scStatus: '500', sPort: 443 });
  });
});
