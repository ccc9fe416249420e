/**
 * advapi32.dll as the Windows service uses it: the Service Control Manager (create, configure, start,
 * stop, query, delete a service), the service side of it (the control dispatcher, the control handler,
 * status reports), the event log writer (RegisterEventSourceW / ReportEventW) and the few registry calls
 * that register an event source. Declared once, loaded lazily on first use; koffi is imported only then.
 */
import type * as Koffi from 'koffi';
import { loadLibrary, requireKoffi, type KoffiModule } from './load.js';

export { requireKoffi, type KoffiModule } from './load.js';
type KoffiFunction = ReturnType<Koffi.LibraryHandle['func']>;

/** Service types, start types, states, controls and config levels (winsvc.h, winnt.h). */
export const SERVICE = {
  WIN32_OWN_PROCESS: 0x10,
  AUTO_START: 2,
  DEMAND_START: 3,
  ERROR_NORMAL: 1,
  STOPPED: 1,
  START_PENDING: 2,
  STOP_PENDING: 3,
  RUNNING: 4,
  CONTINUE_PENDING: 5,
  PAUSE_PENDING: 6,
  PAUSED: 7,
  ACCEPT_STOP: 0x1,
  ACCEPT_SHUTDOWN: 0x4,
  ACCEPT_PRESHUTDOWN: 0x100,
  CONTROL_STOP: 1,
  CONTROL_INTERROGATE: 4,
  CONTROL_SHUTDOWN: 5,
  CONTROL_PRESHUTDOWN: 0xf,
  CONFIG_DESCRIPTION: 1,
  CONFIG_FAILURE_ACTIONS: 2,
  CONFIG_DELAYED_AUTO_START_INFO: 3,
  CONFIG_FAILURE_ACTIONS_FLAG: 4,
  CONFIG_PRESHUTDOWN_INFO: 7,
  SC_ACTION_NONE: 0,
  SC_ACTION_RESTART: 1,
  SC_STATUS_PROCESS_INFO: 0,
  NO_CHANGE: 0xffffffff,
} as const;

/** Access rights (winsvc.h, winnt.h). */
export const ACCESS = {
  SC_MANAGER_CONNECT: 0x1,
  SC_MANAGER_CREATE_SERVICE: 0x2,
  SERVICE_QUERY_STATUS: 0x4,
  SERVICE_START: 0x10,
  SERVICE_STOP: 0x20,
  SERVICE_CHANGE_CONFIG: 0x2,
  SERVICE_ALL_ACCESS: 0xf01ff,
  DELETE: 0x10000,
} as const;

/** Event types of ReportEventW (winnt.h). */
export const EVENTLOG = {
  ERROR_TYPE: 0x1,
  WARNING_TYPE: 0x2,
  INFORMATION_TYPE: 0x4,
} as const;

/** Registry roots and value types (winreg.h, winnt.h). */
export const REG = {
  /** (HKEY)(ULONG_PTR)(LONG)0x80000002: sign-extended on 64-bit, so passed as a signed intptr_t. */
  HKEY_LOCAL_MACHINE: -0x7ffffffe,
  OPTION_NON_VOLATILE: 0,
  KEY_WRITE: 0x20006,
  KEY_ALL_ACCESS: 0xf003f,
  EXPAND_SZ: 2,
  DWORD: 4,
} as const;

/** Win32 errors the service code tells apart (winerror.h). */
export const SERVICE_ERROR = {
  ACCESS_DENIED: 5,
  FILE_NOT_FOUND: 2,
  SERVICE_REQUEST_TIMEOUT: 1053,
  SERVICE_SPECIFIC_ERROR: 1066,
  SERVICE_ALREADY_RUNNING: 1056,
  SERVICE_DOES_NOT_EXIST: 1060,
  SERVICE_CANNOT_ACCEPT_CTRL: 1061,
  SERVICE_NOT_ACTIVE: 1062,
  FAILED_SERVICE_CONTROLLER_CONNECT: 1063,
  SERVICE_MARKED_FOR_DELETE: 1072,
  SERVICE_EXISTS: 1073,
} as const;

/** SERVICE_STATUS as a JS object (koffi encodes and decodes it). */
export interface ServiceStatusStruct {
  dwServiceType: number;
  dwCurrentState: number;
  dwControlsAccepted: number;
  dwWin32ExitCode: number;
  dwServiceSpecificExitCode: number;
  dwCheckPoint: number;
  dwWaitHint: number;
}

/** SERVICE_STATUS_PROCESS: SERVICE_STATUS plus the process id and flags. */
export interface ServiceStatusProcessStruct extends ServiceStatusStruct {
  dwProcessId: number;
  dwServiceFlags: number;
}

