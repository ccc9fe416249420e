import type { Logger } from '@oma/core';
import type { ServiceControl, ServiceDispatcher, ServiceState, ServiceStatusReport, ServiceStatusSink } from './service-port.js';

/** ERROR_SERVICE_SPECIFIC_ERROR: the service's own exit code is in dwServiceSpecificExitCode. */
export const ERROR_SERVICE_SPECIFIC_ERROR = 1066;
/** ERROR_CALL_NOT_IMPLEMENTED: what a control handler answers for a control it does not handle. */
export const ERROR_CALL_NOT_IMPLEMENTED = 120;

/** What the program run as a service gets from the host. */
export interface ServiceProgramIo {
  /** The program calls this once it runs: the service reports RUNNING and accepts stop and shutdown. */
  started(): void;
  /** Settles when the SCM asks the service to stop (STOP, SHUTDOWN or PRESHUTDOWN), with that control. */
  readonly stopRequested: Promise<ServiceControl>;
}

/**
 * The program the service runs (the agent, or the gateway): runs until `io.stopRequested` settles,
 * then stops gracefully. Resolves with its exit code: 0 for a clean stop; any other is reported to
 * the SCM as a service-specific exit code (a start that failed: 1, a config that is not valid: 2).
 */
export type ServiceProgram = (io: ServiceProgramIo) => Promise<number>;

export interface ServiceHostOptions {
  readonly name: string;
  readonly dispatcher: ServiceDispatcher;
  readonly program: ServiceProgram;
  /** The wait hint while starting (the SCM's patience between two reports); default 30 s. */
  readonly startWaitHintMs?: number;
  /** The wait hint while stopping; the agent's shutdown timeout plus a margin. Default 30 s. */
  readonly stopWaitHintMs?: number;
  /** Accept SERVICE_CONTROL_PRESHUTDOWN (Windows then waits up to the preshutdown timeout). Default true. */
  readonly acceptPreshutdown?: boolean;
  readonly log?: Logger;
}

/**
 * Runs `program` as the Windows service `name`: connects to the SCM, reports START_PENDING (with a
 * wait hint, its checkpoint raised every half hint while the program starts), RUNNING once the program
 * says so, STOP_PENDING when STOP, SHUTDOWN or PRESHUTDOWN arrives (the same graceful stop as SIGTERM),
 * then STOPPED with the program's exit code (service-specific when it is not 0). Resolves with that
 * exit code once the dispatcher has returned.
 */
export async function runServiceHost(opts: ServiceHostOptions): Promise<number> {
  const startHint = opts.startWaitHintMs ?? 30_000;
  const stopHint = opts.stopWaitHintMs ?? 30_000;
  const accepts: ServiceStatusReport['accepts'] = opts.acceptPreshutdown === false ? ['stop', 'shutdown'] : ['stop', 'preshutdown', 'shutdown'];
  let sink: ServiceStatusSink | undefined;
  let state: ServiceState = 'stopped';
  let checkPoint = 0;
  let hint = 0;
  let exitCode = 0;
  let progress: NodeJS.Timeout | undefined;
  let requestStop: (c: ServiceControl) => void = () => undefined;
  const stopRequested = new Promise<ServiceControl>((resolve) => {
    requestStop = resolve;
  });

  const report = (): void => {
    if (!sink) return;
    const pending = state === 'start_pending' || state === 'stop_pending';
    const status: ServiceStatusReport = {
      state,
      accepts: state === 'running' ? accepts : [],
      win32ExitCode: state === 'stopped' && exitCode !== 0 ? ERROR_SERVICE_SPECIFIC_ERROR : 0,
      serviceSpecificExitCode: state === 'stopped' ? exitCode : 0,
      checkPoint: pending ? checkPoint : 0,
      waitHintMs: pending ? hint : 0,
    };
    try {
      sink.setStatus(status);
    } catch (err) {
      opts.log?.error({ err, state }, 'service status not reported');
    }
  };
  /** Enters a state; a pending one reports progress every half wait hint until the next state. */
  const enter = (next: ServiceState, waitHintMs = 0): void => {
    if (progress) clearInterval(progress);
    progress = undefined;
    state = next;
    hint = waitHintMs;
    checkPoint = waitHintMs > 0 ? 1 : 0;
    report();
    if (waitHintMs > 0) {
      progress = setInterval(() => {
        checkPoint++;
        report();
      }, Math.max(1, Math.floor(waitHintMs / 2)));
      progress.unref();
    }
  };

  const onStart = (s: ServiceStatusSink): void => {
    sink = s;
    enter('start_pending', startHint);
    const io: ServiceProgramIo = {
      started: () => {
        if (state !== 'start_pending') return;
        enter('running');
        opts.log?.info({ service: opts.name }, 'service running');
      },
      stopRequested,
    };
    let run: Promise<number>;
    try {
      run = opts.program(io);
    } catch (err) {
      run = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    run
      .catch((err: unknown) => {
        opts.log?.error({ err, service: opts.name }, 'service program failed');
        return 1;
      })
      .then((code) => {
        exitCode = code;
        if (code !== 0) opts.log?.error({ service: opts.name, exitCode: code }, 'service stopped with an error');
        enter('stopped');
      })
      .catch(() => undefined);
  };

  const onControl = (control: ServiceControl | number): number => {
    if (control === 'interrogate') {
      report();
      return 0;
    }
    if (control !== 'stop' && control !== 'shutdown' && control !== 'preshutdown') return ERROR_CALL_NOT_IMPLEMENTED;
    if (state === 'running' || state === 'start_pending') {
      opts.log?.info({ service: opts.name, control }, 'service stop requested');
      enter('stop_pending', stopHint);
      requestStop(control);
    }
    return 0;
  };

  await opts.dispatcher.dispatch(opts.name, { start: onStart, control: onControl });
  if (progress) clearInterval(progress);
  return exitCode;
}
