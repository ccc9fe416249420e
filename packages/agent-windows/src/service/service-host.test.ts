import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeServiceDispatcher } from './fake.js';
import { runServiceHost, type ServiceProgramIo } from './service-host.js';

/** A program that starts when told and stops when the host asks, like the agent. */
function controllableProgram() {
  let io: ServiceProgramIo | undefined;
  let finish: (code: number) => void = () => undefined;
  const stops: string[] = [];
  const program = (i: ServiceProgramIo): Promise<number> => {
    io = i;
    void i.stopRequested.then((c) => stops.push(c));
    return new Promise<number>((resolve) => {
      finish = resolve;
    });
  };
  return { program, started: () => io?.started(), finish: (code: number) => finish(code), stops, io: () => io };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('runServiceHost', () => {
  it('reports START_PENDING, RUNNING, STOP_PENDING and STOPPED, and turns SERVICE_CONTROL_STOP into the graceful stop', async () => {
    const scm = new FakeServiceDispatcher();
    const p = controllableProgram();
    const done = runServiceHost({ name: 'oma', dispatcher: scm, program: p.program, startWaitHintMs: 20_000, stopWaitHintMs: 40_000 });
    await scm.whenConnected();
    expect(scm.name).toBe('oma');
    scm.startService();
    expect(scm.last()).toEqual({ state: 'start_pending', accepts: [], win32ExitCode: 0, serviceSpecificExitCode: 0, checkPoint: 1, waitHintMs: 20_000 });
    p.started();
    expect(scm.last()).toMatchObject({ state: 'running', accepts: ['stop', 'preshutdown', 'shutdown'], checkPoint: 0, waitHintMs: 0 });
    expect(scm.send('stop')).toBe(0);
    expect(scm.last()).toMatchObject({ state: 'stop_pending', accepts: [], checkPoint: 1, waitHintMs: 40_000 });
    await vi.waitFor(() => expect(p.stops).toEqual(['stop']));
    p.finish(0);
    expect(await done).toBe(0);
    expect(scm.states()).toEqual(['start_pending', 'running', 'stop_pending', 'stopped']);
    expect(scm.last()).toMatchObject({ state: 'stopped', win32ExitCode: 0, serviceSpecificExitCode: 0 });
  });

  it('treats SHUTDOWN and PRESHUTDOWN as a stop, once', async () => {
    for (const control of ['shutdown', 'preshutdown'] as const) {
      const scm = new FakeServiceDispatcher();
      const p = controllableProgram();
      const done = runServiceHost({ name: 'oma', dispatcher: scm, program: p.program });
      await scm.whenConnected();
      scm.startService();
      p.started();
      expect(scm.send(control)).toBe(0);
      expect(scm.send('stop')).toBe(0);
      await vi.waitFor(() => expect(p.stops).toEqual([control]));
      p.finish(0);
      await done;
      expect(scm.states()).toEqual(['start_pending', 'running', 'stop_pending', 'stopped']);
    }
  });

  it('answers INTERROGATE with the current status and unknown controls with ERROR_CALL_NOT_IMPLEMENTED', async () => {
    const scm = new FakeServiceDispatcher();
    const p = controllableProgram();
    const done = runServiceHost({ name: 'oma', dispatcher: scm, program: p.program, acceptPreshutdown: false });
    await scm.whenConnected();
    scm.startService();
    p.started();
    expect(scm.send('interrogate')).toBe(0);
    expect(scm.states()).toEqual(['start_pending', 'running', 'running']);
    expect(scm.last()?.accepts).toEqual(['stop', 'shutdown']);
    expect(scm.send(2 /* PAUSE */)).toBe(120);
    scm.send('stop');
    p.finish(0);
    await done;
  });

  it('raises the checkpoint every half wait hint while starting and while stopping', async () => {
    vi.useFakeTimers();
    const scm = new FakeServiceDispatcher();
    const p = controllableProgram();
    const done = runServiceHost({ name: 'oma', dispatcher: scm, program: p.program, startWaitHintMs: 10_000, stopWaitHintMs: 4_000 });
    await scm.whenConnected();
    scm.startService();
    vi.advanceTimersByTime(15_000);
    expect(scm.statuses.map((s) => [s.state, s.checkPoint])).toEqual([
      ['start_pending', 1],
      ['start_pending', 2],
      ['start_pending', 3],
      ['start_pending', 4],
    ]);
    p.started();
    vi.advanceTimersByTime(60_000);
    expect(scm.statuses).toHaveLength(5);
    scm.send('stop');
    vi.advanceTimersByTime(4_000);
    expect(scm.statuses.slice(5).map((s) => [s.state, s.checkPoint, s.waitHintMs])).toEqual([
      ['stop_pending', 1, 4_000],
      ['stop_pending', 2, 4_000],
      ['stop_pending', 3, 4_000],
    ]);
    p.finish(0);
    await vi.runAllTimersAsync();
    expect(await done).toBe(0);
    const count = scm.statuses.length;
    vi.advanceTimersByTime(60_000);
    expect(scm.statuses).toHaveLength(count);
  });

  it('reports a failed start as STOPPED with a service-specific exit code, and returns that code', async () => {
    const scm = new FakeServiceDispatcher();
    const done = runServiceHost({ name: 'oma', dispatcher: scm, program: () => Promise.resolve(2) });
    await scm.whenConnected();
    scm.startService();
    expect(await done).toBe(2);
    expect(scm.states()).toEqual(['start_pending', 'stopped']);
    expect(scm.last()).toMatchObject({ state: 'stopped', win32ExitCode: 1066, serviceSpecificExitCode: 2 });
  });

  it('reports a program that throws as exit code 1', async () => {
    const scm = new FakeServiceDispatcher();
    const done = runServiceHost({
      name: 'oma',
      dispatcher: scm,
      program: () => {
        throw new Error('boom');
      },
    });
    await scm.whenConnected();
    scm.startService();
    expect(await done).toBe(1);
    expect(scm.last()).toMatchObject({ state: 'stopped', win32ExitCode: 1066, serviceSpecificExitCode: 1 });
  });

  it('fails when the process was not started by the SCM', async () => {
    await expect(runServiceHost({ name: 'oma', dispatcher: new FakeServiceDispatcher({ notFromScm: true }), program: () => Promise.resolve(0) })).rejects.toMatchObject({
      code: 'OMA_ERR_NATIVE',
      win32: 1063,
    });
  });
});