/** The types this file declares, registered with koffi once (they are also what the tests measure). */
export interface Advapi32Types {
  readonly SERVICE_STATUS: Koffi.TypeObject;
  readonly SERVICE_STATUS_PROCESS: Koffi.TypeObject;
  readonly SERVICE_TABLE_ENTRYW: Koffi.TypeObject;
  readonly SERVICE_DESCRIPTIONW: Koffi.TypeObject;
  readonly SC_ACTION: Koffi.TypeObject;
  readonly SERVICE_FAILURE_ACTIONSW: Koffi.TypeObject;
  readonly SERVICE_FAILURE_ACTIONS_FLAG: Koffi.TypeObject;
  readonly SERVICE_DELAYED_AUTO_START_INFO: Koffi.TypeObject;
  readonly SERVICE_PRESHUTDOWN_INFO: Koffi.TypeObject;
  readonly ServiceMainW: Koffi.TypeObject;
  readonly HandlerEx: Koffi.TypeObject;
}

let types: Advapi32Types | undefined;

/** Declares advapi32's structs, handles and callback types (once per process; koffi names are global). */
export function advapi32Types(koffi: KoffiModule = requireKoffi()): Advapi32Types {
  if (types) return types;
  koffi.pointer('SC_HANDLE', koffi.opaque('SC_HANDLE__'));
  koffi.pointer('SERVICE_STATUS_HANDLE', koffi.opaque('SERVICE_STATUS_HANDLE__'));
  koffi.pointer('EVENTLOG_HANDLE', koffi.opaque('EVENTLOG_HANDLE__'));
  koffi.pointer('HKEY', koffi.opaque('HKEY__'));
  const SERVICE_STATUS = koffi.struct('SERVICE_STATUS', {
    dwServiceType: 'uint32',
    dwCurrentState: 'uint32',
    dwControlsAccepted: 'uint32',
    dwWin32ExitCode: 'uint32',
    dwServiceSpecificExitCode: 'uint32',
    dwCheckPoint: 'uint32',
    dwWaitHint: 'uint32',
  });
  const SERVICE_STATUS_PROCESS = koffi.struct('SERVICE_STATUS_PROCESS', {
    dwServiceType: 'uint32',
    dwCurrentState: 'uint32',
    dwControlsAccepted: 'uint32',
    dwWin32ExitCode: 'uint32',
    dwServiceSpecificExitCode: 'uint32',
    dwCheckPoint: 'uint32',
    dwWaitHint: 'uint32',
    dwProcessId: 'uint32',
    dwServiceFlags: 'uint32',
  });
  const ServiceMainW = koffi.proto('void __stdcall ServiceMainW(uint32 dwNumServicesArgs, void *lpServiceArgVectors)');
  const HandlerEx = koffi.proto('uint32 __stdcall HandlerEx(uint32 dwControl, uint32 dwEventType, void *lpEventData, void *lpContext)');
  const SERVICE_TABLE_ENTRYW = koffi.struct('SERVICE_TABLE_ENTRYW', {
    lpServiceName: 'const char16_t *',
    lpServiceProc: 'ServiceMainW *',
  });
  const SERVICE_DESCRIPTIONW = koffi.struct('SERVICE_DESCRIPTIONW', { lpDescription: 'const char16_t *' });
  const SC_ACTION = koffi.struct('SC_ACTION', { Type: 'int32', Delay: 'uint32' });
  const SERVICE_FAILURE_ACTIONSW = koffi.struct('SERVICE_FAILURE_ACTIONSW', {
    dwResetPeriod: 'uint32',
    lpRebootMsg: 'const char16_t *',
    lpCommand: 'const char16_t *',
    cActions: 'uint32',
    lpsaActions: 'SC_ACTION *',
  });
  const SERVICE_FAILURE_ACTIONS_FLAG = koffi.struct('SERVICE_FAILURE_ACTIONS_FLAG', { fFailureActionsOnNonCrashFailures: 'int32' });
  const SERVICE_DELAYED_AUTO_START_INFO = koffi.struct('SERVICE_DELAYED_AUTO_START_INFO', { fDelayedAutostart: 'int32' });
  const SERVICE_PRESHUTDOWN_INFO = koffi.struct('SERVICE_PRESHUTDOWN_INFO', { dwPreshutdownTimeout: 'uint32' });
  types = {
    SERVICE_STATUS,
    SERVICE_STATUS_PROCESS,
    SERVICE_TABLE_ENTRYW,
    SERVICE_DESCRIPTIONW,
    SC_ACTION,
    SERVICE_FAILURE_ACTIONSW,
    SERVICE_FAILURE_ACTIONS_FLAG,
    SERVICE_DELAYED_AUTO_START_INFO,
    SERVICE_PRESHUTDOWN_INFO,
    ServiceMainW,
    HandlerEx,
  };
  return types;
}

