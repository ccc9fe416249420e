import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Win32Error } from '@oma/core';
import { FakeEventLogWriter, FakeEventSourceRegistry, FakeServiceControlManager, FakeServiceDispatcher } from '@oma/windows';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadPlatform } from '../platform.js';
import { runAsService } from './service-run.js';
import { EVENT_MESSAGE_FILE, runServiceCommand, SERVICE_USAGE, type ServiceSystem } from './service.js';

function sink(): { stream: NodeJS.WritableStream; text: () => string } {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  return { stream: s, text: () => text };
}

function fakeSystem(platform: NodeJS.Platform = 'win32') {
  const scm = new FakeServiceControlManager();
  const sources = new FakeEventSourceRegistry();
  const sys: ServiceSystem = {
    platform,
    programData: 'C:\\ProgramData',
    execPath: 'C:\\Program Files\\OMA\\node.exe',
    cliPath: 'C:\\Program Files\\OMA\\app\\packages\\cli\\bin\\oma.js',
    scm: () => scm,
    eventSources: () => sources,
    sleep: () => Promise.resolve(),
  };
  return { scm, sources, sys };
}

async function oma(args: string[], sys: ServiceSystem): Promise<{ code: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const code = await runServiceCommand(args, () => Promise.resolve(sys), out.stream, err.stream);
  return { code, out: out.text(), err: err.text() };
}

describe('oma service', () => {
  it('explains itself off Windows', async () => {
    const { sys, scm } = fakeSystem('linux');
    const r = await oma(['install'], sys);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Windows only; this is linux\. On Linux the package runs the agent as the systemd unit oma\.service/);
    expect(scm.calls).toEqual([]);
  });

  it('installs the agent as `oma`: automatic delayed start, LocalSystem, restart on failure, the CLI with `service run --config`, and the event source', async () => {
    const { sys, scm, sources } = fakeSystem();
    const r = await oma(['install', '--config', 'C:\\ProgramData\\OMA\\oma.yaml'], sys);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const spec = scm.services.get('oma')?.spec;
    expect(spec).toMatchObject({
      name: 'oma',
      displayName: 'OMA (Open Monitoring Agent)',
      startType: 'automatic',
      delayedStart: true,
      failureActions: { restartDelaysMs: [60_000, 60_000, 300_000], resetPeriodSec: 86_400 },
    });
    expect(spec?.account).toBeUndefined();
    expect(spec?.binaryPath).toMatch(/^"C:\\Program Files\\OMA\\node\.exe" "C:\\Program Files\\OMA\\app\\packages\\cli\\bin\\oma\.js" service run --name "oma" --config "[^"]*oma\.yaml"$/);
    expect(sources.sources.get('Application\\OMA')).toBe(EVENT_MESSAGE_FILE);
    expect(r.out).toMatch(/^oma: installed \(automatic, delayed start, LocalSystem, config .*oma\.yaml\); start it with: oma service start\n$/);
  });

  it('installs the gateway as a second service with --gateway, under another account', async () => {
    const { sys, scm } = fakeSystem();
    await oma(['install'], sys);
    const r = await oma(['install', '--gateway', '--account', 'NT AUTHORITY\\NetworkService'], sys);
    expect(r.code).toBe(0);
    const spec = scm.services.get('oma-gateway')?.spec;
    expect(spec).toMatchObject({ name: 'oma-gateway', displayName: 'OMA gateway', account: 'NT AUTHORITY\\NetworkService' });
    expect(spec?.binaryPath).toMatch(/ service run --name "oma-gateway" --gateway --config "[^"]*gateway\.yaml"$/);
    expect([...scm.services.keys()]).toEqual(['oma', 'oma-gateway']);
  });

  it('installs on an SCM that does not take every setting (Wine\'s), with a warning', async () => {
    const { sys, scm } = fakeSystem();
    scm.notApplied = ['delayed start', 'restart after a failed start'];
    const r = await oma(['install'], sys);
    expect(r.code).toBe(0);
    expect(r.err).toBe('oma service: warning: this service control manager does not take these settings: delayed start, restart after a failed start\n');
    expect(r.out).toMatch(/^oma: installed \(automatic start, LocalSystem/);
  });

  it('refuses to install twice, and a password without an account', async () => {
    const { sys } = fakeSystem();
    await oma(['install'], sys);
    const again = await oma(['install'], sys);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/oma is installed already \(oma service uninstall first\)/);
    const pw = await oma(['install', '--password', 'x'], sys);
    expect(pw.code).toBe(2);
    expect(pw.err).toMatch(/--password goes with --account/);
  });

  it('starts, reports, stops and uninstalls (stopping a running service first), with status exit codes', async () => {
    const { sys, scm, sources } = fakeSystem();
    expect((await oma(['status'], sys)).code).toBe(4);
    await oma(['install'], sys);
    expect(await oma(['status'], sys)).toMatchObject({ code: 3, out: 'oma: stopped\n' });
    expect(await oma(['start'], sys)).toMatchObject({ code: 0, out: 'oma: running (pid 4000)\n' });
    expect(await oma(['start'], sys)).toMatchObject({ code: 0 });
    expect(await oma(['status'], sys)).toMatchObject({ code: 0, out: 'oma: running (pid 4000)\n' });
    expect(await oma(['stop'], sys)).toMatchObject({ code: 0, out: 'oma: stopped\n' });
    expect(await oma(['stop'], sys)).toMatchObject({ code: 0, out: 'oma: stopped\n' });
    await oma(['start'], sys);
    expect(await oma(['uninstall'], sys)).toMatchObject({ code: 0, out: 'oma: uninstalled\n' });
    expect(scm.calls.slice(-2)).toEqual(['stop oma', 'uninstall oma']);
    expect(scm.services.size).toBe(0);
    expect(sources.sources.size).toBe(0);
    expect(await oma(['uninstall'], sys)).toMatchObject({ code: 0, out: 'oma: not installed\n' });
  });

  it('says when it needs an elevated prompt', async () => {
    const { sys, scm } = fakeSystem();
    vi.spyOn(scm, 'install').mockImplementation(() => {
      throw new Win32Error('OpenSCManagerW', 5);
    });
    const r = await oma(['install'], sys);
    expect(r.code).toBe(1);
    expect(r.err).toBe('oma service install: OpenSCManagerW failed: Win32 error 5 (run it from an elevated prompt: Run as administrator)\n');
  });

  it('prints its usage', async () => {
    const { sys } = fakeSystem('linux');
    expect(await oma(['--help'], sys)).toMatchObject({ code: 0, out: SERVICE_USAGE });
    expect(await oma([], sys)).toMatchObject({ code: 2, out: SERVICE_USAGE });
  });
});

