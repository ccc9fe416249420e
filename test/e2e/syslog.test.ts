import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { agentYaml, runOma, useScenario, type OmaProcess } from './helpers.js';

/** `oma run` with a syslog source on UDP, TCP and a unix socket, into the embedded local workspace's Syslog table. */
describe.runIf(process.platform === 'linux')('syslog source through the oma binary (the source type is Linux only)', () => {
  const s = useScenario('oma-e2e-syslog-');
  const config = s.path('oma.yaml');
  const logFile = join(s.path('data'), 'logs', 'oma.log');
  // In a directory that does not exist yet: the source creates it.
  const socket = s.path('run', 'syslog.sock');
  let agent: OmaProcess;
  const ports: Record<string, number> = {};

  const rows = async (): Promise<Array<Record<string, unknown>>> => {
    const r = await runOma(['query', 'Syslog', '--json', '--limit', '1000', '--config', config]);
    if (r.code !== 0) throw new Error(`oma query failed (${r.code}): ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };

  beforeAll(async () => {
    writeFileSync(
      config,
      agentYaml({
        dataDir: s.path('data'),
        sources: ['  syslog:', '    type: syslog', '    udp: { port: 0 }', '    tcp: { port: 0 }', `    unix: { path: ${JSON.stringify(socket)} }`],
        destinations: ['  local: { type: local_workspace }'],
      }),
    );
    agent = s.startOma(['run', '--config', config]);
    await agent.waitForOutput(/local workspace: http/);
    // The ports the OS chose, from the source's "syslog listening" log lines.
    await vi.waitFor(
      () => {
        const lines = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n') : [];
        for (const l of lines) {
          const m = /"transport":"(udp|tcp)","endpoint":"127\.0\.0\.1:(\d+)".*"msg":"syslog listening"/.exec(l);
          if (m) ports[m[1]!] = Number(m[2]);
        }
        expect(Object.keys(ports).sort()).toEqual(['tcp', 'udp']);
      },
      { timeout: 15_000, interval: 100 },
    );
  });

  afterAll(async () => {
    await agent?.kill('SIGKILL');
  });

  it('stores messages sent over UDP and TCP (LF and octet-counted) as Syslog rows', async () => {
    const udp = createSocket('udp4');
    const datagrams = ['<86>Jun 15 11:59:01 web01 sshd[2741]: udp 3164', '<165>1 2024-06-15T10:20:30.5+02:00 app01 billing 77 - [o@1 k="v"] udp 5424'];
    for (const d of datagrams) await new Promise<void>((r, j) => udp.send(d, ports.udp, '127.0.0.1', (e) => (e ? j(e) : r())));
    udp.close();

    const lf = connect({ port: ports.tcp!, host: '127.0.0.1' });
    await once(lf, 'connect');
    lf.end('<13>Jun 15 11:00:00 myapp: tcp lf one\n<13>Jun 15 11:00:01 myapp: tcp lf two\n');
    const oc = connect({ port: ports.tcp!, host: '127.0.0.1' });
    await once(oc, 'connect');
    const m = '<11>1 2024-06-15T10:00:00Z db01 postgres 4242 - - tcp octet';
    oc.end(`${Buffer.byteLength(m)} ${m}`);

    await vi.waitFor(async () => expect((await rows()).length).toBe(5), { timeout: 15_000, interval: 250 });
    const byMsg = new Map((await rows()).map((r) => [r.SyslogMessage, r]));
    expect(byMsg.get('udp 3164')).toMatchObject({
      HostName: 'web01',
      HostIP: '127.0.0.1',
      Facility: 'authpriv',
      SeverityLevel: 'info',
      ProcessName: 'sshd',
      ProcessID: 2741,
    });
    expect(byMsg.get('[o@1 k="v"] udp 5424')).toMatchObject({
      HostName: 'app01',
      Facility: 'local4',
      SeverityLevel: 'notice',
      ProcessName: 'billing',
      ProcessID: 77,
      EventTime: '2024-06-15T08:20:30.500Z',
    });
    expect(byMsg.get('tcp lf one')).toMatchObject({ ProcessName: 'myapp', Facility: 'user', SeverityLevel: 'notice' });
    expect(byMsg.get('tcp lf two')).toMatchObject({ ProcessName: 'myapp' });
    expect(byMsg.get('tcp octet')).toMatchObject({ HostName: 'db01', ProcessName: 'postgres', ProcessID: 4242, SeverityLevel: 'err', EventTime: '2024-06-15T10:00:00.000Z' });
    for (const r of byMsg.values()) {
      expect(r.Computer).toEqual(expect.any(String));
      expect(r.CollectorHostName).toBe(r.Computer);
    }
  });

  it('stores messages sent to its unix socket (logger -u, RFC 3164 and RFC 5424) as Syslog rows from this host', async () => {
    const logger = (args: string[]) => promisify(execFile)('logger', ['-u', socket, ...args]);
    await logger(['-p', 'mail.err', '-t', 'postfix', 'unix 3164']);
    await logger(['--rfc5424=notq', '-p', 'local1.info', '-t', 'billing', 'unix 5424']);
    await vi.waitFor(async () => expect((await rows()).filter((r) => String(r.SyslogMessage).startsWith('unix ')).length).toBe(2), { timeout: 15_000, interval: 250 });
    const byMsg = new Map((await rows()).map((r) => [r.SyslogMessage, r]));
    expect(byMsg.get('unix 3164')).toMatchObject({ ProcessName: 'postfix', Facility: 'mail', SeverityLevel: 'err', HostIP: '127.0.0.1' });
    expect(byMsg.get('unix 5424')).toMatchObject({ ProcessName: 'billing', Facility: 'local1', SeverityLevel: 'info', HostIP: '127.0.0.1' });
    expect((await agent.kill('SIGTERM')).code).toBe(0);
  });
});
