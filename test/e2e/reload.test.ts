import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runOma, startOma, tempDir, type OmaProcess } from './helpers.js';

describe('SIGHUP', () => {
  const dir = tempDir('oma-e2e-reload-');
  let agent: OmaProcess | undefined;
  afterAll(async () => {
    await agent?.kill('SIGKILL');
    dir.remove();
  });

  it('applies a new config without a restart, and keeps the old one when the new one is invalid', async () => {
    const logs = join(dir.path, 'logs');
    mkdirSync(logs);
    const config = join(dir.path, 'oma.yaml');
    const base = [`dataDir: ${join(dir.path, 'data')}`, 'statusIntervalMs: 0', 'observability: { enabled: false }', 'sources:', '  heartbeat: { type: heartbeat }'];
    writeFileSync(config, [...base, ''].join('\n'));
    agent = startOma(['run', '--config', config]);
    await agent.waitForOutput(/local workspace: http/);
    const count = async (table: string) => {
      const r = await runOma(['query', table, '--json', '--limit', '100', '--config', config]);
      return r.stdout.split('\n').filter(Boolean).length;
    };
    await vi.waitFor(async () => expect(await count('Heartbeat_CL')).toBe(1), { timeout: 15_000, interval: 250 });

    writeFileSync(config, 'sources: [this is not valid\n');
    agent.child.kill('SIGHUP');
    await vi.waitFor(() => expect(agent!.stderr).toMatch(/config reload failed/), { timeout: 10_000 });

    writeFileSync(
      config,
      [...base, '  app:', '    type: custom_log', '    table: Reloaded_CL', `    filePatterns: [${JSON.stringify(`${logs}/*.log`)}]`, '    startAt: beginning', ''].join('\n'),
    );
    appendFileSync(join(logs, 'a.log'), 'after reload\n');
    agent.child.kill('SIGHUP');
    await vi.waitFor(async () => expect(await count('Reloaded_CL')).toBe(1), { timeout: 15_000, interval: 250 });
    // The heartbeat source restarted with the pipeline, so a second Heartbeat arrives.
    await vi.waitFor(async () => expect(await count('Heartbeat_CL')).toBe(2), { timeout: 15_000, interval: 250 });
    expect((await agent.kill('SIGTERM')).code).toBe(0);
  });
});
