import { appendFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { agentYaml, customLogYaml, runOma, useScenario } from './helpers.js';

/**
 * `localWorkspace.tls: true`: the embedded workspace serves HTTPS with its generated CA, the agent's own
 * sink trusts that CA, and `oma query` finds the CA and the query token in the workspace's data directory.
 */
describe('the embedded local workspace over TLS', () => {
  const sc = useScenario('oma-e2e-lw-tls-');

  it('delivers over https and answers oma query', async () => {
    const logs = sc.path('logs');
    mkdirSync(logs);
    writeFileSync(sc.path('logs', 'app.log'), '');
    const config = sc.path('oma.yaml');
    const yaml = agentYaml({
      dataDir: sc.path('data'),
      sources: [customLogYaml('app', 'TlsLogs_CL', sc.path('logs', '*.log'))],
      destinations: ['  local: { type: local_workspace }'],
    });
    writeFileSync(config, `${yaml}localWorkspace: { tls: true }\n`);
    const agent = sc.startOma(['run', '--config', config]);
    await agent.waitForOutput(/local workspace: https:\/\/127\.0\.0\.1:\d+/);
    appendFileSync(sc.path('logs', 'app.log'), 'over tls 1\nover tls 2\n');
    const query = async (): Promise<string[]> => {
      const r = await runOma(['query', 'TlsLogs_CL', '--json', '--config', config]);
      if (r.code !== 0) throw new Error(`oma query failed (${r.code}): ${r.stderr}`);
      return r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { RawData: string }).RawData);
    };
    await vi.waitFor(async () => expect((await query()).sort()).toEqual(['over tls 1', 'over tls 2']), { timeout: 20_000, interval: 500 });
    expect(statSync(sc.path('data', 'local-workspace', 'tls', 'ca.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(sc.path('data', 'local-workspace')).mode & 0o777).toBe(0o700);
  });
});
