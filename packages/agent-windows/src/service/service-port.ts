/**
 * The Windows Service Control Manager as OMA uses it, behind two small ports: `ServiceDispatcher` (the
 * service side: the SCM starts our process, we report our state and receive controls) and
 * `ServiceControlManager` (the admin side used by `oma service install|start|stop|status|uninstall`).
 * The real adapters are koffi over advapi32.dll (`scm.ts`, `dispatcher.ts`); `fake.ts` has pure-TS fakes.
 */

/** A service's state as the SCM reports it (SERVICE_STOPPED … SERVICE_PAUSED). */
export type ServiceState = 'stopped' | 'start_pending' | 'stop_pending' | 'running' | 'continue_pending' | 'pause_pending' | 'paused';

/** The controls OMA's service accepts: the SCM asks it to stop, or Windows shuts down. */
export type ServiceControl = 'stop' | 'shutdown' | 'preshutdown' | 'interrogate';

/** What the service reports with SetServiceStatus. */
export interface ServiceStatusReport {
  readonly state: ServiceState;
  /** Controls accepted in this state (none while pending). */
  readonly accepts: readonly Exclude<ServiceControl, 'interrogate'>[];
  /** Win32 exit code: 0, or ERROR_SERVICE_SPECIFIC_ERROR (1066) with `serviceSpecificExitCode`. */
  readonly win32ExitCode: number;
  readonly serviceSpecificExitCode: number;
  /** Incremented while a pending state makes progress; 0 otherwise. */
  readonly checkPoint: number;
  /** How long the SCM should wait for the next report before it considers the service hung (ms). */
  readonly waitHintMs: number;
}

/** The service side of one started service: report its state. */
export interface ServiceStatusSink {
  setStatus(status: ServiceStatusReport): void;
}

/** What the dispatcher calls: `start` when the SCM starts the service, `control` for each control it sends. */
export interface ServiceCallbacks {
  start(sink: ServiceStatusSink): void;
  /** Handles a control; returns the Win32 code the SCM gets (0, or ERROR_CALL_NOT_IMPLEMENTED 120). */
  control(control: ServiceControl | number): number;
}

/**
 * Connects this process to the SCM (StartServiceCtrlDispatcherW) and resolves once the service has
 * reported `stopped` and the dispatcher returned. Rejects with Win32Error 1063
 * (ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) when the process was not started by the SCM.
 */
export interface ServiceDispatcher {
  dispatch(name: string, callbacks: ServiceCallbacks): Promise<void>;
}

/** The failure actions of a service: restart after these delays (ms), counts reset after `resetPeriodSec`. */
export interface ServiceFailureActions {
  readonly restartDelaysMs: readonly number[];
  readonly resetPeriodSec: number;
}

/** A service as `oma service install` creates it. */
export interface ServiceSpec {
  readonly name: string;
  readonly displayName: string;
  readonly description: string;
  /** The command line the SCM runs: quoted executable and arguments. */
  readonly binaryPath: string;
  /** `automatic` starts at boot (delayed when `delayedStart`); `manual` on demand. */
  readonly startType: 'automatic' | 'manual';
  readonly delayedStart: boolean;
  /** The account: undefined for LocalSystem, else `NT AUTHORITY\NetworkService`, `.\user`, `DOMAIN\gMSA$`. */
  readonly account?: string;
  readonly password?: string;
  readonly failureActions: ServiceFailureActions;
  /** How long the SCM waits for the service after a PRESHUTDOWN control (ms). */
  readonly preshutdownTimeoutMs: number;
}

/** A service's status as the SCM tells it. */
export interface ServiceQuery {
  readonly state: ServiceState;
  readonly pid: number;
  readonly win32ExitCode: number;
  readonly serviceSpecificExitCode: number;
}

/** The admin side of the SCM. Failures throw Win32Error (`call`, `win32`). */
export interface ServiceControlManager {
  /**
   * Creates the service and sets its description, delayed start, failure actions and preshutdown
   * timeout. Returns the settings this SCM does not take (Wine's lacks delayed start, say); a failure
   * after the creation deletes the service again.
   */
  install(spec: ServiceSpec): string[];
  /** Marks the service for deletion (it goes once stopped and every handle is closed). */
  uninstall(name: string): void;
  start(name: string): void;
  /** Sends SERVICE_CONTROL_STOP; the service then reports stop_pending and stopped. */
  stop(name: string): void;
  /** The service's status, or undefined when there is no such service. */
  query(name: string): ServiceQuery | undefined;
}

/** The Windows event log writer (RegisterEventSourceW / ReportEventW) behind a port. */
export interface EventLogWriter {
  /** Writes one event; throws Win32Error on failure. */
  report(type: 'error' | 'warning' | 'information', eventId: number, message: string): void;
  close(): void;
}

/** Registers and removes an event source (HKLM\SYSTEM\CurrentControlSet\Services\EventLog\<log>\<source>). */
export interface EventSourceRegistry {
  register(log: string, source: string, messageFile: string): void;
  unregister(log: string, source: string): void;
}

/** winsvc.h's numbers for the states and controls. */
export const STATE_CODES: Readonly<Record<ServiceState, number>> = {
  stopped: 1,
  start_pending: 2,
  stop_pending: 3,
  running: 4,
  continue_pending: 5,
  pause_pending: 6,
  paused: 7,
};

export const CONTROL_CODES: Readonly<Record<ServiceControl, number>> = { stop: 1, interrogate: 4, shutdown: 5, preshutdown: 0xf };

export const ACCEPT_CODES: Readonly<Record<Exclude<ServiceControl, 'interrogate'>, number>> = { stop: 0x1, shutdown: 0x4, preshutdown: 0x100 };

/** The state for a winsvc.h number (unknown numbers read as stopped). */
export function stateOf(code: number): ServiceState {
  for (const [name, n] of Object.entries(STATE_CODES)) if (n === code) return name as ServiceState;
  return 'stopped';
}

/** The control for a winsvc.h number, or the number itself when OMA does not handle it. */
export function controlOf(code: number): ServiceControl | number {
  for (const [name, n] of Object.entries(CONTROL_CODES)) if (n === code) return name as ServiceControl;
  return code;
}
