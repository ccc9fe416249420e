import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runOma, startOma, tempDir, type OmaProcess } from './helpers.js';

/** `oma run` with the embedded local workspace, as `npm start` runs it, then `oma query` from outside. */
describe('oma run with the embedded local workspace', () => {
  const dir = tempDir('oma-e2e-agent-');
  const logs = join(dir.path, 'logs');
  const config = join(dir.path, 'oma.yaml');
  let agent: OmaProcess;

  const query = async (...args: string[]) => {
    const r = await runOma(['query', ...args, '--config', config]);
    if (r.code !== 0) throw new Error(`oma query failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  const queryJson = async (...args: string[]) =>
    (await query(...args, '--json'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  beforeAll(async () => {
    mkdirSync(logs);
    writeFileSync(join(logs, 'before.log'), 'written before start\n');
    writeFileSync(
      config,
      [
        `dataDir: ${join(dir.path, 'data')}`,
        'statusIntervalMs: 1s',
        'observability: { port: 0 }',
        'sources:',
        '  heartbeat: { type: heartbeat }',
        '  app:',
        '    type: custom_log',
        '    table: AppLogs_CL',
        `    filePatterns: [${JSON.stringify(`${logs}/*.log`)}]`,
        'destinations:',
        '  local: { type: local_workspace }',
        '',
      ].join('\n'),
    );
    agent = startOma(['run', '--config', config]);
    await agent.waitForOutput(/local workspace: http:\/\/127\.0\.0\.1:\d+/);
  });

  afterAll(async () => {
    await agent?.kill('SIGKILL');
    dir.remove();
  });

  it('prints where its data, logs, metrics and local workspace are', () => {
    expect(agent.stdout).toContain(`data:            ${join(dir.path, 'data')}`);
    expect(agent.stdout).toContain(`logs:            ${join(dir.path, 'data', 'logs', 'oma.log')}`);
    expect(agent.stdout).toMatch(/metrics: +http:\/\/127\.0\.0\.1:\d+\/metrics/);
  });

  it('delivers a Heartbeat that `oma query Heartbeat_CL` shows (the mirror table Azure stores it in)', async () => {
    await vi.waitFor(async () => expect((await queryJson('Heartbeat_CL')).length).toBeGreaterThan(0), { timeout: 15_000, interval: 250 });
    const [row] = await queryJson('Heartbeat_CL');
    expect(row).toMatchObject({ Category: 'Direct Agent', SCAgentChannel: 'Direct', OSType: expect.any(String), Version: expect.any(String) });
    expect(Array.isArray(row!.ComputerPrivateIPs)).toBe(true);
    const table = await query('Heartbeat_CL');
    expect(table).toMatch(/^TimeGenerated +Computer +Category/m);
    expect(table).toMatch(/Direct Agent/);
  });

  it('makes appended lines queryable within seconds, newest first, with --where and --limit', async () => {
    appendFileSync(join(logs, 'app.log'), 'first line\nsecond line\n');
    appendFileSync(join(logs, 'before.log'), 'appended after start\n');
    await vi.waitFor(async () => expect((await queryJson('AppLogs_CL', '--limit', '50')).map((r) => r.RawData).sort()).toEqual(
      // before.log existed at the first start: read from its end (startAt: end), so only the new line.
      ['appended after start', 'first line', 'second line'],
    ), { timeout: 5_000, interval: 200 });
    const rows = await queryJson('AppLogs_CL', '--where', `FilePath=${join(logs, 'app.log')}`);
    expect(rows.map((r) => r.RawData)).toEqual(['second line', 'first line']);
    expect(await queryJson('AppLogs_CL', '--limit', '1')).toHaveLength(1);
    expect(await queryJson('AppLogs_CL', '--since', '1h')).toHaveLength(3);
    const tables = await query();
    expect(tables).toMatch(/AppLogs_CL +3/);
  });

  it('prints a status line with records in/out per table', async () => {
    await agent.waitForOutput(/status {2}records in\/out: .*Heartbeat 1\/1/, 10_000);
  });

  it('serves /metrics and /healthz', async () => {
    const url = (await agent.waitForOutput(/metrics: +(http:\/\/\S+)\/metrics/))[1]!;
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/oma_component_sent_records_total\{.*table="Heartbeat".*\} [1-9]/);
    expect(metrics).toMatch(/oma_buffer_byte_size\{component_id="local"/);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
  });

  it('stops cleanly on SIGINT', async () => {
    const { code } = await agent.kill('SIGINT');
    expect(code).toBe(0);
    expect(agent.stdout).toMatch(/OMA stopped\./);
    const log = readFileSync(join(dir.path, 'data', 'logs', 'oma.log'), 'utf8');
    expect(log).toMatch(/"msg":"pipeline stopped"/);
  });
});