/** Every advapi32 function the service calls, as koffi prototype strings (`__stdcall`, `...W` entry points). */
export const ADVAPI32_PROTOTYPES = {
  OpenSCManagerW:
    'SC_HANDLE __stdcall OpenSCManagerW(const char16_t *lpMachineName, const char16_t *lpDatabaseName, uint32 dwDesiredAccess)',
  CreateServiceW:
    'SC_HANDLE __stdcall CreateServiceW(SC_HANDLE hSCManager, const char16_t *lpServiceName, const char16_t *lpDisplayName, uint32 dwDesiredAccess, uint32 dwServiceType, uint32 dwStartType, uint32 dwErrorControl, const char16_t *lpBinaryPathName, const char16_t *lpLoadOrderGroup, void *lpdwTagId, const char16_t *lpDependencies, const char16_t *lpServiceStartName, const char16_t *lpPassword)',
  OpenServiceW:
    'SC_HANDLE __stdcall OpenServiceW(SC_HANDLE hSCManager, const char16_t *lpServiceName, uint32 dwDesiredAccess)',
  DeleteService:
    'bool __stdcall DeleteService(SC_HANDLE hService)',
  StartServiceW:
    'bool __stdcall StartServiceW(SC_HANDLE hService, uint32 dwNumServiceArgs, void *lpServiceArgVectors)',
  ControlService:
    'bool __stdcall ControlService(SC_HANDLE hService, uint32 dwControl, _Out_ SERVICE_STATUS *lpServiceStatus)',
  QueryServiceStatusEx:
    'bool __stdcall QueryServiceStatusEx(SC_HANDLE hService, int32 InfoLevel, _Out_ SERVICE_STATUS_PROCESS *lpBuffer, uint32 cbBufSize, _Out_ uint32 *pcbBytesNeeded)',
  ChangeServiceConfig2W:
    'bool __stdcall ChangeServiceConfig2W(SC_HANDLE hService, uint32 dwInfoLevel, void *lpInfo)',
  CloseServiceHandle:
    'bool __stdcall CloseServiceHandle(SC_HANDLE hSCObject)',
  StartServiceCtrlDispatcherW:
    'bool __stdcall StartServiceCtrlDispatcherW(const SERVICE_TABLE_ENTRYW *lpServiceStartTable)',
  RegisterServiceCtrlHandlerExW:
    'SERVICE_STATUS_HANDLE __stdcall RegisterServiceCtrlHandlerExW(const char16_t *lpServiceName, HandlerEx *lpHandlerProc, void *lpContext)',
  SetServiceStatus:
    'bool __stdcall SetServiceStatus(SERVICE_STATUS_HANDLE hServiceStatus, const SERVICE_STATUS *lpServiceStatus)',
  RegisterEventSourceW:
    'EVENTLOG_HANDLE __stdcall RegisterEventSourceW(const char16_t *lpUNCServerName, const char16_t *lpSourceName)',
  ReportEventW:
    'bool __stdcall ReportEventW(EVENTLOG_HANDLE hEventLog, uint16 wType, uint16 wCategory, uint32 dwEventID, void *lpUserSid, uint16 wNumStrings, uint32 dwDataSize, const char16_t **lpStrings, void *lpRawData)',
  DeregisterEventSource:
    'bool __stdcall DeregisterEventSource(EVENTLOG_HANDLE hEventLog)',
  RegCreateKeyExW:
    'int32 __stdcall RegCreateKeyExW(intptr_t hKey, const char16_t *lpSubKey, uint32 Reserved, const char16_t *lpClass, uint32 dwOptions, uint32 samDesired, void *lpSecurityAttributes, _Out_ HKEY *phkResult, _Out_ uint32 *lpdwDisposition)',
  RegSetValueExW:
    'int32 __stdcall RegSetValueExW(HKEY hKey, const char16_t *lpValueName, uint32 Reserved, uint32 dwType, const uint8_t *lpData, uint32 cbData)',
  RegDeleteTreeW:
    'int32 __stdcall RegDeleteTreeW(intptr_t hKey, const char16_t *lpSubKey)',
  RegCloseKey:
    'int32 __stdcall RegCloseKey(HKEY hKey)',
  ConvertStringSidToSidW:
    'bool __stdcall ConvertStringSidToSidW(const char16_t *StringSid, _Out_ void **Sid)',
  LookupAccountSidW:
    'bool __stdcall LookupAccountSidW(const char16_t *lpSystemName, void *Sid, _Out_ uint8_t *Name, _Inout_ uint32 *cchName, _Out_ uint8_t *ReferencedDomainName, _Inout_ uint32 *cchReferencedDomainName, _Out_ int32 *peUse)',
} as const;

export type Advapi32Name = keyof typeof ADVAPI32_PROTOTYPES;

/** The advapi32 functions, as koffi calls them. Handles are BigInt (koffi 3); null is NULL. */
export type Advapi32 = { readonly koffi: KoffiModule; readonly types: Advapi32Types } & { readonly [K in Advapi32Name]: KoffiFunction };

let advapi32: Advapi32 | undefined;

/** Loads advapi32.dll and declares what the service uses (once). Off Windows, or without koffi: OMA_ERR_NATIVE_LOAD. */
export function loadAdvapi32(): Advapi32 {
  if (advapi32) return advapi32;
  const { koffi, lib } = loadLibrary('advapi32');
  const t = advapi32Types(koffi);
  const fns = Object.fromEntries(Object.entries(ADVAPI32_PROTOTYPES).map(([name, proto]) => [name, lib.func(proto)])) as Record<Advapi32Name, KoffiFunction>;
  advapi32 = { koffi, types: t, ...fns };
  return advapi32;
}