describe('oma service run (the agent under the service host, with fakes of the SCM and the event log)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oma-service-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (extra = ''): string => {
    const file = join(dir, 'oma.yaml');
    writeFileSync(
      file,
      `dataDir: ${JSON.stringify(join(dir, 'data'))}\nlog: { file: false }\nstatusIntervalMs: 0\nobservability: { enabled: false }\nlocalWorkspace: { port: 0 }\nsources:\n  hb: { type: heartbeat }\n${extra}`,
    );
    return file;
  };

  it('runs the agent until SERVICE_CONTROL_STOP, then stops it gracefully; logs go to the file and events to the event log', async () => {
    const scm = new FakeServiceDispatcher();
    const events = new FakeEventLogWriter();
    const err = sink();
    const done = runAsService({ name: 'oma', gateway: false, configFile: config(), dispatcher: scm, eventLog: events, loadPlatform, err: err.stream });
    await scm.whenConnected();
    scm.startService();
    await vi.waitFor(() => expect(scm.states()).toContain('running'), { timeout: 20_000 });
    expect(events.events).toEqual([{ type: 'information', eventId: 1000, message: expect.stringMatching(/^oma started \(config .*oma\.yaml\)$/) }]);
    expect(scm.send('stop')).toBe(0);
    expect(await done).toBe(0);
    expect(scm.states()).toEqual(['start_pending', 'running', 'stop_pending', 'stopped']);
    expect(scm.last()).toMatchObject({ win32ExitCode: 0, serviceSpecificExitCode: 0 });
    expect(events.events[0]?.eventId).toBe(1000);
    expect(events.events.at(-1)).toEqual({ type: 'information', eventId: 1001, message: 'oma stopped' });
    expect(events.events.filter((e) => e.eventId === 3001)).toEqual([]);
    expect(events.closed).toBe(true);
    // `log: { file: false }` in the config: a service has no console, so it logs to the file all the same.
    const log = readFileSync(join(dir, 'data', 'logs', 'oma.log'), 'utf8');
    expect(log).toMatch(/"signal":"stop","msg":"stopping"/);
  }, 30_000);

  it('reports a config that is not valid as service-specific exit code 2, with an error event', async () => {
    const scm = new FakeServiceDispatcher();
    const events = new FakeEventLogWriter();
    const done = runAsService({ name: 'oma', gateway: false, configFile: config('bogus: 1\n'), dispatcher: scm, eventLog: events, loadPlatform, err: sink().stream });
    await scm.whenConnected();
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      scm.startService();
      expect(await done).toBe(2);
    } finally {
      stderr.mockRestore();
    }
    expect(scm.states()).toEqual(['start_pending', 'stopped']);
    expect(scm.last()).toMatchObject({ win32ExitCode: 1066, serviceSpecificExitCode: 2 });
    expect(events.events[0]).toEqual({ type: 'error', eventId: 3001, message: expect.stringMatching(/^oma stopped with exit code 2: the config is not valid/) });
  });

  it('tells a user who runs it from a console what to do instead', async () => {
    const err = sink();
    const code = await runAsService({
      name: 'oma',
      gateway: false,
      configFile: config(),
      dispatcher: new FakeServiceDispatcher({ notFromScm: true }),
      eventLog: undefined,
      loadPlatform,
      err: err.stream,
    });
    expect(code).toBe(1);
    expect(err.text()).toMatch(/start it with `oma service start`, or run the agent in this console with `oma run`/);
  });

  it('runs the gateway under the service host', async () => {
    const gw = join(dir, 'gateway.yaml');
    writeFileSync(gw, 'listen: { host: 127.0.0.1, port: 0 }\n');
    const scm = new FakeServiceDispatcher();
    const done = runAsService({ name: 'oma-gateway', gateway: true, configFile: gw, dispatcher: scm, eventLog: undefined, loadPlatform, err: sink().stream });
    await scm.whenConnected();
    scm.startService();
    await vi.waitFor(() => expect(scm.states()).toContain('running'), { timeout: 10_000 });
    scm.send('shutdown');
    expect(await done).toBe(0);
    expect(scm.states()).toEqual(['start_pending', 'running', 'stop_pending', 'stopped']);
  });
});
