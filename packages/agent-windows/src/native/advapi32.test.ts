import { describe, expect, it } from 'vitest';
import { statusStruct } from '../service/scm.js';
import { ADVAPI32_PROTOTYPES, advapi32Types, loadAdvapi32, requireKoffi } from './advapi32.js';
import { loadKernel32 } from './kernel32.js';

function catchCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

// koffi's own binary for this OS parses the declarations and lays out the structs, so they are checked
// here; only the DLL itself needs Windows.
describe('advapi32 declarations', () => {
  const koffi = requireKoffi();
  const t = advapi32Types(koffi);

  it('lays the structs out as winsvc.h does on 64-bit Windows', () => {
    expect(koffi.sizeof(t.SERVICE_STATUS)).toBe(28);
    expect(koffi.sizeof(t.SERVICE_STATUS_PROCESS)).toBe(36);
    expect(koffi.sizeof(t.SC_ACTION)).toBe(8);
    if (process.arch === 'x64' || process.arch === 'arm64') {
      expect(koffi.sizeof(t.SERVICE_TABLE_ENTRYW)).toBe(16);
      expect(koffi.sizeof(t.SERVICE_FAILURE_ACTIONSW)).toBe(40);
      expect(koffi.offsetof(t.SERVICE_FAILURE_ACTIONSW, 'lpRebootMsg')).toBe(8);
      expect(koffi.offsetof(t.SERVICE_FAILURE_ACTIONSW, 'cActions')).toBe(24);
      expect(koffi.offsetof(t.SERVICE_FAILURE_ACTIONSW, 'lpsaActions')).toBe(32);
    }
    expect(koffi.sizeof(t.SERVICE_DELAYED_AUTO_START_INFO)).toBe(4);
    expect(koffi.sizeof(t.SERVICE_PRESHUTDOWN_INFO)).toBe(4);
  });

  it('declares every function with a prototype koffi parses, stdcall and wide-character', () => {
    expect(Object.keys(ADVAPI32_PROTOTYPES).sort()).toEqual(
      [
        'ChangeServiceConfig2W',
        'CloseServiceHandle',
        'ControlService',
        'ConvertStringSidToSidW',
        'CreateServiceW',
        'DeleteService',
        'DeregisterEventSource',
        'LookupAccountSidW',
        'OpenSCManagerW',
        'OpenServiceW',
        'QueryServiceStatusEx',
        'RegCloseKey',
        'RegCreateKeyExW',
        'RegDeleteTreeW',
        'RegSetValueExW',
        'RegisterEventSourceW',
        'RegisterServiceCtrlHandlerExW',
        'ReportEventW',
        'SetServiceStatus',
        'StartServiceCtrlDispatcherW',
        'StartServiceW',
      ].sort(),
    );
    for (const [name, proto] of Object.entries(ADVAPI32_PROTOTYPES)) {
      expect(proto).toContain('__stdcall');
      expect(proto).not.toMatch(/\bchar \*/);
      expect(koffi.proto(proto).proto?.arguments.length, name).toBeGreaterThan(0);
    }
    expect(t.HandlerEx.proto?.arguments).toHaveLength(4);
    expect(t.ServiceMainW.proto?.arguments).toHaveLength(2);
  });

  it('encodes a status report as SERVICE_STATUS', () => {
    expect(statusStruct({ state: 'running', accepts: ['stop', 'preshutdown', 'shutdown'], win32ExitCode: 0, serviceSpecificExitCode: 0, checkPoint: 0, waitHintMs: 0 })).toEqual({
      dwServiceType: 0x10,
      dwCurrentState: 4,
      dwControlsAccepted: 0x105,
      dwWin32ExitCode: 0,
      dwServiceSpecificExitCode: 0,
      dwCheckPoint: 0,
      dwWaitHint: 0,
    });
    expect(statusStruct({ state: 'stopped', accepts: [], win32ExitCode: 1066, serviceSpecificExitCode: 2, checkPoint: 0, waitHintMs: 0 })).toMatchObject({
      dwCurrentState: 1,
      dwWin32ExitCode: 1066,
      dwServiceSpecificExitCode: 2,
    });
  });

  it.skipIf(process.platform === 'win32')('refuses to load the DLLs off Windows with OMA_ERR_NATIVE_LOAD (skipped on Windows: they load there)', () => {
    expect(() => loadAdvapi32()).toThrow(/need Windows/);
    expect(catchCode(() => loadAdvapi32())).toBe('OMA_ERR_NATIVE_LOAD');
    expect(catchCode(() => loadKernel32())).toBe('OMA_ERR_NATIVE_LOAD');
  });
});
