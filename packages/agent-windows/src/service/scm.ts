/**
 * The real service ports over advapi32.dll (koffi): the SCM's admin side, the service dispatcher, the
 * event log writer and the event source registry. Handles are closed in `finally` blocks, never left to GC.
 */
import { Win32Error } from '@oma/core';
import { ACCESS, EVENTLOG, loadAdvapi32, REG, SERVICE, type Advapi32, type ServiceStatusProcessStruct, type ServiceStatusStruct } from '../native/advapi32.js';
import { lastError } from '../native/kernel32.js';
import { ACCEPT_CODES, controlOf, STATE_CODES, stateOf } from './service-port.js';
import type {
  EventLogWriter,
  EventSourceRegistry,
  ServiceControlManager,
  ServiceDispatcher,
  ServiceQuery,
  ServiceSpec,
  ServiceStatusReport,
} from './service-port.js';

type Handle = bigint | null;

/** Calls `fn` with an open SCM handle and closes it after. */
function withManager<T>(api: Advapi32, access: number, fn: (scm: Handle) => T): T {
  const scm = api.OpenSCManagerW(null, null, access) as Handle;
  if (!scm) throw lastError('OpenSCManagerW');
  try {
    return fn(scm);
  } finally {
    api.CloseServiceHandle(scm);
  }
}

function withService<T>(api: Advapi32, name: string, access: number, fn: (svc: Handle) => T): T {
  return withManager(api, ACCESS.SC_MANAGER_CONNECT, (scm) => {
    const svc = api.OpenServiceW(scm, name, access) as Handle;
    if (!svc) throw lastError('OpenServiceW');
    try {
      return fn(svc);
    } finally {
      api.CloseServiceHandle(svc);
    }
  });
}

function configure(api: Advapi32, svc: Handle, level: number, type: string, info: unknown): void {
  if (!api.ChangeServiceConfig2W(svc, level, api.koffi.as(info, `${type} *`))) throw lastError('ChangeServiceConfig2W');
}

/** ERROR_INVALID_LEVEL: the SCM does not know this ChangeServiceConfig2W level (Wine lacks some). */
const ERROR_INVALID_LEVEL = 124;

/**
 * Applies the settings of a service just created, one ChangeServiceConfig2W level each (`change`):
 * description, delayed start, failure actions, restart also on non-crash failures, preshutdown
 * timeout. Delayed start and the non-crash flag are refinements: an SCM that does not know their level
 * (ERROR_INVALID_LEVEL) leaves them out, and their names are returned. Any other failure deletes the
 * service (`remove`) and is thrown: a failed install leaves no half-configured service behind.
 */
export function configureNewService(spec: ServiceSpec, change: (level: number, type: string, info: unknown) => void, remove: () => void): string[] {
  const notApplied: string[] = [];
  const optional = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof Win32Error && err.win32 === ERROR_INVALID_LEVEL)) throw err;
      notApplied.push(what);
    }
  };
  try {
    change(SERVICE.CONFIG_DESCRIPTION, 'SERVICE_DESCRIPTIONW', { lpDescription: spec.description });
    if (spec.startType === 'automatic') {
      optional('delayed start', () => change(SERVICE.CONFIG_DELAYED_AUTO_START_INFO, 'SERVICE_DELAYED_AUTO_START_INFO', { fDelayedAutostart: spec.delayedStart ? 1 : 0 }));
    }
    const actions = spec.failureActions.restartDelaysMs.map((Delay) => ({ Type: SERVICE.SC_ACTION_RESTART, Delay }));
    change(SERVICE.CONFIG_FAILURE_ACTIONS, 'SERVICE_FAILURE_ACTIONSW', {
      dwResetPeriod: spec.failureActions.resetPeriodSec,
      lpRebootMsg: null,
      lpCommand: null,
      cActions: actions.length,
      lpsaActions: actions,
    });
    // Restart also when the service stops itself with an error, not only when the process dies.
    optional('restart after a failed start', () => change(SERVICE.CONFIG_FAILURE_ACTIONS_FLAG, 'SERVICE_FAILURE_ACTIONS_FLAG', { fFailureActionsOnNonCrashFailures: 1 }));
    change(SERVICE.CONFIG_PRESHUTDOWN_INFO, 'SERVICE_PRESHUTDOWN_INFO', { dwPreshutdownTimeout: spec.preshutdownTimeoutMs });
  } catch (err) {
    try {
      remove();
    } catch {
      // the error that matters is the first one
    }
    throw err;
  }
  return notApplied;
}

