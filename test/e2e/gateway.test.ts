import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { readColumn } from './db.js';
import { agentYaml, customLogYaml, useScenario } from './helpers.js';
import { destinationYaml, scenarioWorkspace } from './workspace.js';

const USER = 'oma-agent';
const PASSWORD = 'p@ss:w/rd#1';

/**
 * A host without direct access: the agent reaches the workspace only through `oma gateway` (CONNECT,
 * allowlist, Basic proxy auth with a password full of URL delimiters). A second destination whose port
 * the gateway does not allow keeps its data queued and reports why, without printing the password.
 */
describe('delivery through the OMA gateway', () => {
  const sc = useScenario('oma-e2e-gateway-');

  it('tunnels token and ingestion requests through the gateway, and reports a refused tunnel clearly', async () => {
    const ws = await scenarioWorkspace(sc);
    const wsPort = new URL(ws.url).port;
    const gwConfig = sc.path('gateway.yaml');
    writeFileSync(
      gwConfig,
      [
        'listen: { host: 127.0.0.1, port: 0 }',
        'allowedHosts: ["127.0.0.1"]',
        `allowedPorts: [${wsPort}]`,
        `auth: { username: ${USER}, password: ${JSON.stringify(PASSWORD)} }`,
        '',
      ].join('\n'),
    );
    const gw = sc.startOma(['gateway', '--config', gwConfig]);
    const gwPort = (await gw.waitForOutput(/listening on 127\.0\.0\.1:(\d+)/))[1]!;

    const logDir = sc.path('logs');
    mkdirSync(logDir);
    writeFileSync(join(logDir, 'app.log'), '');
    const proxy = `    proxy: ${JSON.stringify(`http://${USER}:${PASSWORD}@127.0.0.1:${gwPort}`)}`;
    // A destination the gateway refuses: same workspace, through a port that is not allowed.
    const refused = destinationYaml({ ...ws, url: 'http://127.0.0.1:1' }, 'blocked');
    const config = sc.path('oma.yaml');
    writeFileSync(
      config,
      agentYaml({
        dataDir: sc.path('data'),
        sources: [customLogYaml('app', 'Gw_CL', join(logDir, '*.log'))],
        destinations: [destinationYaml(ws, 'viagw'), proxy, refused, proxy],
      }),
    );
    const agent = sc.startOma(['run', '--config', config]);
    await agent.waitForOutput(/OMA .* running/);
    appendFileSync(join(logDir, 'app.log'), 'through the gateway\n');

    const dbFile = sc.path('workspace', 'workspace.db');
    await vi.waitFor(() => expect(readColumn(dbFile, 'Gw_CL', 'RawData')).toEqual(['through the gateway']), { timeout: 20_000, interval: 200 });
    // The gateway logged the tunnels it made.
    await vi.waitFor(() => expect(gw.stderr + gw.stdout).toMatch(/gateway access/), { timeout: 5_000 });

    // The refused destination keeps its batch and says why; the password appears nowhere.
    const logFile = sc.path('data', 'logs', 'oma.log');
    await vi.waitFor(
      () => expect(readFileSync(logFile, 'utf8')).toMatch(/proxy http:\/\/oma-agent:\*\*\*@127\.0\.0\.1:\d+ refused the tunnel \(HTTP 403\)[^"]*127\.0\.0\.1:1\b/),
      { timeout: 20_000, interval: 200 },
    );
    await agent.kill('SIGTERM');
    for (const text of [readFileSync(logFile, 'utf8'), agent.stdout, agent.stderr]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(encodeURIComponent(PASSWORD));
    }
  });
});
