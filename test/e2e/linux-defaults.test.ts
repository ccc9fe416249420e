import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { REPO, runOma, startOma, useScenario } from './helpers.js';

type Row = Record<string, unknown>;

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  await once(s, 'close');
  return port;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const port = s.address().port;
  s.close();
  return port;
}

async function rows(config: string, table: string, cwd: string): Promise<Row[]> {
  const r = await runOma(['query', table, '--json', '--limit', '10000', '--config', config], {}, cwd);
  if (r.code !== 0) throw new Error(`oma query failed (${r.code}): ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Row);
}

describe.runIf(process.platform === 'linux')('the default config on Linux (Linux only)', () => {
  const sc = useScenario('oma-e2e-linux-defaults-');

  it('runs the shipped config: heartbeat, performance counters and syslog over UDP, TCP and the unix socket arrive', async () => {
    // The shipped config with its two fixed ports moved to free ones, so that the test cannot collide.
    const [udp, tcp] = [await freeUdpPort(), await freeTcpPort()];
    const text = readFileSync(`${REPO}/config/oma.yaml`, 'utf8');
    expect(text).toMatch(/port: 25224/);
    expect(text).toMatch(/port: 28330/);
    const config = sc.path('oma.yaml');
    writeFileSync(config, text.replace('port: 25224', `port: ${udp}`).replace('port: 28330', `port: ${tcp}`));

    const agent = sc.track(startOma(['run', '--config', config], {}, sc.path()));
    await agent.waitForOutput(/local workspace: http:\/\/127\.0\.0\.1:\d+/);
    await agent.waitForOutput(/source journal: journald/);
    const tag = `defaults-${process.pid}`;
    const send: Record<string, () => void> = {
      'over udp': () => execFileSync('logger', ['-n', '127.0.0.1', '-P', String(udp), '-d', '-t', tag, 'over udp']),
      'over tcp': () => execFileSync('logger', ['-n', '127.0.0.1', '-P', String(tcp), '-T', '-t', tag, 'over tcp']),
      'over unix': () => execFileSync('logger', ['-u', sc.path('.oma', 'syslog.sock'), '-t', tag, 'over unix']),
    };
    await vi.waitFor(
      async () => {
        // Each message is sent again until it is stored: a listener may start a moment after the summary.
        const got = (await rows(config, 'Syslog', sc.path())).filter((r) => r.ProcessName === tag).map((r) => String(r.SyslogMessage));
        const missing = Object.keys(send).filter((m) => !got.some((g) => g.endsWith(m)));
        for (const m of missing) send[m]!();
        expect(missing).toEqual([]);
      },
      { timeout: 30_000, interval: 1000 },
    );
    await vi.waitFor(
      async () => {
        expect((await rows(config, 'Heartbeat_CL', sc.path())).length).toBeGreaterThan(0);
        const perf = await rows(config, 'Perf_CL', sc.path());
        expect(perf.map((r) => r.ObjectName)).toEqual(expect.arrayContaining(['Processor', 'Memory']));
      },
      { timeout: 30_000, interval: 500 },
    );
  });

  it('logs why a source cannot start (its port is taken) and runs the others', async () => {
    const blocker: Server = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as { port: number }).port;
    try {
      const config = sc.path('taken.yaml');
      writeFileSync(
        config,
        [
          `dataDir: ${sc.path('taken-data')}`,
          'statusIntervalMs: 0',
          'observability: { enabled: false }',
          'log: { file: false }',
          'sources:',
          '  hb: { type: heartbeat, intervalMs: 1s }',
          `  syslog: { type: syslog, tcp: { port: ${port} } }`,
          'destinations:',
          '  local: { type: local_workspace }',
          '',
        ].join('\n'),
      );
      const agent = sc.track(startOma(['run', '--config', config]));
      await agent.waitForOutput(/local workspace: http:\/\/127\.0\.0\.1:\d+/);
      await vi.waitFor(() => expect(agent.stdout + agent.stderr).toMatch(new RegExp(`OMA_ERR_SYSLOG_LISTEN|EADDRINUSE[^\\n]*${port}`)), { timeout: 20_000 });
      await vi.waitFor(async () => expect((await rows(config, 'Heartbeat_CL', REPO)).length).toBeGreaterThan(1), { timeout: 30_000, interval: 500 });
      expect(agent.child.exitCode).toBeNull();
    } finally {
      blocker.close();
    }
  });
});