/** The Service Control Manager of this machine. */
export function createServiceControlManager(): ServiceControlManager {
  const api = loadAdvapi32();
  return {
    install(spec: ServiceSpec): string[] {
      return withManager(api, ACCESS.SC_MANAGER_CONNECT | ACCESS.SC_MANAGER_CREATE_SERVICE, (scm) => {
        const svc = api.CreateServiceW(
          scm,
          spec.name,
          spec.displayName,
          ACCESS.SERVICE_ALL_ACCESS,
          SERVICE.WIN32_OWN_PROCESS,
          spec.startType === 'automatic' ? SERVICE.AUTO_START : SERVICE.DEMAND_START,
          SERVICE.ERROR_NORMAL,
          spec.binaryPath,
          null,
          null,
          null,
          spec.account ?? null,
          spec.password ?? null,
        ) as Handle;
        if (!svc) throw lastError('CreateServiceW');
        try {
          return configureNewService(spec, (level, type, info) => configure(api, svc, level, type, info), () => void api.DeleteService(svc));
        } finally {
          api.CloseServiceHandle(svc);
        }
      });
    },
    uninstall(name: string): void {
      withService(api, name, ACCESS.DELETE, (svc) => {
        if (!api.DeleteService(svc)) throw lastError('DeleteService');
      });
    },
    start(name: string): void {
      withService(api, name, ACCESS.SERVICE_START, (svc) => {
        if (!api.StartServiceW(svc, 0, null)) throw lastError('StartServiceW');
      });
    },
    stop(name: string): void {
      withService(api, name, ACCESS.SERVICE_STOP, (svc) => {
        const status = {} as ServiceStatusStruct;
        if (!api.ControlService(svc, SERVICE.CONTROL_STOP, status)) throw lastError('ControlService');
      });
    },
    query(name: string): ServiceQuery | undefined {
      try {
        return withService(api, name, ACCESS.SERVICE_QUERY_STATUS, (svc) => {
          const s = {} as ServiceStatusProcessStruct;
          const needed = [0];
          if (!api.QueryServiceStatusEx(svc, SERVICE.SC_STATUS_PROCESS_INFO, s, api.koffi.sizeof(api.types.SERVICE_STATUS_PROCESS), needed)) {
            throw lastError('QueryServiceStatusEx');
          }
          return { state: stateOf(s.dwCurrentState), pid: s.dwProcessId, win32ExitCode: s.dwWin32ExitCode, serviceSpecificExitCode: s.dwServiceSpecificExitCode };
        });
      } catch (err) {
        if (err instanceof Win32Error && err.win32 === 1060) return undefined;
        throw err;
      }
    },
  };
}

/** SERVICE_STATUS for a report. */
export function statusStruct(s: ServiceStatusReport): ServiceStatusStruct {
  return {
    dwServiceType: SERVICE.WIN32_OWN_PROCESS,
    dwCurrentState: STATE_CODES[s.state],
    dwControlsAccepted: s.accepts.reduce((acc, c) => acc | ACCEPT_CODES[c], 0),
    dwWin32ExitCode: s.win32ExitCode,
    dwServiceSpecificExitCode: s.serviceSpecificExitCode,
    dwCheckPoint: s.checkPoint,
    dwWaitHint: s.waitHintMs,
  };
}

/**
 * The real dispatcher. StartServiceCtrlDispatcherW blocks its thread until the service stops, so it is
 * called through koffi's `.async` (one worker thread for the service's life). The SCM calls ServiceMain
 * on a thread of its own and HandlerEx on the dispatcher's thread; both are registered koffi callbacks,
 * which koffi queues to the JS thread (the JS thread never waits for them). ServiceMain registers the
 * handler, hands the status handle to `callbacks.start` and returns; the agent runs on the JS thread.
 */
export function createServiceDispatcher(): ServiceDispatcher {
  const api = loadAdvapi32();
  return {
    dispatch(name, callbacks): Promise<void> {
      const { koffi, types } = api;
      let handler: bigint | undefined;
      const onControl = (control: number): number => {
        try {
          return callbacks.control(controlOf(control));
        } catch {
          return 0;
        }
      };
      const onMain = (): void => {
        try {
          handler = koffi.register(onControl, koffi.pointer(types.HandlerEx));
          const h = api.RegisterServiceCtrlHandlerExW(name, handler, null) as Handle;
          if (!h) {
            // Without a status handle the SCM cannot be told anything; it times the start out (1053).
            return;
          }
          callbacks.start({
            setStatus: (s) => {
              if (!api.SetServiceStatus(h, statusStruct(s))) throw lastError('SetServiceStatus');
            },
          });
        } catch {
          // An exception must not cross into the SCM's thread; the start times out and is logged by Windows.
        }
      };
      const main = koffi.register(onMain, koffi.pointer(types.ServiceMainW));
      const table = [
        { lpServiceName: name, lpServiceProc: main },
        { lpServiceName: null, lpServiceProc: null },
      ];
      return new Promise<void>((resolve, reject) => {
        api.StartServiceCtrlDispatcherW.async(table, (err: unknown, ok: boolean) => {
          // The error is read on the JS thread: GetLastError of the worker thread is gone by now, so a
          // failure here is reported as the only one that happens in practice (not started by the SCM).
          koffi.unregister(main);
          if (handler !== undefined) koffi.unregister(handler);
          if (err) reject(err instanceof Error ? err : new Error('StartServiceCtrlDispatcherW failed'));
          else if (!ok) reject(new Win32Error('StartServiceCtrlDispatcherW', 1063, 'not started by the service control manager'));
          else resolve();
        });
      });
    },
  };
}

const EVENT_TYPES = { error: EVENTLOG.ERROR_TYPE, warning: EVENTLOG.WARNING_TYPE, information: EVENTLOG.INFORMATION_TYPE } as const;

/** Writes events as `source` into the log the source is registered under (Application for OMA). */
export function createEventLogWriter(source: string): EventLogWriter {
  const api = loadAdvapi32();
  let h = api.RegisterEventSourceW(null, source) as Handle;
  if (!h) throw lastError('RegisterEventSourceW');
  return {
    report(type, eventId, message): void {
      if (!h) return;
      if (!api.ReportEventW(h, EVENT_TYPES[type], 0, eventId, null, 1, 0, [message], null)) throw lastError('ReportEventW');
    },
    close(): void {
      if (h) api.DeregisterEventSource(h);
      h = null;
    },
  };
}

const EVENTLOG_KEY = 'SYSTEM\\CurrentControlSet\\Services\\EventLog';

/** Event sources in HKLM\SYSTEM\CurrentControlSet\Services\EventLog (administrators only). */
export function createEventSourceRegistry(): EventSourceRegistry {
  const api = loadAdvapi32();
  const check = (call: string, rc: number): void => {
    if (rc !== 0) throw new Win32Error(call, rc);
  };
  return {
    register(log, source, messageFile): void {
      const key = [null] as unknown[];
      check('RegCreateKeyExW', api.RegCreateKeyExW(REG.HKEY_LOCAL_MACHINE, `${EVENTLOG_KEY}\\${log}\\${source}`, 0, null, REG.OPTION_NON_VOLATILE, REG.KEY_WRITE, null, key, [0]) as number);
      const hkey = key[0];
      try {
        const file = Buffer.from(`${messageFile}\0`, 'utf16le');
        check('RegSetValueExW', api.RegSetValueExW(hkey, 'EventMessageFile', 0, REG.EXPAND_SZ, file, file.length) as number);
        const types = Buffer.alloc(4);
        types.writeUInt32LE(EVENTLOG.ERROR_TYPE | EVENTLOG.WARNING_TYPE | EVENTLOG.INFORMATION_TYPE);
        check('RegSetValueExW', api.RegSetValueExW(hkey, 'TypesSupported', 0, REG.DWORD, types, 4) as number);
      } finally {
        api.RegCloseKey(hkey);
      }
    },
    unregister(log, source): void {
      const rc = api.RegDeleteTreeW(REG.HKEY_LOCAL_MACHINE, `${EVENTLOG_KEY}\\${log}\\${source}`) as number;
      if (rc !== 0 && rc !== 2) throw new Win32Error('RegDeleteTreeW', rc);
    },
  };
}
